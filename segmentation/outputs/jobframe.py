"""The frame every job runs in, so that a job module only composes its own stages.

:func:`job_frame` holds the output's lock for the whole job (a second run on the path is
refused at once) and checks, before any work, that the path can be written and that the
catalog table meant to show the job's main folder is free. The :class:`JobFrame` it yields
times the stages (with progress), writes through a staging directory swapped into place
when complete (:mod:`segmentation.core.atomic`), stamps the manifest with the times and
versions every job records, publishes the table once the outputs are in place, and hands
the finished job to its tracking hook.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import SparkSession

from segmentation.core.atomic import ClaimedOutput, StagedOutput, claimed_output
from segmentation.core.runinfo import StageTimer, versions
from segmentation.data.config import OutputTarget
from segmentation.data.sinks import check_table_target, publish_table, table_location
from segmentation.outputs.layout import MANIFEST

#: Logs a finished job (its output path and manifest) elsewhere; returns the manifest with
#: what it recorded. Built by :func:`segmentation.tracking.config.tracking_hook`.
Tracking = Callable[[SparkSession, str, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class OutputNames:
    """How the user named a job's output, for messages: config keys or command-line options."""

    path: str = "output.path"
    table: str = "output.table"
    overwrite_hint: str = "set output.mode: overwrite"


#: A job whose output is the ``output`` section of its config file.
CONFIG_NAMES = OutputNames()


@dataclass
class JobFrame:
    """One job's claimed output, its stage timer and its start (see :func:`job_frame`)."""

    spark: SparkSession
    claim: ClaimedOutput
    #: The folder of the output that the catalog table shows (labels, features).
    main: str
    table: str | None
    names: OutputNames
    timer: StageTimer
    started: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))

    @property
    def path(self) -> str:
        return self.claim.path

    @property
    def main_location(self) -> str:
        """The absolute location of the main folder once the outputs are in place."""
        return table_location(self.claim.path, self.main)

    @contextmanager
    def staging(self) -> Iterator[StagedOutput]:
        """The staging directory the job writes into; swapped into place when the block
        ends without an error, then the table (if any) shows the new outputs."""
        with self.claim.staging() as out:
            yield out
        if self.table is not None:
            publish_table(self.spark, self.table, self.main_location, self.names.table)

    def write_manifest(self, out: StagedOutput, manifest: Mapping[str, Any]) -> dict[str, Any]:
        """Write the job's ``manifest`` with the stamps every job records; return it."""
        finished = dt.datetime.now(dt.timezone.utc)
        stamped = {
            **manifest,
            "started_at": self.started.isoformat(),
            "finished_at": finished.isoformat(),
            "duration_seconds": round((finished - self.started).total_seconds(), 3),
            "timings": self.timer.seconds,
            "versions": versions(self.spark.version),
        }
        out.write_json(MANIFEST, stamped)
        return stamped

    def track(self, tracking: Tracking | None, manifest: dict[str, Any]) -> dict[str, Any]:
        """The manifest after the job's tracking hook (when tracking is on) logged the run."""
        if tracking is None:
            return manifest
        return tracking(self.spark, self.claim.path, manifest)


@contextmanager
def job_frame(
    spark: SparkSession, target: OutputTarget, *, main: str,
    plan: Mapping[str, float] | None = None, names: OutputNames = CONFIG_NAMES,
) -> Iterator[JobFrame]:
    """Claim ``target.path`` for the duration of the block and check, before any work, that
    it can be written as ``target.mode`` says and that ``target.table`` may show ``main``.

    ``plan`` weighs the stages the job expects (for the estimates of time left).
    """
    with claimed_output(target.path, target.mode, spark=spark, name=names.path,
                        overwrite_hint=names.overwrite_hint) as claim:
        frame = JobFrame(spark, claim, main, target.table, names, StageTimer(plan))
        if target.table is not None:
            check_table_target(spark, target.table, frame.main_location, names.table)
        yield frame
