#!/usr/bin/env bash
# A local Spark standalone cluster (one master, N workers) from the venv's pip pyspark,
# everything bound to 127.0.0.1.
#
#   scripts/cluster.sh start [--workers N] [--cores C] [--memory M]
#                            [--port P] [--webui-port W]   -> prints spark://127.0.0.1:P
#   scripts/cluster.sh status                              -> master URL, workers, pids
#   scripts/cluster.sh stop                                -> stops what `start` started
#   scripts/cluster.sh url                                 -> prints the master URL
#
# The pip package has bin/spark-class but no sbin/start-master.sh, so the daemons are
# started with spark-class directly, each in its own session (setsid: pid == process
# group id), so that `stop` can end a daemon and everything it launched (executors and
# their Python workers) by the pids recorded at start, and nothing else.
#
# State (pid files, logs, worker dirs, ports): ${SEGMENT_CLUSTER_DIR:-/tmp/segment-cluster}.
# Environment: SEGMENT_PYTHON (default: the project's .venv/bin/python; its pyspark is the
# Spark distribution), SPARK_CLASS (default: $SPARK_HOME/bin/spark-class), SEGMENT_CLUSTER_TIMEOUT (seconds to wait, default 90).
set -euo pipefail

STATE="${SEGMENT_CLUSTER_DIR:-/tmp/segment-cluster}"
TIMEOUT="${SEGMENT_CLUSTER_TIMEOUT:-90}"
# shellcheck source=scripts/daemons.sh
source "$(dirname "${BASH_SOURCE[0]}")/daemons.sh"
need_python
use_pip_spark
SPARK_CLASS="${SPARK_CLASS:-$SPARK_HOME/bin/spark-class}"

# Every Spark daemon (and the executors it launches) stays on loopback; the web UIs too.
export SPARK_LOCAL_IP=$HOST
# Daemon JVMs: the project's quiet log4j2 config, modest heaps.
export SPARK_DAEMON_MEMORY="${SPARK_DAEMON_MEMORY:-512m}"
if [[ -f "$ROOT/conf/log4j2.properties" ]]; then
  export SPARK_DAEMON_JAVA_OPTS="${SPARK_DAEMON_JAVA_OPTS:-} -Dlog4j2.configurationFile=file://$ROOT/conf/log4j2.properties"
fi

# No REST submission server (it would take the fixed port 6066; spark-submit uses RPC).
export SPARK_MASTER_OPTS="${SPARK_MASTER_OPTS:-} -Dspark.master.rest.enabled=false"

pid_files() { compgen -G "$STATE/*.pid" || true; }

running_pids() {
  local f pid
  for f in $(pid_files); do
    pid=$(<"$f")
    if alive "$pid"; then echo "$pid"; fi
  done
}

master_json() {  # the master's JSON status, or nothing
  local webui
  webui=$(cat "$STATE/webui-port" 2>/dev/null) || return 0
  curl -s --max-time 3 "http://$HOST:$webui/json/" 2>/dev/null || true
}

alive_workers() {  # number of ALIVE workers the master knows about
  master_json | "$PY" -c '
import json, sys
text = sys.stdin.read()
try:
    status = json.loads(text)
except ValueError:
    print(0)
else:
    print(sum(1 for w in status.get("workers", []) if w.get("state") == "ALIVE"))'
}

cmd_start() {
  local workers=2 cores=1 memory=1g port="${SEGMENT_MASTER_PORT:-}" webui="${SEGMENT_MASTER_WEBUI_PORT:-}"
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --workers) workers="$2"; shift 2 ;;
      --cores) cores="$2"; shift 2 ;;
      --memory) memory="$2"; shift 2 ;;
      --port) port="$2"; shift 2 ;;
      --webui-port) webui="$2"; shift 2 ;;
      -h|--help) usage 0 ;;
      *) die "unknown option for start: $1" ;;
    esac
  done
  [[ "$workers" =~ ^[1-9][0-9]*$ ]] || die "--workers must be a positive integer, got '$workers'"
  [[ "$cores" =~ ^[1-9][0-9]*$ ]] || die "--cores must be a positive integer, got '$cores'"
  [[ "$memory" =~ ^[1-9][0-9]*[mMgG]$ ]] || die "--memory must look like 512m or 1g, got '$memory'"
  [[ -x "$SPARK_CLASS" ]] || die "no spark-class at $SPARK_CLASS (set SEGMENT_PYTHON or SPARK_CLASS)"
  if [[ -n "$(running_pids)" ]]; then
    die "a cluster is already running from $STATE (pids $(running_pids | tr '\n' ' ')); run 'stop' first"
  fi
  rm -rf "$STATE"
  mkdir -p "$STATE/logs"
  port="${port:-$(free_port)}"
  webui="${webui:-$(free_port)}"
  echo "$port" >"$STATE/port"
  echo "$webui" >"$STATE/webui-port"
  local url="spark://$HOST:$port"

  # setsid: each daemon leads its own process group, so stop can end it with its children.
  setsid "$SPARK_CLASS" org.apache.spark.deploy.master.Master \
    --host "$HOST" --port "$port" --webui-port "$webui" \
    >"$STATE/logs/master.log" 2>&1 </dev/null &
  echo $! >"$STATE/master.pid"
  wait_for "master" 0 || { cmd_stop >/dev/null 2>&1 || true; die "master did not start (see $STATE/logs/master.log)"; }

  local i wport wui
  for ((i = 1; i <= workers; i++)); do
    wport=$(free_port)
    wui=$(free_port)
    mkdir -p "$STATE/workdirs/worker-$i"
    setsid "$SPARK_CLASS" org.apache.spark.deploy.worker.Worker "$url" \
      --host "$HOST" --port "$wport" --webui-port "$wui" \
      --cores "$cores" --memory "$memory" --work-dir "$STATE/workdirs/worker-$i" \
      >"$STATE/logs/worker-$i.log" 2>&1 </dev/null &
    echo $! >"$STATE/worker-$i.pid"
  done
  wait_for "workers" "$workers" || {
    cmd_stop >/dev/null 2>&1 || true
    die "only $(alive_workers 2>/dev/null || echo 0) of $workers workers registered in ${TIMEOUT}s (logs in $STATE/logs)"
  }
  echo "$url" >"$STATE/master.url"
  log "master $url (web UI http://$HOST:$webui), $workers worker(s) x $cores core(s) x $memory; state in $STATE"
  echo "$url"
}

wait_for() {  # wait_for master 0 | wait_for workers N
  local what="$1" want="$2" deadline=$((SECONDS + TIMEOUT))
  while ((SECONDS < deadline)); do
    alive "$(cat "$STATE/master.pid")" || return 1
    if [[ "$what" == master ]]; then
      [[ -n "$(master_json)" ]] && return 0
    else
      (( $(alive_workers) >= want )) && return 0
    fi
    sleep 0.5
  done
  return 1
}

cmd_stop() {
  [[ -d "$STATE" ]] || { log "no cluster state in $STATE"; return 0; }
  local f pid stopped=0
  # Workers first (their executors go with them), then the master: SIGTERM to each
  # recorded process group, then SIGKILL what is left after a grace period.
  local files=()
  for f in $(compgen -G "$STATE/worker-*.pid" || true) "$STATE/master.pid"; do
    [[ -f "$f" ]] && files+=("$f")
  done
  for f in "${files[@]}"; do
    pid=$(<"$f")
    if alive "$pid"; then
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
      stopped=$((stopped + 1))
    fi
    # The group may outlive its leader (e.g. a worker killed by -9 leaves its executor).
    kill -TERM -- "-$pid" 2>/dev/null || true
  done
  local deadline=$((SECONDS + 15))
  while ((SECONDS < deadline)); do
    local left=0
    for f in "${files[@]}"; do
      pid=$(<"$f")
      if kill -0 -- "-$pid" 2>/dev/null; then left=1; fi
    done
    ((left == 0)) && break
    sleep 0.5
  done
  for f in "${files[@]}"; do
    pid=$(<"$f")
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
  rm -rf "$STATE"
  log "stopped $stopped daemon(s); removed $STATE"
}

cmd_status() {
  [[ -f "$STATE/master.pid" ]] || { echo "not running (no state in $STATE)"; return 1; }
  local f pid name rc=0
  echo "master: $(cat "$STATE/master.url" 2>/dev/null || echo "spark://$HOST:$(cat "$STATE/port")")"
  echo "web UI: http://$HOST:$(cat "$STATE/webui-port")"
  for f in "$STATE/master.pid" $(compgen -G "$STATE/worker-*.pid" || true); do
    pid=$(<"$f")
    name=$(basename "$f" .pid)
    if alive "$pid"; then echo "$name: pid $pid running"; else echo "$name: pid $pid DEAD"; rc=1; fi
  done
  echo "alive workers registered: $(alive_workers)"
  return "$rc"
}

cmd_url() {
  [[ -f "$STATE/master.url" ]] || die "no cluster running from $STATE"
  cat "$STATE/master.url"
}

dispatch "$@"
