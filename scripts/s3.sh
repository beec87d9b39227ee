#!/usr/bin/env bash
# A throwaway S3-compatible server on 127.0.0.1 (moto's standalone server), for s3a:// runs.
#
#   scripts/s3.sh start [--port P] [--any-key] -> prints http://127.0.0.1:P (the endpoint)
#   scripts/s3.sh status              -> URL, pid, whether it answers
#   scripts/s3.sh stop                -> stops what `start` started (by its pid), removes it
#   scripts/s3.sh url                 -> prints the endpoint URL
#   scripts/s3.sh env                 -> prints `export AWS_ACCESS_KEY_ID=... AWS_SECRET_...`
#                                        lines for its test credentials: eval "$(... env)"
#   scripts/s3.sh bucket NAME         -> creates bucket NAME
#   scripts/s3.sh put DIR s3a://B/KEY -> uploads the files of DIR under s3a://B/KEY
#
# Runs `python -m moto.server` of the venv (moto[server], in the `dev` extra) in memory:
# `stop` loses every object. `start` creates an IAM user with a random access key (written
# to $STATE/credentials, mode 600) and then has the server check every request's signature,
# so a wrong key is refused as by a real store; --any-key skips that check (Hadoop 3.3.4's AWS
# SDK v1, Spark 3.5's hadoop-aws, is refused by moto's check with the right key too: 403 on
# its first HEAD, measured here; its requests go through without it). Spark reaches it with
#   spark.hadoop.fs.s3a.endpoint: <the URL>          spark.hadoop.fs.s3a.path.style.access: true
#   spark.hadoop.fs.s3a.connection.ssl.enabled: false spark.hadoop.fs.s3a.endpoint.region: us-east-1
# and the keys from the environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY), never a file.
#
# State (pid, log, port, credentials): ${SEGMENT_S3_DIR:-/tmp/segment-s3}.
# Environment: SEGMENT_PYTHON (default .venv/bin/python), SEGMENT_S3_TIMEOUT (seconds to
# wait for the server to answer, default 60).
set -euo pipefail

STATE="${SEGMENT_S3_DIR:-/tmp/segment-s3}"
TIMEOUT="${SEGMENT_S3_TIMEOUT:-60}"
# shellcheck source=scripts/daemons.sh
source "$(dirname "${BASH_SOURCE[0]}")/daemons.sh"
need_python

server_pid() { [[ -f "$STATE/pid" ]] && cat "$STATE/pid"; }

server_url() { echo "http://$HOST:$1"; }

answers() {  # answers PORT: moto's own API answers (no S3 request, so no signature needed)
  "$PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/moto-api/data.json", timeout=2).close()' "$(server_url "$1")" 2>/dev/null
}

store() {  # store SCRIPT ARGS...: run Python with boto3 and the server's URL and keys
  [[ -f "$STATE/url" ]] || die "no server running from $STATE (run 'start' first)"
  S3_URL="$(<"$STATE/url")" S3_CREDENTIALS="$STATE/credentials" "$PY" -c "$@"
}

cmd_start() {
  local port="" check=0
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --port) port="$2"; shift 2 ;;
      --any-key) check=inf; shift ;;
      -h|--help) usage 0 ;;
      *) die "unknown option for start: $1" ;;
    esac
  done
  "$PY" -c 'import moto.server, boto3' 2>/dev/null \
    || die "moto is not installed in $PY: pip install -e \".[dev]\" (or scripts/setup.sh dev)"
  refuse_if_running
  rm -rf "$STATE"
  mkdir -p "$STATE"
  chmod 700 "$STATE"
  port="${port:-$(free_port)}"
  echo "$port" >"$STATE/port"
  setsid "$PY" -m moto.server --host "$HOST" --port "$port" >"$STATE/log" 2>&1 </dev/null &
  echo $! >"$STATE/pid"
  await_server "$port" "$STATE/log"
  (umask 077; CHECK_AFTER="$check" store '
import json, os, urllib.request, boto3
url = os.environ["S3_URL"]
iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1",
                   aws_access_key_id="setup", aws_secret_access_key="setup")
iam.create_user(UserName="segment")
iam.put_user_policy(UserName="segment", PolicyName="s3", PolicyDocument=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
key = iam.create_access_key(UserName="segment")["AccessKey"]
with open(os.environ["S3_CREDENTIALS"], "w") as out:
    json.dump({"AWS_ACCESS_KEY_ID": key["AccessKeyId"],
               "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}, out)
# From now on (unless --any-key) every request must be signed with a key the server knows.
urllib.request.urlopen(urllib.request.Request(url + "/moto-api/reset-auth",
                                              data=os.environ["CHECK_AFTER"].encode(),
                                              headers={"Content-Type": "text/plain"})).close()
') || { cmd_stop >/dev/null 2>&1; die "could not create the test credentials"; }
  log "S3 server $(<"$STATE/url") (pid $(server_pid)); keys: eval \"\$($0 env)\"; state in $STATE"
  cat "$STATE/url"
}

cmd_stop() { stop_group_state TERM 15; }  # it was started with setsid

cmd_env() {
  [[ -f "$STATE/credentials" ]] || die "no server running from $STATE (run 'start' first)"
  "$PY" -c 'import json, shlex, sys
for name, value in json.load(open(sys.argv[1])).items():
    print(f"export {name}={shlex.quote(value)}")' "$STATE/credentials"
}

client='
import json, os, boto3
keys = json.load(open(os.environ["S3_CREDENTIALS"]))
s3 = boto3.client("s3", endpoint_url=os.environ["S3_URL"], region_name="us-east-1",
                  aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
                  aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"])
'

cmd_bucket() {
  [[ $# -eq 1 ]] || die "usage: bucket NAME"
  store "$client"'
import sys
s3.create_bucket(Bucket=sys.argv[1])
print(f"s3a://{sys.argv[1]}")' "$1"
}

cmd_put() {
  [[ $# -eq 2 && -d "$1" && "$2" == s3a://*/* ]] || die "usage: put DIR s3a://BUCKET/KEY"
  store "$client"'
import pathlib, sys
source, (bucket, _, prefix) = pathlib.Path(sys.argv[1]), sys.argv[2][6:].partition("/")
files = sorted(p for p in source.rglob("*") if p.is_file())
for path in files:
    s3.upload_file(str(path), bucket, f"{prefix.rstrip(chr(47))}/{path.relative_to(source)}")
print(f"{len(files)} files of {source} under {sys.argv[2]}")' "$1" "$2"
}

case "${1:-}" in
  env) cmd_env ;;
  bucket) shift; cmd_bucket "$@" ;;
  put) shift; cmd_put "$@" ;;
  *) dispatch "$@" ;;
esac
