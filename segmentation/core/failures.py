"""Failures that are not the user's input (Spark or the machine), told in one line.

A failed Spark job reaches Python as a py4j error in classic mode (its first line only
names the JVM call; the cause follows) and as a ``pyspark.errors`` exception over Spark
Connect (the cause first, then the JVM stack trace); both are read here from their text.
"""

from __future__ import annotations

import re

from pyspark.errors import PySparkException

from segmentation.core.secrets import redact_text


def is_spark_error(exc: BaseException) -> bool:
    """True for an exception raised by Spark (either mode), not by Python code of ours."""
    return isinstance(exc, PySparkException) or type(exc).__name__ == "Py4JJavaError"


def runtime_failure(exc: BaseException) -> str:
    """One line for a failure that is not the user's input: its cause, and what to do."""
    if "OutOfMemoryError" in str(exc):
        return (f"Spark ran out of memory ({one_line(exc)}); give it more: "
                "--set spark.spark.driver.memory=16g in local mode, spark-submit "
                "--driver-memory / --executor-memory on a cluster")
    return f"runtime failure: {one_line(exc)}"


def one_line(exc: BaseException) -> str:
    """The meaningful line of an exception, secrets redacted (see :func:`_one_line`)."""
    return redact_text(_one_line(exc))


def _one_line(exc: BaseException) -> str:
    """The meaningful line of an exception.

    In classic mode the first line of a py4j error only names the JVM call: its cause is the
    Java exception after it, and, when a task failed, the exception of that task ("most
    recent failure: Lost task ...: CAUSE"). Over Connect the first line is the cause.
    """
    text = str(exc).strip()
    task = re.search(r"most recent failure: Lost task .*?\(TID \d+\) \([^)]*\): ([^\n]+)", text)
    if task:
        return task.group(1).strip()[:300]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    java = next((line.lstrip(": ") for line in lines[1:2] if line.startswith(":")), None)
    if java:
        return java[:300]
    return f"{type(exc).__name__}: {lines[0]}"[:300] if lines else type(exc).__name__
