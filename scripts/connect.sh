#!/usr/bin/env bash
# A Spark Connect server on 127.0.0.1, from the venv's pip pyspark (sbin/start-connect-server.sh).
#
#   scripts/connect.sh start [--port P] [--master URL] [--driver-memory M] [--python PATH]
#                                                      -> prints sc://127.0.0.1:P
#   scripts/connect.sh status                          -> URL, pid, whether it answers
#   scripts/connect.sh stop                            -> stops what `start` started
#   scripts/connect.sh url                             -> prints the sc:// URL
#
# The server's Python workers run --python (default: the python-env that scripts/package.sh
# builds: the dependencies WITHOUT this project), so the jobs' code reaches them only as the
# artifact the client uploads, as on a server that has nothing of ours. --master defaults to
# local[*] (the server runs the work itself; its driver gets half the RAM unless
# --driver-memory says otherwise); a standalone cluster's spark://... URL works too.
#
# State (pid file, log, port): ${SEGMENT_CONNECT_DIR:-/tmp/segment-connect}.
# Environment: SEGMENT_PYTHON (default .venv/bin/python), SEGMENT_BUILD_DIR (for the
# python-env), SEGMENT_CONNECT_TIMEOUT (seconds to wait for the port, default 90).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${SEGMENT_CONNECT_DIR:-/tmp/segment-connect}"
PY="${SEGMENT_PYTHON:-$ROOT/.venv/bin/python}"
BUILD="${SEGMENT_BUILD_DIR:-$ROOT/build/submit}"
TIMEOUT="${SEGMENT_CONNECT_TIMEOUT:-90}"
HOST=127.0.0.1
[[ -x "$PY" ]] || { echo "connect.sh: no Python at $PY (set SEGMENT_PYTHON)" >&2; exit 1; }
export SPARK_HOME="${SPARK_HOME:-$("$PY" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')}"
export SPARK_LOCAL_IP=$HOST

NAME=connect.sh
HEADER_LINES=2,19p
# shellcheck source=scripts/daemons.sh
source "$ROOT/scripts/daemons.sh"

answers() {  # the port accepts a connection
  "$PY" -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2).close()' "$1" 2>/dev/null
}

server_pid() { compgen -G "$STATE/pids/*.pid" >/dev/null && cat "$STATE"/pids/*.pid; }

cmd_start() {
  local port="" master="local[*]" memory="" python=""
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --port) port="$2"; shift 2 ;;
      --master) master="$2"; shift 2 ;;
      --driver-memory) memory="$2"; shift 2 ;;
      --python) python="$2"; shift 2 ;;
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
  if [[ -z "$memory" ]]; then
    if [[ "$master" == local* ]]; then
      memory="$("$PY" -c 'from segmentation.core.session import local_driver_memory as m; print(m())')"
    else
      memory=1g
    fi
  fi
  rm -rf "$STATE"
  mkdir -p "$STATE/pids" "$STATE/logs"
  port="${port:-$(free_port)}"
  echo "$port" >"$STATE/port"
  local log4j="-Dlog4j2.configurationFile=file://$ROOT/conf/log4j2.properties"
  SPARK_PID_DIR="$STATE/pids" SPARK_LOG_DIR="$STATE/logs" PYSPARK_PYTHON="$python" \
    "$SPARK_HOME/sbin/start-connect-server.sh" \
    --master "$master" --driver-memory "$memory" --driver-java-options "$log4j" \
    --conf "spark.connect.grpc.binding.address=$HOST" \
    --conf "spark.connect.grpc.binding.port=$port" \
    --conf "spark.driver.host=$HOST" --conf "spark.driver.bindAddress=$HOST" \
    --conf "spark.ui.enabled=false" --conf "spark.pyspark.python=$python" >/dev/null
  local deadline=$((SECONDS + TIMEOUT))
  until answers "$port"; do
    if ! alive "$(server_pid 2>/dev/null || true)" || ((SECONDS > deadline)); then
      cmd_stop >/dev/null 2>&1 || true
      die "the server did not answer on port $port in ${TIMEOUT}s (log: $STATE/logs)"
    fi
    sleep 0.5
  done
  echo "sc://$HOST:$port" >"$STATE/url"
  log "Spark Connect server sc://$HOST:$port (master $master, pid $(server_pid)); state in $STATE"
  echo "sc://$HOST:$port"
}

cmd_stop() { stop_server_state TERM 15; }

cmd_status() {
  [[ -f "$STATE/port" ]] || { echo "not running (no state in $STATE)"; return 1; }
  local pid port
  pid="$(server_pid 2>/dev/null || true)"
  port="$(<"$STATE/port")"
  echo "url: sc://$HOST:$port"
  if alive "$pid"; then echo "pid $pid running"; else echo "pid ${pid:-?} DEAD"; return 1; fi
  if answers "$port"; then echo "port $port answers"; else echo "port $port does not answer"; return 1; fi
}

dispatch "$@"
