#!/usr/bin/env bash
# Set up this project on a fresh machine: check Python and Java, create .venv, install, and
# make the class archive its driver JVMs start from (segmentation/core/class_archive.py).
#   scripts/setup.sh          the product (pyspark, pandas, pyarrow, matplotlib, ...)
#   scripts/setup.sh dev      the product plus the test tools (pytest, scikit-learn, ...) and MLflow
#   scripts/setup.sh mlflow   the product plus MLflow, for experiment tracking (--mlflow-uri)
#   scripts/setup.sh --spark X.Y [dev|mlflow]
#                             the same in .venv-sparkX.Y/ with the pyspark of Spark line X.Y (one
#                             of the lines below), for a cluster that runs Spark X.Y; uv resolves
#                             numpy, pandas and pyarrow within that pyspark's own bounds
#   scripts/setup.sh --lines  the Spark lines CI tests, oldest first (the last is the newest,
#                             what .venv gets)
#   scripts/setup.sh --connectors [--spark X.Y] [dev|mlflow]
#                             also fetch the line's Delta Lake, Iceberg and hadoop-aws (s3a://)
#                             jars with Maven into its cache (scripts/connectors.py; dev does it
#                             too); the jobs add them to the sessions they start
set -euo pipefail
cd "$(dirname "$0")/.."
LINES=(3.5 4.0 4.1 4.2 4.3)  # keep in step with pyproject.toml's pyspark range and the README

extra="" line="" venv=.venv connectors=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --spark)
      [[ $# -ge 2 ]] || { echo "error: --spark needs a line, one of: ${LINES[*]}" >&2; exit 2; }
      line="$2"; shift 2 ;;
    --lines) echo "${LINES[*]}"; exit 0 ;;
    --connectors) connectors=1; shift ;;
    *) extra="$1"; shift ;;
  esac
done
if [[ -n "$line" ]]; then
  if [[ " ${LINES[*]} " != *" $line "* ]]; then
    echo "error: Spark line '$line' is not one this project tests (one of: ${LINES[*]})" >&2
    exit 2
  fi
  venv=".venv-spark$line"
fi

python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  echo "error: Python 3.10 or newer is needed ($python: $("$python" --version 2>&1 || echo missing))" >&2
  exit 1
fi

java_major() {
  java -version 2>&1 | awk -F'"' '/version/ {split($2, v, "."); print (v[1] == "1" ? v[2] : v[1]); exit}'
}
if ! command -v java >/dev/null 2>&1 || [ "$(java_major)" -lt 17 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Java 17+ not found: installing openjdk-17-jre-headless with apt-get" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null
  else
    echo "error: Spark needs a Java 17 or 21 runtime on PATH (found: $(java -version 2>&1 | head -1 || echo none))." >&2
    echo "       Install one, e.g. 'sudo apt-get install openjdk-17-jre-headless' or 'brew install openjdk@17'." >&2
    exit 1
  fi
fi

# The database tests (marker `database`) run a throwaway PostgreSQL (scripts/postgres.sh)
# and read it with its JDBC driver: Debian's postgresql + libpostgresql-jdbc-java.
if [ "$extra" = dev ] && { ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null \
    || [ ! -f /usr/share/java/postgresql.jar ]; }; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "PostgreSQL or its JDBC driver not found: installing postgresql libpostgresql-jdbc-java with apt-get" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql libpostgresql-jdbc-java >/dev/null
  else
    echo "note: the database tests need PostgreSQL and its JDBC driver (e.g. 'sudo apt-get install postgresql libpostgresql-jdbc-java'); without them they are skipped" >&2
  fi
fi

created=0
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
  created=1
fi
case "$extra" in
  "") target="." ;;
  dev|mlflow) target=".[$extra]" ;;
  *) echo "error: unknown set-up '$extra' (expected nothing, dev or mlflow)" >&2; exit 2 ;;
esac
pin=()
[[ -n "$line" ]] && pin=("pyspark==$line.*")
log="$venv/install.log"
# uv (from PyPI, into the venv) installs the project: it resolves as pip does, in a third of
# pip's time (measured in the README's "Development" section).
if ! { "$venv/bin/python" -m pip install -q --upgrade pip uv \
    && "$venv/bin/uv" pip install -q --python "$venv/bin/python" -e "$target" "${pin[@]}"; \
    } >"$log" 2>&1; then
  cat "$log" >&2
  echo "error: installing the project's packages failed (log above, also in $log)" >&2
  exit 1
fi
# PyPI has pyspark only as a source archive, so uv builds it, about 1.3 GB in uv's cache per
# build. Where the index's answers are not cacheable (a registry mirror), every new
# environment builds it again and the old builds stay: 43.7 GiB on this project's CI machine
# after a few dozen set-ups, until the disk was full. Pruning keeps the newest build of each;
# only after a new environment's install (prune waits for every other uv process to end).
if [ "$created" = 1 ] && ! "$venv/bin/uv" cache prune >>"$log" 2>&1; then
  echo "note: 'uv cache prune' failed (see $log); uv's cache keeps outdated pyspark builds" >&2
fi
if [ "$extra" = dev ]; then
  free_gb=$(df -Pk "${TMPDIR:-/tmp}" | awk 'NR == 2 {print int($4 / 1048576)}')
  [ "$free_gb" -ge 10 ] \
    || echo "warning: ${free_gb} GB free in ${TMPDIR:-/tmp}; the tests' Spark sessions and servers need about 10 GB there" >&2
fi
if [[ "$extra" == dev || "$connectors" == 1 ]]; then
  if ! command -v mvn >/dev/null 2>&1; then
    echo "error: fetching the Delta Lake, Iceberg and hadoop-aws connectors needs Maven (mvn) on PATH (e.g. 'sudo apt-get install maven'); or give their coordinates in spark.jars.packages" >&2
    exit 1
  fi
  "$venv/bin/python" scripts/connectors.py
fi
# The class archive: Spark's classes ready for the driver JVMs this project launches (one
# small run makes it, about a minute, once per environment and Java runtime).
if ! "$venv/bin/python" scripts/class_archive.py; then
  echo "error: making the class archive failed (above); the jobs would still run, each JVM starting slower" >&2
  exit 1
fi
echo "set up $venv: $("$venv/bin/python" --version), $(java -version 2>&1 | head -1), pyspark $("$venv/bin/python" -c 'import pyspark; print(pyspark.__version__)')" >&2
