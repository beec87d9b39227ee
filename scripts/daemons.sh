# Shared by scripts/cluster.sh, connect.sh, postgres.sh and mlflow.sh (sourced, not run):
# messages, usage from the calling script's header, free ports, liveness, and the
# start|stop|status|url dispatch. The caller sets NAME, PY and HEADER_LINES and defines
# cmd_start, cmd_stop and cmd_status; cmd_url below prints the URL a server's start wrote
# to $STATE/url (cluster.sh defines its own).

die() { echo "$NAME: $*" >&2; exit 1; }
log() { echo "$NAME: $*" >&2; }

usage() {
  sed -n "$HEADER_LINES" "$0" | sed 's/^# \{0,1\}//' >&2
  exit "${1:-2}"
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

cmd_url() {
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
