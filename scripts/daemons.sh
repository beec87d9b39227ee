# Sourced (not run) by scripts/cluster.sh, connect.sh, postgres.sh, mlflow.sh, s3.sh, submit.sh and
# package.sh: their preamble (ROOT, NAME, PY, BUILD, HOST), messages, usage from the calling
# script's header, the pip pyspark as SPARK_HOME, the default driver memory, free ports,
# liveness, and the start|stop|status|url dispatch of a server. A server script sets STATE
# and defines cmd_start, cmd_stop, server_pid, server_url PORT and answers PORT; its
# status and url then come from here (cluster.sh, with several daemons, has its own).

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NAME="$(basename "$0")"
PY="${SEGMENT_PYTHON:-$ROOT/.venv/bin/python}"
BUILD="${SEGMENT_BUILD_DIR:-$ROOT/build/submit}"  # what package.sh builds: zip, python-env
HOST=127.0.0.1  # every server here listens on loopback only

die() { echo "$NAME: $*" >&2; exit "${DIE_STATUS:-1}"; }
log() { echo "$NAME: $*" >&2; }

need_python() { [[ -x "$PY" ]] || die "no Python at $PY (set SEGMENT_PYTHON)"; }

usage() {  # usage STATUS: the calling script's header (its comment from line 2 on), then exit
  local text
  text="$(sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0")"
  if [[ "${1:-2}" == 0 ]]; then echo "$text"; else echo "$text" >&2; fi
  exit "${1:-2}"
}

use_pip_spark() {  # the pip pyspark package is the Spark distribution (bin/, sbin/, jars/)
  SPARK_HOME="${SPARK_HOME:-$("$PY" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')}"
  export SPARK_HOME
}

driver_memory_for() {  # driver_memory_for MASTER: local[...]: the Python rule; else Spark's 1g
  if [[ "$1" == local* ]]; then
    "$PY" -c 'from segmentation.core.session import local_driver_memory; print(local_driver_memory())'
  else
    echo 1g
  fi
}

free_port() {
  "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

port_option() {  # the start options of a server that takes only --port: sets the caller's $port
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --port) port="$2"; shift 2 ;;
      -h|--help) usage 0 ;;
      *) die "unknown option for start: $1" ;;
    esac
  done
}

alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }

stop_pid() {  # stop_pid PID SIGNAL SECONDS: send SIGNAL, wait up to SECONDS, then KILL
  local pid="$1" deadline=$((SECONDS + $3))
  alive "$pid" || return 0
  kill "-$2" "$pid" 2>/dev/null || true
  while alive "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
  kill -KILL "$pid" 2>/dev/null || true
}

refuse_if_running() {  # die when server_pid names a live process
  if alive "$(server_pid 2>/dev/null || true)"; then
    die "a server is already running from $STATE (pid $(server_pid)); run 'stop' first"
  fi
}

stop_server_state() {  # stop_server_state SIGNAL SECONDS: stop server_pid, remove $STATE
  [[ -d "$STATE" ]] || { log "no server state in $STATE"; return 0; }
  local pid
  pid="$(server_pid 2>/dev/null || true)"
  stop_pid "$pid" "$1" "$2"
  rm -rf "$STATE"
  log "stopped ${pid:-nothing}; removed $STATE"
}

stop_group_state() {  # stop_group_state SIGNAL SECONDS: a server started with setsid: its
  # whole process group (the server and its workers), then stop_server_state
  [[ -d "$STATE" ]] || { log "no server state in $STATE"; return 0; }
  local pid
  pid="$(server_pid 2>/dev/null || true)"
  if alive "$pid"; then
    kill "-$1" -- "-$pid" 2>/dev/null || true
  fi
  stop_server_state "$1" "$2"
}

await_server() {  # await_server PORT LOG: wait up to $TIMEOUT s until answers PORT, then write
  # $STATE/url; when the server dies or time runs out: the end of LOG (a file, or a folder of
  # them), stop, die
  local deadline=$((SECONDS + TIMEOUT)) logs=("$2")
  until answers "$1"; do
    if ! alive "$(server_pid 2>/dev/null || true)" || ((SECONDS > deadline)); then
      [[ -d "$2" ]] && logs=("$2"/*)
      tail -n 20 "${logs[@]}" >&2 2>/dev/null || true
      cmd_stop >/dev/null 2>&1 || true
      die "the server did not answer on port $1 in ${TIMEOUT}s (the end of its log above)"
    fi
    sleep 0.5
  done
  server_url "$1" >"$STATE/url"
}

cmd_status() {  # the server's URL, whether its pid lives and whether its port answers
  [[ -f "$STATE/port" ]] || { echo "not running (no state in $STATE)"; return 1; }
  local pid port
  pid="$(server_pid 2>/dev/null || true)"
  port="$(<"$STATE/port")"
  echo "url: $(server_url "$port")"
  if alive "$pid"; then echo "pid $pid running"; else echo "pid ${pid:-?} DEAD"; return 1; fi
  if answers "$port"; then echo "port $port answers"; else echo "port $port does not answer"; return 1; fi
}

cmd_url() {  # the URL a server's start wrote once it answered
  [[ -f "$STATE/url" ]] || die "no server running from $STATE"
  cat "$STATE/url"
}

dispatch() {
  case "${1:-}" in
    start) shift; cmd_start "$@" ;;
    stop) shift; cmd_stop ;;
    status) shift; cmd_status ;;
    url) shift; cmd_url ;;
    -h|--help|help) usage 0 ;;
    *) usage 2 ;;
  esac
}
