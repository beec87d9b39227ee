#!/usr/bin/env bash
# The Spark-line matrix of CI: the newest line (.venv, the primary suite's environment) makes
# one shared data set and the reference runs (tests/matrix/test_reference.py); every other
# line gets its own environment (scripts/setup.sh --spark X.Y dev, .venv-sparkX.Y/, made in
# the background while the step before runs) and runs its end-to-end subset there under
# coverage (tests/matrix/test_line.py: run, retrain, score, features, report, a run of an
# older version, spark-submit to a standalone cluster and Spark Connect from that line's own
# pip Spark); last, the newest line scores every model the other lines saved
# (tests/matrix/test_across_lines.py). Servers start once per line, on loopback, and stop by
# pid also when a test fails. The newest line that has both Delta Lake and Iceberg releases
# (segmentation.core.connectors) also runs tests/lakehouse, the lakehouse tables' suite.
#
#   scripts/matrix.sh [X.Y ...]     default: every line `scripts/setup.sh --lines` names but
#                                   the newest (which the primary suite covers)
#
# Work folder: ${SEGMENT_MATRIX_DIR:-build/matrix}, emptied first; per line its run, its
# coverage (lines/X.Y/coverage.txt) and which modules of segmentation/ it ran beyond their
# import (scripts/matrix_coverage.py). Ends with each step's time and result; exit 1 when
# any step failed (the other lines still run).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
WORK="${SEGMENT_MATRIX_DIR:-$ROOT/build/matrix}"
read -ra all <<<"$(scripts/setup.sh --lines)"
newest="${all[-1]}"
if [[ $# -gt 0 ]]; then lines=("$@"); else lines=("${all[@]:0:${#all[@]}-1}"); fi

[[ -x .venv/bin/python ]] || scripts/setup.sh dev
primary="$(.venv/bin/python -c 'import pyspark; print(".".join(pyspark.__version__.split(".")[:2]))')"
if [[ "$primary" != "$newest" ]]; then
  echo "matrix.sh: .venv has Spark $primary, not the newest line $newest: run scripts/setup.sh dev" >&2
  exit 2
fi

rm -rf "$WORK"
mkdir -p "$WORK/lines"
export SEGMENT_MATRIX_DIR="$WORK" SEGMENT_MATRIX_PRIMARY="$ROOT/.venv/bin" SPARK_LOCAL_IP=127.0.0.1
PYTEST=(-m pytest -q -p no:cacheprovider --durations=5)

summary=()
failed=0
step() {  # step NAME COMMAND...: run it, time it, note the result (never stops the matrix)
  local name="$1" start=$SECONDS status=passed
  shift
  echo "=== matrix: $name" >&2
  "$@" || { status=FAILED; failed=1; }
  summary+=("$(printf '%-28s %5d s  %s' "$name" $((SECONDS - start)) "$status")")
  [[ "$status" == passed ]]
}

# The newest line with both table connectors: it runs tests/lakehouse too.
lakehouse_line="$(.venv/bin/python -c 'from segmentation.core.connectors import DELTA, ICEBERG
print(max(set(DELTA.releases) & set(ICEBERG.releases), key=lambda v: tuple(map(int, v.split(".")))))')"
export SEGMENT_LAKEHOUSE_LINE="$lakehouse_line"  # test_line.py leaves that line's tables to it

line_tests() {  # line_tests X.Y: the line's subset under coverage, then its module report
  local venv=".venv-spark$1" data="$WORK/lines/$1/.coverage" rc=0
  mkdir -p "$WORK/lines/$1"
  COVERAGE_FILE="$data" "$venv/bin/python" -m coverage run "${PYTEST[@]}" \
    tests/matrix/test_line.py || rc=$?
  if [[ "$1" == "$lakehouse_line" ]]; then  # its own process: its session has the connectors
    COVERAGE_FILE="$data" "$venv/bin/python" -m coverage run "${PYTEST[@]}" \
      tests/lakehouse || rc=$?
  fi
  COVERAGE_FILE="$data" "$venv/bin/python" -m coverage combine -q || true
  COVERAGE_FILE="$data" "$venv/bin/python" -m coverage report >"$WORK/lines/$1/coverage.txt" || true
  "$venv/bin/python" scripts/matrix_coverage.py "$data" "Spark $1" || rc=1
  return "$rc"
}

setup_pid=""
trap '[[ -z "$setup_pid" ]] || kill "$setup_pid" 2>/dev/null || true' EXIT
start_setup() {  # start_setup X.Y: the line's set-up in the background (CPU left by the step
  # running meanwhile; its log in lines/X.Y/setup.log)
  mkdir -p "$WORK/lines/$1"
  (
    start=$SECONDS
    rc=0
    scripts/setup.sh --spark "$1" dev >"$WORK/lines/$1/setup.log" 2>&1 || rc=$?
    echo $((SECONDS - start)) >"$WORK/lines/$1/setup.seconds"
    exit "$rc"
  ) &
  setup_pid=$!
}
finish_setup() {  # finish_setup X.Y: wait for its set-up; note its time and result
  local status=passed
  wait "$setup_pid" || { status=FAILED; failed=1; tail -n 30 "$WORK/lines/$1/setup.log" >&2; }
  setup_pid=""
  summary+=("$(printf '%-28s %5d s  %s (in the background)' "Spark $1: set-up" \
    "$(cat "$WORK/lines/$1/setup.seconds" 2>/dev/null || echo 0)" "$status")")
  [[ "$status" == passed ]]
}

begin=$SECONDS
start_setup "${lines[0]}"
if step "Spark $newest: reference" .venv/bin/python "${PYTEST[@]}" tests/matrix/test_reference.py; then
  for i in "${!lines[@]}"; do
    ready=0
    finish_setup "${lines[$i]}" && ready=1
    if ((i + 1 < ${#lines[@]})); then start_setup "${lines[$((i + 1))]}"; fi
    if ((ready)); then step "Spark ${lines[$i]}: subset" line_tests "${lines[$i]}" || true; fi
  done
  step "Spark $newest: models of all" .venv/bin/python "${PYTEST[@]}" \
    tests/matrix/test_across_lines.py || true
else
  finish_setup "${lines[0]}" || true
fi
echo "=== matrix: $(printf '%s ' "${lines[@]}")against $newest, $((SECONDS - begin)) s in all" >&2
printf '%s\n' "${summary[@]}" >&2
exit "$failed"
