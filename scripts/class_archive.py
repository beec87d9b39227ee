"""Make this environment's class archive (``segmentation.core.class_archive``) unless it
is there: one ``segment run`` on 2,000 generated customers, through ``spark-submit`` with
``-XX:ArchiveClassesAtExit``, so that the archive holds the classes a run loads.

    .venv/bin/python scripts/class_archive.py

Run by ``scripts/setup.sh`` with the environment's own Python. Through ``spark-submit`` the
driver JVM is the parent process: the archive is whole when the command returns, and only
then takes its final name (a concurrent set-up never maps a half-written one).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyspark

from segmentation.core.class_archive import QUIET, archive_path
from segmentation.synthetic.customers import generate_customers

ROOT = Path(__file__).resolve().parents[1]


def dump(path: Path) -> str | None:
    """Write the archive to ``path``; why it could not (None: it did)."""
    submit = Path(pyspark.__file__).resolve().parent / "bin" / "spark-submit"
    part = path.with_name(f"{path.name}.{os.getpid()}.part")
    env = {k: v for k, v in os.environ.items() if k != "JAVA_TOOL_OPTIONS"}
    env.update(PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable,
               SPARK_LOCAL_IP=env.get("SPARK_LOCAL_IP", "127.0.0.1"))
    with tempfile.TemporaryDirectory() as work:
        generate_customers(2000, Path(work) / "customers", seed=1)
        done = subprocess.run(
            [str(submit), "--master", "local[2]", "--driver-java-options",
             f"-XX:ArchiveClassesAtExit={part} {QUIET}", str(ROOT / "jobs" / "segment.py"),
             "--config", str(ROOT / "conf" / "default.yaml"),
             "--set", f"input.path={work}/customers", "--set", f"output.path={work}/run",
             "--set", "model.k_max=4"],
            capture_output=True, text=True, env=env)
    if done.returncode != 0 or not part.is_file():
        part.unlink(missing_ok=True)
        tail = "\n".join(done.stderr.strip().splitlines()[-20:])
        return f"the run that makes it failed (exit {done.returncode}):\n{tail}"
    part.replace(path)
    return None


def main() -> int:
    path = archive_path()
    if path is None:
        print("error: no Java runtime found for the class archive", file=sys.stderr)
        return 1
    if path.is_file():
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    failed = dump(path)
    if failed:
        print(f"error: could not make the class archive {path}: {failed}", file=sys.stderr)
        return 1
    print(f"class archive {path} ({path.stat().st_size / 2**20:.0f} MB) in "
          f"{time.monotonic() - began:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
