"""The tests' JVM options: C1 only, and this environment's class archive
(``segmentation.core.class_archive``) for every JVM the tests start, not only the drivers
the jobs launch (``segment`` processes, servers, executors, spark-submit drivers)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from segmentation.core.class_archive import archive_options

ROOT = Path(__file__).resolve().parents[2]


def java_tool_options() -> str:
    """``JAVA_TOOL_OPTIONS`` for the tests, making the class archive first where set-up has
    not (``scripts/setup.sh`` does; a failure to make it fails the run, naming why)."""
    if not archive_options():
        done = subprocess.run([sys.executable, str(ROOT / "scripts" / "class_archive.py")],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(done.stderr.strip())
    return f"-XX:TieredStopAtLevel=1 {archive_options()}"
