#!/usr/bin/env bash
# Submit one of this project's jobs to a Spark master with spark-submit.
#
#   scripts/submit.sh [options] jobs/segment.py --config FILE [--set KEY=VALUE ...]
#   scripts/submit.sh [options] jobs/build_features.py --config FILE [--set ...]
#
# Options (before the job script; everything after it goes to the job):
#   --master URL              default: $SPARK_MASTER_URL, else the URL of the cluster
#                             scripts/cluster.sh started (${SEGMENT_CLUSTER_DIR}/master.url)
#   --env pinned|packed       how executors get their Python (default: pinned for local[...]
#                             and loopback masters, packed for every other master):
#                             pinned: an interpreter path that exists on every node (--python;
#                               default the python-env scripts/package.sh builds here);
#                             packed: scripts/pack_env.py's archive of the dependencies (no
#                               pyspark, no project), shipped with --archives ENV#environment,
#                               executors run ./environment/bin/python; nodes need only Java,
#                               Spark and a Python of the same minor version at the same path
#   --env-archive PATH|URI    packed, with this archive instead of building one
#   --python PATH             pinned: the Python executors run (must exist on every node)
#   --driver-host ADDR        the address executors use to reach the driver (default: the
#                             one Spark chooses; 127.0.0.1 for local[...] and loopback masters)
#   --deploy-mode client|cluster  default client; cluster only on YARN and Kubernetes (Spark
#                             runs no Python driver inside a standalone cluster)
#   --executor-memory M       default 1g (must fit in a worker's --memory)
#   --driver-memory M         default 1g; with a local[...] master half the RAM (the driver
#                             is the executor there, as in `segment run`)
#   --total-executor-cores N  default: all the cores the cluster offers
#   --conf KEY=VALUE          any Spark setting (repeatable)
#   --connectors NAME,...     load delta, iceberg and/or s3a of the venv's Spark line (jars
#                             fetched by scripts/setup.sh --connectors, shipped with --jars,
#                             and their settings); the job refuses to start without those
#                             its config needs
#   --no-package              reuse the zip and python-env already built
#
# Steps: scripts/package.sh builds ${SEGMENT_BUILD_DIR:-build/submit}/segmentation.zip and
# the python-env (the driver's Python in client mode: the dependencies without this
# project, so `segmentation` comes from the zip); with --env packed, scripts/pack_env.py
# builds env-<hash>.tar.gz there (once per dependency list and Python; SEGMENT_ENV_PYTHON
# chooses the base interpreter). spark-submit (the venv's pyspark) then runs the job with
# the zip on --py-files. Loopback (SPARK_LOCAL_IP, spark.driver.host/bindAddress) is forced
# only for local[...] masters and masters on 127.x/localhost. The command is echoed on
# stderr with the values of --conf keys that look secret (secret, password, token, access
# key) replaced by ***. Relative paths in the config resolve against the current directory.
set -euo pipefail

STATE="${SEGMENT_CLUSTER_DIR:-/tmp/segment-cluster}"
DIE_STATUS=2  # what stops a submission here is a usage error
# shellcheck source=scripts/daemons.sh
source "$(dirname "${BASH_SOURCE[0]}")/daemons.sh"

master="${SPARK_MASTER_URL:-}"
env_mode=""
env_archive=""
python=""
driver_host=""
deploy_mode=client
executor_memory=1g
driver_memory=""
total_cores=""
package=1
confs=()
while [[ $# -gt 0 ]]; do
  [[ "$1" != -* || "$1" == --no-package || "$1" == -h || "$1" == --help || $# -ge 2 ]] \
    || die "$1 needs a value"
  case "$1" in
    --master) master="$2"; shift 2 ;;
    --env) env_mode="$2"; shift 2 ;;
    --env-archive) env_archive="$2"; shift 2 ;;
    --python) python="$2"; shift 2 ;;
    --driver-host) driver_host="$2"; shift 2 ;;
    --deploy-mode) deploy_mode="$2"; shift 2 ;;
    --executor-memory) executor_memory="$2"; shift 2 ;;
    --driver-memory) driver_memory="$2"; shift 2 ;;
    --total-executor-cores) total_cores="$2"; shift 2 ;;
    --conf) confs+=(--conf "$2"); shift 2 ;;
    --connectors)
      mapfile -t extra < <("$PY" -m segmentation.core.connectors "$2") \
        && [[ ${#extra[@]} -gt 0 ]] || die "cannot load connectors $2 (above)"
      confs+=("${extra[@]}"); shift 2 ;;
    --no-package) package=0; shift ;;
    -h|--help) usage 0 ;;
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

# Local mode, or a master on this machine's loopback: keep the driver on loopback too.
loopback=0
case "$master" in
  local|local\[*) loopback=1 ;;
  spark://127.*|spark://localhost:*|spark://localhost) loopback=1 ;;
esac
[[ -n "$env_archive" && -z "$env_mode" ]] && env_mode=packed
if [[ -z "$env_mode" ]]; then
  if ((loopback)); then env_mode=pinned; else env_mode=packed; fi
fi
case "$env_mode" in
  pinned) [[ -z "$env_archive" ]] || die "--env-archive goes with --env packed, not pinned" ;;
  packed) [[ -z "$python" ]] || die "--python goes with --env pinned; packed executors run ./environment/bin/python" ;;
  *) die "--env must be pinned or packed, got '$env_mode'" ;;
esac
case "$deploy_mode" in
  client) ;;
  cluster)
    [[ "$master" == yarn* || "$master" == k8s://* ]] \
      || die "--deploy-mode cluster needs a YARN or Kubernetes master: Spark runs Python drivers on $master only in client mode"
    [[ "$env_mode" == packed ]] || die "--deploy-mode cluster needs --env packed (the driver runs on a node)" ;;
  *) die "--deploy-mode must be client or cluster, got '$deploy_mode'" ;;
esac

need_python
# A standalone master of another Spark line than this venv's pyspark: refused here in one
# line naming both versions (the master's web UI tells its version: --conf
# spark.master.ui.port, the port scripts/cluster.sh chose for its master, else 8080).
if [[ "$master" == spark://* ]]; then
  ui_port=8080
  if [[ "$master" == "$(cat "$STATE/master.url" 2>/dev/null)" ]]; then
    ui_port="$(<"$STATE/webui-port")"
  fi
  for conf in "${confs[@]}"; do
    if [[ "$conf" == spark.master.ui.port=* ]]; then ui_port="${conf#*=}"; fi
  done
  "$PY" -m segmentation.core.sparkversion "$master" "$ui_port" || exit 2
fi
driver_memory="${driver_memory:-$(driver_memory_for "$master")}"
if ((package)); then
  SEGMENT_PYTHON="$PY" SEGMENT_BUILD_DIR="$BUILD" "$ROOT/scripts/package.sh" >/dev/null
fi
BUILD="$(cd "$BUILD" && pwd)"
zip="$BUILD/segmentation.zip"
[[ -f "$zip" ]] || die "$zip missing: run scripts/package.sh (or drop --no-package)"
# The driver's Python in client mode (the submitting machine has the python-env).
driver_python="$BUILD/python-env/bin/python"
[[ -x "$driver_python" ]] || die "driver Python $driver_python is not executable: run scripts/package.sh"

archives=()
if [[ "$env_mode" == packed ]]; then
  if [[ -z "$env_archive" ]]; then
    env_archive="$(SEGMENT_BUILD_DIR="$BUILD" "$PY" "$ROOT/scripts/pack_env.py")" \
      || die "could not pack the executors' environment (see above)"
  fi
  [[ "$env_archive" == *://* || -f "$env_archive" ]] || die "environment archive $env_archive not found"
  archives=(--archives "$env_archive#environment")
  python=./environment/bin/python
else
  python="${python:-$BUILD/python-env/bin/python}"
  [[ -x "$python" ]] || die "executor Python $python is not executable"
fi

use_pip_spark
# Belt and braces: spark.pyspark.* below win, but nothing may fall back to python3 on PATH.
export PYSPARK_PYTHON="$python"
driver=()
if [[ "$deploy_mode" == client ]]; then
  export PYSPARK_DRIVER_PYTHON="$driver_python"
  driver=(--conf "spark.pyspark.driver.python=$driver_python")
else  # the driver runs on the cluster, with spark.pyspark.python (the archive's Python)
  unset PYSPARK_DRIVER_PYTHON
fi

network=()
if ((loopback)); then
  export SPARK_LOCAL_IP=$HOST
  driver_host="${driver_host:-$HOST}"
  network=(--conf "spark.driver.bindAddress=$driver_host")
fi
[[ -n "$driver_host" ]] && network+=(--conf "spark.driver.host=$driver_host")

# A driver that runs here gets the jobs' own JVM options (segmentation.core.session): the
# quiet log4j2 config by its path here, with the driver's one-line console laid over it,
# and this venv's class archive (README "Start-up"; a Spark other than the venv's ignores
# it). Executors get the log4j2 config only where the nodes share this file system
# (pinned; their logs keep full stack traces).
log4j=()
if [[ "$deploy_mode" == client ]]; then
  java_options="$("$PY" -c 'from segmentation.core.session import driver_java_options
print(driver_java_options())')"
  [[ -n "$java_options" ]] && log4j=(--driver-java-options "$java_options")
  opt="-Dlog4j2.configurationFile=file://$ROOT/conf/log4j2.properties"
  [[ -f "$ROOT/conf/log4j2.properties" && "$env_mode" == pinned ]] \
    && log4j+=(--conf "spark.executor.extraJavaOptions=$opt")
fi
cores=()
[[ -n "$total_cores" ]] && cores=(--total-executor-cores "$total_cores")

# The command is printed as `set -x` would, but with the values of secret settings (Spark's
# redaction rule: secret|password|token|access.key, also password= inside a JDBC URL) hidden.
redacted() {
  sed -E 's/^([^=]*(secret|password|token|access[.]?key)[^=]*)=.*/\1=*********(redacted)/I;
          s/((secret|password|token|access[.]?key)[^=&;:]*=)[^&; ]+/\1*********(redacted)/Ig' <<<"$1"
}
cmd=("$SPARK_HOME/bin/spark-submit"
  --master "$master"
  --deploy-mode "$deploy_mode"
  --name "$(basename "$job" .py)"
  --py-files "$zip"
  "${archives[@]}"
  --driver-memory "$driver_memory"
  --executor-memory "$executor_memory"
  "${cores[@]}"
  --conf "spark.pyspark.python=$python"
  "${driver[@]}"
  "${network[@]}"
  "${log4j[@]}"
  "${confs[@]}"
  "$job" "$@")
printf '+' >&2
for arg in "${cmd[@]}"; do printf ' %q' "$(redacted "$arg")" >&2; done
echo >&2
exec "${cmd[@]}"
