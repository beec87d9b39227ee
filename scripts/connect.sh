#!/usr/bin/env bash
# A Spark Connect server on 127.0.0.1, from the venv's pip pyspark (sbin/start-connect-server.sh).
#
#   scripts/connect.sh start [--port P] [--master URL] [--driver-memory M] [--python PATH]
#                            [--connectors NAME,...]   -> prints sc://127.0.0.1:P
#   scripts/connect.sh status                          -> URL, pid, whether it answers
#   scripts/connect.sh stop                            -> stops what `start` started
#   scripts/connect.sh url                             -> prints the sc:// URL
#
# The server's Python workers run --python (default: the python-env that scripts/package.sh
# builds: the dependencies WITHOUT this project), so the jobs' code reaches them only as the
# artifact the client uploads, as on a server that has nothing of ours. --master defaults to
# local[*] (the server runs the work itself; its driver gets half the RAM unless
# --driver-memory says otherwise); a standalone cluster's spark://... URL works too.
# --connectors delta,iceberg,s3a loads those connectors of the venv's Spark line (fetched by
# scripts/setup.sh --connectors) into the server: clients cannot add jars themselves.
#
# State (pid file, log, port): ${SEGMENT_CONNECT_DIR:-/tmp/segment-connect}.
# Environment: SEGMENT_PYTHON (default .venv/bin/python), SEGMENT_BUILD_DIR (for the
# python-env), SEGMENT_CONNECT_TIMEOUT (seconds to wait for the port, default 90).
set -euo pipefail

STATE="${SEGMENT_CONNECT_DIR:-/tmp/segment-connect}"
TIMEOUT="${SEGMENT_CONNECT_TIMEOUT:-90}"
# shellcheck source=scripts/daemons.sh
source "$(dirname "${BASH_SOURCE[0]}")/daemons.sh"
need_python
use_pip_spark
export SPARK_LOCAL_IP=$HOST

answers() {  # answers PORT: the port accepts a connection
  "$PY" -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2).close()' "$1" 2>/dev/null
}

server_pid() { compgen -G "$STATE/pids/*.pid" >/dev/null && cat "$STATE"/pids/*.pid; }

server_url() { echo "sc://$HOST:$1"; }

cmd_start() {
  local port="" master="local[*]" memory="" python="" connectors=()
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --port) port="$2"; shift 2 ;;
      --master) master="$2"; shift 2 ;;
      --driver-memory) memory="$2"; shift 2 ;;
      --python) python="$2"; shift 2 ;;
      --connectors)
        mapfile -t connectors < <("$PY" -m segmentation.core.connectors "$2") \
          && [[ ${#connectors[@]} -gt 0 ]] || die "cannot load connectors $2 (above)"
        shift 2 ;;
      -h|--help) usage 0 ;;
      *) die "unknown option for start: $1" ;;
    esac
  done
  refuse_if_running
  if [[ -z "$python" ]]; then
    SEGMENT_PYTHON="$PY" SEGMENT_BUILD_DIR="$BUILD" "$ROOT/scripts/package.sh" >/dev/null
    python="$(cd "$BUILD" && pwd)/python-env/bin/python"
  fi
  [[ -x "$python" ]] || die "server Python $python is not executable"
  memory="${memory:-$(driver_memory_for "$master")}"
  rm -rf "$STATE"
  mkdir -p "$STATE/pids" "$STATE/logs"
  port="${port:-$(free_port)}"
  echo "$port" >"$STATE/port"
  local log4j="-Dlog4j2.configurationFile=file://$ROOT/conf/log4j2.properties"
  # pyspark 4.0's wheel has the server's jar but no sbin/start-connect-server.sh: start its
  # class as that script does (spark-daemon.sh submit CLASS 1 --name ...).
  local starter=("$SPARK_HOME/sbin/start-connect-server.sh")
  [[ -f "${starter[0]}" ]] || starter=("$SPARK_HOME/sbin/spark-daemon.sh" submit
    org.apache.spark.sql.connect.service.SparkConnectServer 1 --name "Spark Connect server")
  SPARK_PID_DIR="$STATE/pids" SPARK_LOG_DIR="$STATE/logs" PYSPARK_PYTHON="$python" \
    "${starter[@]}" \
    --master "$master" --driver-memory "$memory" --driver-java-options "$log4j" \
    --conf "spark.connect.grpc.binding.address=$HOST" \
    --conf "spark.connect.grpc.binding.port=$port" \
    --conf "spark.driver.host=$HOST" --conf "spark.driver.bindAddress=$HOST" \
    --conf "spark.ui.enabled=false" --conf "spark.pyspark.python=$python" \
    ${connectors[@]+"${connectors[@]}"} >/dev/null
  await_server "$port" "$STATE/logs"
  log "Spark Connect server $(<"$STATE/url") (master $master, pid $(server_pid)); state in $STATE"
  cat "$STATE/url"
}

cmd_stop() { stop_server_state TERM 15; }

dispatch "$@"
