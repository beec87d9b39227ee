"""Failures that are not the user's input, told in one line: Spark's or the machine's
(exit code 5) or a bug of ours (an internal error, exit code 70); :func:`guarded` turns any
failure of a command into its line on stderr and its exit code.

A failed Spark job reaches Python as a py4j error in classic mode (its first line only
names the JVM call; the cause follows) and as a ``pyspark.errors`` exception over Spark
Connect (the cause first, then the JVM stack trace); both are read here from their text.
A Python exception raised inside a Spark task (a ``mapInArrow`` function, a Python
pipeline stage) arrives the same way, with the worker's Python traceback in the text: when
that traceback runs through a file of this package, the bug is ours, not Spark's.
"""

from __future__ import annotations

import builtins
import datetime as dt
import logging
import os
import sys
import tempfile
import traceback
from collections.abc import Callable
from pickle import PicklingError
from typing import Any

from pyspark.errors import PySparkException

from segmentation.core.errors import (
    INTERNAL_ERROR_EXIT_CODE,
    INTERRUPT_EXIT_CODE,
    RUNTIME_FAILURE_EXIT_CODE,
    SegmentationError,
    one_line,
    task_exception,
)
from segmentation.core.secrets import redact_text

log = logging.getLogger(__name__)

#: Python exceptions of the machine, not of our code, wherever they are raised.
_MACHINE = (OSError, MemoryError)
#: PySpark's own exceptions for a call made wrongly (by our code): bugs of ours.
_MISUSE = (AssertionError, AttributeError, LookupError, NotImplementedError, TypeError,
           ValueError, PicklingError)


def is_spark_error(exc: BaseException) -> bool:
    """True for an exception raised by Spark (either mode), not by Python code of ours."""
    return isinstance(exc, PySparkException) or type(exc).__module__.startswith("py4j")


def is_internal_error(exc: BaseException) -> bool:
    """True when ``exc`` (not a :class:`SegmentationError`) is a bug in this package's code.

    Spark's failures (lost executors, out of memory, I/O) and the machine's (``OSError``,
    ``MemoryError``) are not; a Python exception that our code raised inside a Spark task
    is, unless it is itself the machine's.
    """
    if isinstance(exc, _MACHINE):
        return False
    if isinstance(exc, PySparkException) and isinstance(exc, _MISUSE):
        return True
    if is_spark_error(exc):
        return our_task_exception(str(exc)) is not None
    return True


def our_task_exception(text: str) -> str | None:
    """``Name: message`` of the Python exception a Spark task of ours raised, else None.

    ``text`` is a Spark error's text; it holds the worker's Python traceback when a Python
    function in a task raised. It counts as ours when a frame of that traceback is in a file
    of this package and the exception is not the machine's (``OSError``, ``MemoryError``).
    """
    found = task_exception(text)
    if found is None or not found[1]:
        return None
    line = found[0]
    machine = getattr(builtins, line.partition(":")[0].rpartition(".")[2], None)
    if isinstance(machine, type) and issubclass(machine, _MACHINE):
        return None
    return line


def runtime_failure(exc: BaseException) -> str:
    """One line for a failure that is not the user's input: its cause, and what to do."""
    if "OutOfMemoryError" in str(exc):
        return (f"Spark ran out of memory ({one_line(exc)}); give it more: "
                "--set spark.spark.driver.memory=16g in local mode, spark-submit "
                "--driver-memory / --executor-memory on a cluster")
    return f"runtime failure: {one_line(exc)}"


def internal_error(exc: BaseException, traceback_file: str | None) -> str:
    """One line for a bug of ours: what was raised, and where its traceback was written."""
    cause = our_task_exception(str(exc)) if is_spark_error(exc) else None
    where = " in a Spark task" if cause else ""
    saved = (f"traceback in {traceback_file}" if traceback_file
             else "the traceback could not be written; run with --debug to see it")
    return (f"internal error{where} (a bug in segmentation, not in your input): "
            f"{redact_text(cause) if cause else one_line(exc)}; {saved}")


def save_traceback(exc: BaseException) -> str | None:
    """Write ``exc``'s traceback (and the command) to a new file in the system temp
    directory, secrets redacted; return its path, or None when it cannot be written."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    header = (f"segment {' '.join(sys.argv[1:])}\n"
              f"at {dt.datetime.now(dt.timezone.utc).isoformat()}, pid {os.getpid()}\n\n")
    try:
        handle, path = tempfile.mkstemp(prefix="segment-internal-error-", suffix=".txt")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(redact_text(header + text))
    except OSError:
        return None
    return path


def guarded(action: Callable[[], Any], *, debug: bool) -> int:
    """Run ``action``; turn any failure into one stderr line and the exit code of its class.

    A bug of ours (see :func:`is_internal_error`) is told apart from a failure of Spark or
    the machine: users report the first, and retry or resize for the second. ``debug`` logs
    the stack trace too.
    """
    try:
        action()
    except SegmentationError as exc:
        if debug:
            log.exception("failed")
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return INTERRUPT_EXIT_CODE
    except Exception as exc:  # noqa: BLE001 - Spark, machine or our bug: one line unless --debug
        if debug:
            log.exception("failed")
        if is_internal_error(exc):
            print(f"error: {internal_error(exc, save_traceback(exc))}", file=sys.stderr)
            return INTERNAL_ERROR_EXIT_CODE
        print(f"error: {runtime_failure(exc)}", file=sys.stderr)
        return RUNTIME_FAILURE_EXIT_CODE
    return 0
