"""The class archive of this installation: Spark's classes, ready to map into a new JVM.

A job on small data spends most of its time starting a JVM, and most of that loading and
verifying the same few thousand Spark classes from their jars. Java dumps the classes a JVM
loaded into an archive at its exit (``-XX:ArchiveClassesAtExit``, JDK 13+) and maps that
archive into later JVMs (``-XX:SharedArchiveFile``) instead. ``scripts/setup.sh`` makes one
per environment (``scripts/class_archive.py``: one small ``segment run``), for this
pyspark and this Java runtime; a driver this project launches itself maps it.

The JVM checks the archive against its own build and class path and ignores one that does
not match (``-Xlog:cds*=off`` keeps that silent), so a stale archive costs only the time it
would have saved. Classes are the same classes either way: no answer changes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path

import pyspark

#: Keeps a JVM silent about an archive it cannot use (another Java build, class path).
QUIET = "-Xlog:cds*=off"


def java_runtime() -> Path | None:
    """The ``java`` Spark's launch scripts run: ``$JAVA_HOME/bin/java``, else the one on
    PATH (None: no Java)."""
    home = os.environ.get("JAVA_HOME")
    found = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    return Path(found).resolve() if found and Path(found).is_file() else None


def archive_path() -> Path | None:
    """Where this environment keeps the archive for this pyspark and this Java runtime
    (None: no Java)."""
    java = java_runtime()
    if java is None:
        return None
    stat = java.stat()
    spark = Path(pyspark.__file__).resolve().parent
    key = hashlib.sha256(f"{spark}\n{pyspark.__version__}\n{java}\n{stat.st_size}\n"
                         f"{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    return Path(sys.prefix) / "share" / "segmentation" / f"spark-{pyspark.__version__}-{key}.jsa"


def archive_options() -> str:
    """JVM options that map the archive, or "" where there is none."""
    path = archive_path()
    return f"-XX:SharedArchiveFile={path} {QUIET}" if path and path.is_file() else ""
