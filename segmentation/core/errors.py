"""Exception classes the jobs turn into one-line messages and distinct exit codes.

Each class is a ``ValueError`` so library callers can catch them broadly, while the
CLI maps each class to its own exit code (see :data:`EXIT_CODES`).
"""

from __future__ import annotations

from segmentation.core.secrets import redact_text


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


#: Exit code for failures that are not the user's input (Spark or the machine failed).
RUNTIME_FAILURE_EXIT_CODE = 5

#: Exit code for a bug in this package's own code (``EX_SOFTWARE`` of ``sysexits.h``).
INTERNAL_ERROR_EXIT_CODE = 70


class SparkUnavailableError(SegmentationError):
    """Spark cannot be reached (for example a Spark Connect server that does not answer)."""

    exit_code = RUNTIME_FAILURE_EXIT_CODE
