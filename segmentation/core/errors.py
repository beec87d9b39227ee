"""Exception classes the jobs turn into one-line messages and distinct exit codes, and
:func:`one_line`, the line any exception is told in.

The exit code says what the user must do: fix the config (2), fix the input (3), fix or free
the output location (4), retry or give Spark more (5, Spark or the machine failed), bring a
service back or fix its address or credentials (6), or report a bug (70); 130 is an
interrupt.

Each class is a ``ValueError`` so library callers can catch them broadly, while the
CLI maps each class to its own exit code. Pure Python (no Spark), so that the file-system
and lock code the report shares can tell its failures the same way.
"""

from __future__ import annotations

import re

from segmentation.core.secrets import redact_text

#: A frame of the Python traceback of a Spark task in a file of this package.
_OUR_FRAME = re.compile(r'File "[^"\n]*[/\\]segmentation[/\\][^"\n]*\.py", line \d+')
#: The last line of a Python traceback: ``module.Name: message`` (or just ``Name``).
_EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*)(?::\s?(.*))?$")


class SegmentationError(ValueError):
    """Base class of every error this project reports to a user.

    The message is redacted when the error is made (:func:`segmentation.core.secrets.
    redact_text`): a secret that reached it (``password=...`` in a URL, a secret setting)
    is never printed or logged.
    """

    exit_code = 1

    def __init__(self, message: object = "", *args: object) -> None:
        super().__init__(redact_text(str(message)), *args)


class ConfigError(SegmentationError):
    """The configuration is wrong: a key, a type, a value or a combination."""

    exit_code = 2


class InputDataError(SegmentationError):
    """The input data cannot be segmented as configured (schema, values, size)."""

    exit_code = 3


class OutputError(SegmentationError):
    """The output location cannot be written as configured."""

    exit_code = 4


class ServiceError(SegmentationError):
    """A service the job uses cannot be reached, refuses the credentials or fails: a Spark
    Connect server, a database, an MLflow tracking server, an object store."""

    exit_code = 6


class SparkUnavailableError(ServiceError):
    """Spark cannot be reached (for example a Spark Connect server that does not answer)."""


#: Exit code for failures that are not the user's input (Spark or the machine failed).
RUNTIME_FAILURE_EXIT_CODE = 5

#: Exit code for a bug in this package's own code (``EX_SOFTWARE`` of ``sysexits.h``).
INTERNAL_ERROR_EXIT_CODE = 70

#: Exit code for an interrupt (Ctrl-C, SIGINT): 128 + the signal's number, as shells report.
INTERRUPT_EXIT_CODE = 130

#: What a store or server says when it cannot be reached or refuses the credentials: the
#: pyarrow S3 client's and Hadoop's (S3A, HDFS) words, the JVM's and Python's socket errors.
#: An object store's "access denied" counts: a wrong key gets it (a HEAD has no body to
#: say more), and a right key without the rights needs the same fix, its policy.
_SERVICE_FAILURE = re.compile(
    r"NETWORK_CONNECTION|Could not connect|Couldn't connect|Connection refused|"
    r"UnknownHost|Could not resolve host|Name or service not known|No route to host|"
    r"ACCESS_DENIED|AccessDenied|SIGNATURE_DOES_NOT_MATCH|SignatureDoesNotMatch|"
    r"INVALID_ACCESS_KEY_ID|InvalidAccessKeyId|InvalidClientTokenId|ExpiredToken|"
    r"signature we calculated does not match|Access Key Id you provided does not exist")


def service_or(kind: type[SegmentationError], message: str, cause: BaseException
               ) -> SegmentationError:
    """``kind(message)``, or a :class:`ServiceError` when ``cause`` says that the store or
    server could not be reached or refused the credentials: the user must then bring the
    service back or fix its keys, not change the path or the data. A ``cause`` that is a
    ServiceError already (a database that refused the login) stays one.

    >>> type(service_or(OutputError, "x", OSError("curlCode: 7, Could not connect"))).__name__
    'ServiceError'
    >>> type(service_or(OutputError, "x", PermissionError("Permission denied"))).__name__
    'OutputError'
    """
    unusable = isinstance(cause, ServiceError) or _SERVICE_FAILURE.search(str(cause))
    return (ServiceError if unusable else kind)(message)


def one_line(exc: BaseException) -> str:
    """The meaningful line of an exception, secrets redacted (see :func:`_one_line`)."""
    return redact_text(_one_line(exc))


def _one_line(exc: BaseException) -> str:
    """The meaningful line of an exception.

    In classic mode the first line of a py4j error only names the JVM call: its cause is the
    Java exception after it, and, when a task failed, the exception of that task ("most
    recent failure: Lost task ...: CAUSE"). Over Connect the first line is the cause. When
    Python code in a task raised, the cause is the last line of its Python traceback.
    Anything else is ``Name: first line`` (just ``Name`` without a message).
    """
    text = str(exc).strip()
    python = task_exception(text)
    if python is not None:
        return python[0]
    task = re.search(r"most recent failure: Lost task .*?\(TID \d+\) \([^)]*\): ([^\n]+)", text)
    if task:
        return task.group(1).strip()[:300]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    java = next((line.lstrip(": ") for line in lines[1:2] if line.startswith(":")), None)
    if java:
        return java[:300]
    return f"{type(exc).__name__}: {lines[0]}"[:300] if lines else type(exc).__name__


def task_exception(text: str) -> tuple[str, bool] | None:
    """The last line of the last Python traceback in ``text``, and whether a frame of it
    is in a file of this package; None without a traceback."""
    start = text.rfind("Traceback (most recent call last):")
    if start < 0:
        return None
    lines = text[start:].splitlines()[1:]
    ours = any(_OUR_FRAME.search(line) for line in lines)
    for line in lines:
        if _EXCEPTION_LINE.match(line):
            return line.strip()[:300], ours
    return None
