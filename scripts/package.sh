#!/usr/bin/env bash
# Build what spark-submit ships to executors, into ${SEGMENT_BUILD_DIR:-build/submit}:
#
#   segmentation.zip  the `segmentation` package (for --py-files), built from the source
#                     tree, reproducible (sorted entries, fixed timestamps);
#   python-env/       a Python environment that has the third-party dependencies
#                     (numpy, pandas, pyarrow, pyyaml, scipy, ...) but NOT this project:
#                     executors (and the driver) run python-env/bin/python, so the only
#                     `segmentation` they can import is the shipped zip.
#
# Why a zip plus a pinned interpreter rather than a packed venv (--archives + venv-pack):
# see docs/cluster.md. On a real cluster python-env/ stands for the image or installation
# that provides the same Python and dependencies at the same path on every node.
#
#   scripts/package.sh            -> prints the zip path on stdout
#
# Environment: SEGMENT_PYTHON (default: the project's .venv/bin/python), SEGMENT_BUILD_DIR.
set -euo pipefail

# shellcheck source=scripts/daemons.sh
source "$(dirname "${BASH_SOURCE[0]}")/daemons.sh"
need_python
mkdir -p "$BUILD"
BUILD="$(cd "$BUILD" && pwd)"

# 1. The package zip (the same builder uploads it over Spark Connect).
"$PY" -m segmentation.core.package "$BUILD/segmentation.zip" >/dev/null
log "$BUILD/segmentation.zip"

# 2. The executor/driver Python: a venv on the same interpreter whose only site-packages
#    entry points at the project venv's site-packages. A path line in a .pth file adds that
#    directory to sys.path without processing the .pth files inside it, so the project's
#    editable install (__editable__...pth) is NOT active there.
ENV="$BUILD/python-env"
if [[ ! -x "$ENV/bin/python" ]]; then
  rm -rf "$ENV"
  "$PY" -m venv --without-pip "$ENV"
fi
SITE="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
ENV_SITE="$("$ENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
echo "$SITE" >"$ENV_SITE/segmentation_deps.pth"

# Check it: the dependencies import, the project does not (from a neutral cwd, without
# the caller's PYTHONPATH).
(cd / && env -u PYTHONPATH "$ENV/bin/python" - <<'EOF'
import importlib.util
import sys

for name in ("numpy", "pandas", "pyarrow", "yaml", "pyspark"):
    if importlib.util.find_spec(name) is None:
        sys.exit(f"package.sh: {name} is not importable by {sys.executable}")
if importlib.util.find_spec("segmentation") is not None:
    sys.exit(f"package.sh: {sys.executable} can import segmentation without the zip")
EOF
)
echo "$BUILD/segmentation.zip"
