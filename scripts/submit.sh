#!/usr/bin/env bash
# Submit one of this project's jobs to a Spark master with spark-submit.
#
#   scripts/submit.sh [options] jobs/segment.py --config FILE [--set KEY=VALUE ...]
#   scripts/submit.sh [options] jobs/build_features.py --config FILE [--set ...]
#
# Options (before the job script; everything after it goes to the job):
#   --master URL              default: $SPARK_MASTER_URL, else the URL of the cluster
#                             scripts/cluster.sh started (${SEGMENT_CLUSTER_DIR}/master.url)
#   --executor-memory M       default 1g (must fit in a worker's --memory)
#   --driver-memory M         default 1g; with a local[...] master half the RAM (the driver
#                             is the executor there, as in `segment run`)
#   --total-executor-cores N  default: all the cores the cluster offers
#   --python PATH             the Python executors AND the driver run (default: the
#                             python-env that scripts/package.sh builds: the dependencies
#                             without this project, so `segmentation` comes from the zip)
#   --conf KEY=VALUE          any Spark setting (repeatable)
#   --no-package              reuse the zip and python-env already built
#
# Steps: scripts/package.sh builds ${SEGMENT_BUILD_DIR:-build/submit}/segmentation.zip and
# the python-env; spark-submit (the venv's pyspark) then runs the job in client mode with
# the zip on --py-files, spark.pyspark.python / spark.pyspark.driver.python pinned, and all
# traffic on 127.0.0.1. Relative paths in the config resolve against the current directory.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${SEGMENT_PYTHON:-$ROOT/.venv/bin/python}"
BUILD="${SEGMENT_BUILD_DIR:-$ROOT/build/submit}"
STATE="${SEGMENT_CLUSTER_DIR:-/tmp/segment-cluster}"
HOST=127.0.0.1

die() { echo "submit.sh: $*" >&2; exit 2; }

master="${SPARK_MASTER_URL:-}"
executor_memory=1g
driver_memory=""
total_cores=""
python=""
package=1
confs=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --master) master="$2"; shift 2 ;;
    --executor-memory) executor_memory="$2"; shift 2 ;;
    --driver-memory) driver_memory="$2"; shift 2 ;;
    --total-executor-cores) total_cores="$2"; shift 2 ;;
    --python) python="$2"; shift 2 ;;
    --conf) confs+=(--conf "$2"); shift 2 ;;
    --no-package) package=0; shift ;;
    -h|--help) sed -n '2,23p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1 (options go before the job script)" ;;
    *) break ;;
  esac
done
[[ $# -ge 1 ]] || die "no job script given (e.g. jobs/segment.py --config conf/default.yaml)"
job="$1"
shift
if [[ ! -f "$job" && -f "$ROOT/$job" ]]; then
  job="$ROOT/$job"
fi
[[ -f "$job" ]] || die "job script $job not found"
if [[ -z "$master" ]]; then
  [[ -f "$STATE/master.url" ]] || die "no --master given and no cluster running from $STATE (scripts/cluster.sh start)"
  master="$(<"$STATE/master.url")"
fi

[[ -x "$PY" ]] || die "no Python at $PY (set SEGMENT_PYTHON)"
if [[ -z "$driver_memory" ]]; then
  if [[ "$master" == local* ]]; then
    driver_memory="$("$PY" -c 'from segmentation.core.session import local_driver_memory as m; print(m())')"
  else
    driver_memory=1g
  fi
fi
if ((package)); then
  SEGMENT_PYTHON="$PY" SEGMENT_BUILD_DIR="$BUILD" "$ROOT/scripts/package.sh" >/dev/null
fi
BUILD="$(cd "$BUILD" && pwd)"
zip="$BUILD/segmentation.zip"
[[ -f "$zip" ]] || die "$zip missing: run scripts/package.sh (or drop --no-package)"
python="${python:-$BUILD/python-env/bin/python}"
[[ -x "$python" ]] || die "executor Python $python is not executable"

export SPARK_HOME="${SPARK_HOME:-$("$PY" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')}"
export SPARK_LOCAL_IP=$HOST
# Belt and braces: spark.pyspark.* below win, but nothing may fall back to python3 on PATH.
export PYSPARK_PYTHON="$python"
export PYSPARK_DRIVER_PYTHON="$python"

log4j=()
if [[ -f "$ROOT/conf/log4j2.properties" ]]; then
  opt="-Dlog4j2.configurationFile=file://$ROOT/conf/log4j2.properties"
  log4j=(--driver-java-options "$opt" --conf "spark.executor.extraJavaOptions=$opt")
fi
cores=()
[[ -n "$total_cores" ]] && cores=(--total-executor-cores "$total_cores")

# The command is printed as `set -x` would, but with the values of secret settings (Spark's
# redaction rule: secret|password|token|access.key, also password= inside a JDBC URL) hidden.
redacted() {
  sed -E 's/^([^=]*(secret|password|token|access[.]?key)[^=]*)=.*/\1=*********(redacted)/I;
          s/((secret|password|token|access[.]?key)[^=&;:]*=)[^&; ]+/\1*********(redacted)/Ig' <<<"$1"
}
cmd=("$SPARK_HOME/bin/spark-submit" \
  --master "$master" \
  --deploy-mode client \
  --name "$(basename "$job" .py)" \
  --py-files "$zip" \
  --driver-memory "$driver_memory" \
  --executor-memory "$executor_memory" \
  "${cores[@]}" \
  --conf "spark.pyspark.python=$python" \
  --conf "spark.pyspark.driver.python=$python" \
  --conf "spark.driver.host=$HOST" \
  --conf "spark.driver.bindAddress=$HOST" \
  "${log4j[@]}" \
  "${confs[@]}" \
  "$job" "$@")
printf '+' >&2
for arg in "${cmd[@]}"; do printf ' %q' "$(redacted "$arg")" >&2; done
echo >&2
exec "${cmd[@]}"
