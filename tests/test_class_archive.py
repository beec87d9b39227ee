"""The class archive set-up makes: a driver this project launches maps it, and a JVM it
does not fit ignores it without a word."""

from __future__ import annotations

import os
import subprocess
import sys

from segmentation.core.class_archive import QUIET, archive_path


def without_test_options() -> dict[str, str]:
    """This environment without the tests' JAVA_TOOL_OPTIONS (which map the archive too)."""
    return {k: v for k, v in os.environ.items() if k != "JAVA_TOOL_OPTIONS"}


def python(code: str) -> subprocess.CompletedProcess[str]:
    """``code`` in a new interpreter, its JVMs without the tests' JAVA_TOOL_OPTIONS."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=without_test_options(), timeout=300)


def test_a_driver_launched_here_maps_the_archive() -> None:
    path = archive_path()
    assert path is not None and path.is_file(), "set-up (or the test session) makes it"
    # The session a job builds passes the archive to its driver...
    built = python(
        "from segmentation.core.session import build_session\n"
        "s = build_session(app_name='archive', master='local[1]', settings={})\n"
        "print(s.conf.get('spark.driver.extraJavaOptions'))")
    assert built.returncode == 0, built.stderr[-3000:]
    assert f"-XX:SharedArchiveFile={path}" in built.stdout
    # ...and such a driver maps it: with -Xshare:on, a JVM that cannot use the archive
    # refuses to start.
    mapped = python(
        "from pyspark.sql import SparkSession\n"
        "from segmentation.core.session import driver_java_options\n"
        "s = (SparkSession.builder.master('local[1]').config('spark.driver.extraJavaOptions',"
        " driver_java_options() + ' -Xshare:on').getOrCreate())\n"
        "print(s.range(5).count())")
    assert mapped.returncode == 0, mapped.stderr[-3000:]
    assert mapped.stdout.strip().endswith("5")


def test_a_jvm_the_archive_does_not_fit_ignores_it_silently() -> None:
    path = archive_path()
    assert path is not None and path.is_file()
    # Another class path than Spark's: the archive does not fit; nothing is said of it.
    done = subprocess.run(["java", f"-XX:SharedArchiveFile={path}", *QUIET.split(),
                           "-version"], capture_output=True, text=True,
                          env=without_test_options())
    assert done.returncode == 0
    assert done.stdout == ""
    assert "archive" not in done.stderr.lower() and "cds" not in done.stderr.lower()
