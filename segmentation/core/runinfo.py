"""What every job records about its own run: stage timings (with progress while a stage
runs) and library versions."""

from __future__ import annotations

import importlib.metadata
import logging
import platform
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from segmentation.core.progress import RunEstimate, StageProgress, duration

log = logging.getLogger(__name__)


class StageTimer:
    """Wall-clock seconds per named stage, with progress while each runs (see
    :mod:`segmentation.core.progress`) and a line as each ends.

    ``plan`` weighs the stages a job expects to run (their shares of its time), for the
    estimates of time left; ``rows``, once the job knows it, is the row count the stages
    work on, for rows per second.
    """

    def __init__(self, plan: Mapping[str, float] | None = None) -> None:
        self.seconds: dict[str, float] = {}
        self.rows: int | None = None
        self.estimate = RunEstimate(plan or {})

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        progress = StageProgress(name, self.rows, self.estimate)
        try:
            yield
        finally:
            elapsed = progress.stop()
        self.seconds[name] = round(elapsed, 3)
        self.estimate.finish(name, elapsed)
        log.info("%s", self.summary(name, self.seconds[name]))

    def summary(self, name: str, elapsed: float) -> str:
        """The end-of-stage line: seconds, rows, rows per second, time left in the run."""
        parts = [f"{name}: {elapsed:.1f} s"]
        if self.rows is not None:
            parts.append(f"{self.rows:,} rows, {self.rows / max(elapsed, 1e-9):,.0f} rows/s")
        left = self.estimate.run_left(None, 0.0)
        if left is not None and set(self.estimate.plan) - set(self.estimate.finished):
            parts.append(f"run ~{duration(left)} left")
        return ", ".join(parts)


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

