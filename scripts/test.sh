#!/usr/bin/env bash
# Fresh machine to a full test run: set up with the test tools, a headless browser for the
# report test, then every test (local mode; a standalone cluster, Spark Connect, PostgreSQL and
# MLflow servers on loopback, each started once and stopped by its pid).
#   scripts/test.sh [PYTEST ARGS]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh dev
scripts/install-browser.sh
export SPARK_LOCAL_IP=127.0.0.1
exec .venv/bin/python -m pytest "$@"
