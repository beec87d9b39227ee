"""What every job records about its own run: stage timings, library versions, and the
first line of an exception for one-line messages."""

from __future__ import annotations

import importlib.metadata
import logging
import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)


class StageTimer:
    """Wall-clock seconds per named stage, logged as each stage ends."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - start, 3)
        log.info("%s: %.1f s", name, self.seconds[name])


def versions(spark_version: str) -> dict[str, str]:
    """Versions of everything that can change a result (``spark_version``: the session's)."""
    import numpy
    import pandas
    import pyarrow
    import pyspark

    try:
        own = importlib.metadata.version("segmentation")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree or a zip
        own = "unknown"
    return {
        "segmentation": own,
        "spark": spark_version,
        "pyspark": pyspark.__version__,
        "python": platform.python_version(),
        "pandas": pandas.__version__,
        "numpy": numpy.__version__,
        "pyarrow": pyarrow.__version__,
    }


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its class name when it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
