"""The frame every job runs in, so that a job module only composes its own stages.

:func:`job_frame` holds the output's lock for the whole job (a second run on the path is
refused at once) and checks, before any work, that the path can be written and that the
catalog table meant to show the job's main folder is free. The :class:`JobFrame` it yields
times the stages (with progress) and writes through a staging directory swapped into place
when complete (:mod:`segmentation.core.atomic`). Its manifest is written last, once, with
the times and versions every job records and, when tracking is on, the record of the
MLflow run that logged the complete staged outputs. A Delta or Iceberg ``output.table`` is
committed just before the manifest, from the complete staged files, so that the manifest
records the committed version (:mod:`segmentation.data.tablecommit`); a Parquet one shows
the new outputs after the swap. A tracking failure is raised only when the job is otherwise
done, so it never costs the outputs. No file of a published run is written again.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from pyspark.sql import SparkSession

from segmentation.core.atomic import ClaimedOutput, StagedOutput, claimed_output
from segmentation.core.runinfo import StageTimer, versions
from segmentation.data.config import OutputTarget
from segmentation.data.sinks import check_table_target, publish_table, table_location
from segmentation.data.tablecommit import check_lake_target, commit_rows
from segmentation.outputs.layout import MANIFEST

log = logging.getLogger(__name__)


class Tracked(Protocol):
    """What a tracking hook recorded of a job."""

    def manifest_entry(self) -> dict[str, Any] | None:
        """The manifest's ``tracking`` entry (None: nothing to record)."""

    def raise_if_incomplete(self, output_path: str) -> None:
        """Raise when something was not logged (the outputs are complete either way)."""


#: Logs a job's complete staged outputs (``out``, its manifest, the final output path)
#: elsewhere; built by :func:`segmentation.tracking.hook.tracking_hook`.
Tracking = Callable[[StagedOutput, dict[str, Any], str], Tracked]


@dataclass(frozen=True)
class OutputNames:
    """How the user named a job's output, for messages: config keys or command-line options."""

    path: str = "output.path"
    table: str = "output.table"
    table_format: str = "output.table_format"
    table_mode: str = "output.table_mode"
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
    target: OutputTarget
    names: OutputNames
    timer: StageTimer
    started: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    tracked: Tracked | None = None

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
        ends without an error, then a Parquet table (if any) shows the new outputs."""
        with self.claim.staging() as out:
            yield out
        table = self.target.table
        if table is not None and self.target.table_format == "parquet":
            publish_table(self.spark, table, self.main_location, self.names.table)

    def write_manifest(self, out: StagedOutput, manifest: Mapping[str, Any],
                       tracking: Tracking | None = None, *, id_column: str) -> dict[str, Any]:
        """Write the job's ``manifest``, the last file of its outputs, with the stamps every
        job records and, with ``tracking``, what it logged of the outputs; return it.

        A Delta or Iceberg table is committed first, from the staged main folder (merged
        by ``id_column`` with ``table_mode: merge``), and the commit recorded as
        ``output_table``; a failed commit fails the job before its outputs are swapped in.
        """
        committed = self._commit(out, id_column)
        finished = dt.datetime.now(dt.timezone.utc)
        stamped = {
            **manifest,
            **({"output_table": committed} if committed is not None else {}),
            "started_at": self.started.isoformat(),
            "finished_at": finished.isoformat(),
            "duration_seconds": round((finished - self.started).total_seconds(), 3),
            "timings": self.timer.seconds,
            "versions": versions(self.spark.version),
        }
        if tracking is not None:
            self.tracked = tracking(out, stamped, self.claim.path)
            entry = self.tracked.manifest_entry()
            if entry is not None:
                stamped["tracking"] = entry
        out.write_json(MANIFEST, stamped)
        return stamped

    def _commit(self, out: StagedOutput, id_column: str) -> dict[str, Any] | None:
        """Commit the staged main folder to a Delta or Iceberg table (None: no such table)."""
        target = self.target
        if target.table is None or target.table_format == "parquet":
            return None
        self.claim.lock.check_held()  # a run that lost its lock must not commit either
        log.info("committing %s to %s table %s", self.main, target.table_format, target.table)
        rows = self.spark.read.parquet(out.file(self.main))
        return commit_rows(self.spark, rows, table=target.table,
                           table_format=target.table_format, table_mode=target.table_mode,
                           id_column=id_column, run_id=self.claim.lock.holder.run_id,
                           key=self.names.table)


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
        frame = JobFrame(spark, claim, main, target, names, StageTimer(plan))
        if target.table is not None and target.table_format != "parquet":
            check_lake_target(spark, target.table, target.table_format, names.table)
        elif target.table is not None:
            check_table_target(spark, target.table, frame.main_location, names.table)
        yield frame
        if frame.tracked is not None:
            frame.tracked.raise_if_incomplete(claim.path)
