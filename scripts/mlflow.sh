#!/usr/bin/env bash
# A local MLflow tracking server on 127.0.0.1 (sqlite store, artifacts in its state folder).
#
#   scripts/mlflow.sh start [--port P]   -> prints http://127.0.0.1:P (the UI and the API)
#   scripts/mlflow.sh status             -> URL, pid, whether it answers
#   scripts/mlflow.sh stop               -> stops what `start` started (by its pid)
#   scripts/mlflow.sh url                -> prints the URL
#
# Runs `python -m mlflow server` of the venv (the `mlflow` extra: pip install -e ".[mlflow]";
# `scripts/setup.sh dev` has it) with one worker, the sqlite file $STATE/mlflow.db as the
# backend store and $STATE/artifacts as the artifact store (served through the server, so
# clients need no access to that folder). `stop` removes the state: runs logged to it go too.
#
# State (pid, log, port, store): ${SEGMENT_MLFLOW_DIR:-/tmp/segment-mlflow}.
# Environment: SEGMENT_PYTHON (default .venv/bin/python), SEGMENT_MLFLOW_TIMEOUT (seconds to
# wait for the server to answer, default 90).
set -euo pipefail

STATE="${SEGMENT_MLFLOW_DIR:-/tmp/segment-mlflow}"
TIMEOUT="${SEGMENT_MLFLOW_TIMEOUT:-90}"
# shellcheck source=scripts/daemons.sh
source "$(dirname "${BASH_SOURCE[0]}")/daemons.sh"
need_python

server_pid() { [[ -f "$STATE/pid" ]] && cat "$STATE/pid"; }

server_url() { echo "http://$HOST:$1"; }

answers() {  # answers PORT: GET /health answers 200
  "$PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/health", timeout=2).close()' "$(server_url "$1")" 2>/dev/null
}

cmd_start() {
  local port=""
  port_option "$@"
  "$PY" -c 'import mlflow' 2>/dev/null \
    || die "mlflow is not installed in $PY: pip install -e \".[mlflow]\" (or scripts/setup.sh dev)"
  refuse_if_running
  rm -rf "$STATE"
  mkdir -p "$STATE/artifacts"
  port="${port:-$(free_port)}"
  echo "$port" >"$STATE/port"
  # setsid: its own process group, so `stop` ends the server and its worker together.
  setsid "$PY" -m mlflow server --host "$HOST" --port "$port" --workers 1 \
    --backend-store-uri "sqlite:///$STATE/mlflow.db" \
    --artifacts-destination "$STATE/artifacts" >"$STATE/log" 2>&1 </dev/null &
  echo $! >"$STATE/pid"
  await_server "$port" "$STATE/log"
  log "MLflow server $(<"$STATE/url") (pid $(server_pid), store $STATE/mlflow.db); state in $STATE"
  cat "$STATE/url"
}

cmd_stop() { stop_group_state TERM 15; }  # it was started with setsid

dispatch "$@"
