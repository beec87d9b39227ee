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

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${SEGMENT_PYTHON:-$ROOT/.venv/bin/python}"
BUILD="${SEGMENT_BUILD_DIR:-$ROOT/build/submit}"
[[ -x "$PY" ]] || { echo "package.sh: no Python at $PY (set SEGMENT_PYTHON)" >&2; exit 1; }
mkdir -p "$BUILD"
BUILD="$(cd "$BUILD" && pwd)"

# 1. The package zip. A missing segmentation/__init__.py (a namespace package in the source
#    tree) is added as an empty file, so the zip holds a regular package.
"$PY" - "$ROOT/segmentation" "$BUILD/segmentation.zip" <<'EOF'
import os
import sys
import zipfile

source, target = sys.argv[1], sys.argv[2]
top = os.path.dirname(source)
entries = []
for folder, dirs, files in os.walk(source):
    dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.startswith("."))
    for name in sorted(files):
        if name.endswith((".pyc", ".pyo")) or name.startswith("."):
            continue
        path = os.path.join(folder, name)
        entries.append((os.path.relpath(path, top), path))
names = {arcname for arcname, _ in entries}
if not entries:
    sys.exit(f"package.sh: no files under {source}")
tmp = target + ".tmp"
with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
    packages = {os.path.dirname(a) for a, _ in entries if a.endswith(".py")}
    for package in sorted(packages):
        init = f"{package}/__init__.py"
        if init not in names:
            entries.append((init, None))
    for arcname, path in sorted(entries):
        info = zipfile.ZipInfo(arcname, date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        data = b"" if path is None else open(path, "rb").read()
        zf.writestr(info, data)
os.replace(tmp, target)
print(f"package.sh: {target}: {len(entries)} files", file=sys.stderr)
EOF

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

# Check it: the dependencies import, the project does not (from a neutral cwd).
(cd / && "$ENV/bin/python" - <<'EOF'
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
