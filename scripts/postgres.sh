#!/usr/bin/env bash
# A throwaway PostgreSQL server on 127.0.0.1, for the JDBC tests and the README's example.
#
#   scripts/postgres.sh start [--port P]   -> prints jdbc:postgresql://127.0.0.1:P/segment
#   scripts/postgres.sh status             -> URL, pid, whether it answers
#   scripts/postgres.sh stop               -> stops what `start` started (by its pid), removes it
#   scripts/postgres.sh url                -> prints the JDBC URL
#   scripts/postgres.sh password-file      -> prints the path of the file holding the password
#   scripts/postgres.sh load DIR TABLE     -> copies the Parquet at DIR into TABLE (Spark's JDBC
#                                             writer, replacing TABLE), e.g. the demo customers
#
# initdb + pg_ctl from /usr/lib/postgresql/*/bin (Debian's `postgresql` package; the JDBC
# driver is `libpostgresql-jdbc-java`: /usr/share/java/postgresql.jar). Run as root, the
# server runs as the `postgres` user (PostgreSQL refuses root). Its data lives in a fresh
# directory under the state directory, it listens on 127.0.0.1 only, on a free port, with a
# random password for the user `segment` (database `segment`). The distribution's own
# cluster (port 5432) is never used or touched.
#
# State (data, log, port, password): ${SEGMENT_POSTGRES_DIR:-/tmp/segment-postgres}.
set -euo pipefail

STATE="${SEGMENT_POSTGRES_DIR:-/tmp/segment-postgres}"
USER_NAME=segment
# shellcheck source=scripts/daemons.sh
source "$(dirname "${BASH_SOURCE[0]}")/daemons.sh"
[[ -x "$PY" ]] || PY="$(command -v python3)"  # free ports need any Python; `load` needs pyspark

bin_dir() {
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
  [[ -x "$dir/initdb" ]] || die "no PostgreSQL server found in /usr/lib/postgresql/*/bin: install it, e.g. 'sudo apt-get install postgresql libpostgresql-jdbc-java'"
  echo "$dir"
}

as_server() {  # run a server command as the postgres user when we are root
  if [[ "$(id -u)" = 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

server_pid() { [[ -f "$STATE/data/postmaster.pid" ]] && head -1 "$STATE/data/postmaster.pid"; }

server_url() { echo "jdbc:postgresql://$HOST:$1/segment"; }

answers() { pg_isready -q -h "$HOST" -p "$1"; }  # answers PORT

cmd_start() {
  local port=""
  port_option "$@"
  refuse_if_running
  local bin
  bin="$(bin_dir)"
  rm -rf "$STATE"
  mkdir -p "$STATE"
  chmod 700 "$STATE"
  port="${port:-$(free_port)}"
  echo "$port" >"$STATE/port"
  head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$STATE/password"
  chmod 600 "$STATE/password"
  mkdir -p "$STATE/server"
  cp "$STATE/password" "$STATE/server/pwfile"
  if [[ "$(id -u)" = 0 ]]; then chown -R postgres: "$STATE/server"; chmod 711 "$STATE"; fi
  as_server "$bin/initdb" -D "$STATE/server/data" -U "$USER_NAME" --auth=scram-sha-256 \
    --pwfile="$STATE/server/pwfile" -E UTF8 --locale=C.UTF-8 >"$STATE/initdb.log" 2>&1 \
    || { cat "$STATE/initdb.log" >&2; die "initdb failed"; }
  rm -f "$STATE/server/pwfile"
  ln -s server/data "$STATE/data"
  as_server "$bin/pg_ctl" -D "$STATE/server/data" -l "$STATE/server/log" -w -t 30 \
    -o "-p $port -k $STATE/server -c listen_addresses=$HOST" start >/dev/null \
    || { cat "$STATE/server/log" >&2 || true; die "the server did not start"; }
  PGPASSWORD="$(<"$STATE/password")" psql -q -h "$HOST" -p "$port" -U "$USER_NAME" \
    -d postgres -c "CREATE DATABASE segment" >/dev/null
  server_url "$port" >"$STATE/url"
  log "PostgreSQL on $HOST:$port (pid $(server_pid), user $USER_NAME, password in $STATE/password); state in $STATE"
  cat "$STATE/url"
}

cmd_stop() { stop_server_state INT 20; }  # SIGINT: PostgreSQL's fast shutdown

cmd_load() {
  [[ $# -eq 2 ]] || die "usage: load PARQUET_DIR TABLE"
  [[ -f "$STATE/url" ]] || die "no server running from $STATE (run 'start' first)"
  [[ -f /usr/share/java/postgresql.jar ]] || die "no JDBC driver: apt-get install libpostgresql-jdbc-java"
  SPARK_LOCAL_IP=$HOST SEGMENT_PG_URL="$(<"$STATE/url")" SEGMENT_PG_PASSWORD="$(<"$STATE/password")" \
    "$PY" - "$1" "$2" <<'PYTHON'
import os, sys
from pyspark.sql import SparkSession
spark = (SparkSession.builder.master("local[*]").config("spark.ui.enabled", "false")
         .config("spark.jars", "/usr/share/java/postgresql.jar")
         .config("spark.driver.host", "127.0.0.1").getOrCreate())
spark.sparkContext.setLogLevel("ERROR")
frame = spark.read.parquet(os.path.abspath(sys.argv[1]))
(frame.write.format("jdbc").mode("overwrite")
 .options(url=os.environ["SEGMENT_PG_URL"], user="segment", driver="org.postgresql.Driver",
          password=os.environ["SEGMENT_PG_PASSWORD"], dbtable=sys.argv[2], batchsize="10000")
 .save())
print(f"{frame.count()} rows of {sys.argv[1]} in table {sys.argv[2]}", file=sys.stderr)
spark.stop()
PYTHON
}

case "${1:-}" in
  load) shift; cmd_load "$@" ;;
  password-file) [[ -f "$STATE/password" ]] || die "no server running from $STATE"; echo "$STATE/password" ;;
  *) dispatch "$@" ;;
esac
