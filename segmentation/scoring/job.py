"""Scoring new customers with the saved model of a finished run.

:func:`score_customers` reads the run's ``manifest.json`` (its resolved config, rebuilt with
:func:`~segmentation.config.config_from_dict` for the new input and output), validates the
new table exactly as the run validated its input (schema first, then one profiling pass;
the run's duplicate-id and missing-value policies), applies the run's ``PipelineModel``
(imputation is inside it) and writes, atomically, a directory laid out like a run:

- ``labels/``: Parquet, the id, ``segment`` and ``distance`` (the same transform as the
  run's ``labels/``: scoring the training input reproduces them exactly);
- ``segments.csv``: every segment of the model with ``size``, ``share``, ``drift_share``
  and the run's ``description``, all but the size withheld (``suppressed``) for a segment
  the run withheld or with fewer scored customers than the run's ``output.min_segment_size``;
- ``manifest.json``: row accounting, the model run, timings, versions and drift
  (:mod:`segmentation.scoring.drift`).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from pyspark.sql import SparkSession

from segmentation.config import Config, config_from_dict
from segmentation.core.atomic import ClaimedOutput, claimed_output
from segmentation.core.caching import cached
from segmentation.core.configfile import check_paths_apart
from segmentation.core.runinfo import StageTimer, versions
from segmentation.data.customers import load_customers
from segmentation.model.columns import DISTANCE_COL, SEGMENT_COL
from segmentation.outputs.finished import FinishedRun, load_finished_run
from segmentation.outputs.layout import LABELS, MANIFEST, SEGMENTS_CSV
from segmentation.scoring.drift import drift_by_segment, scoring_manifest

log = logging.getLogger(__name__)


def score_customers(
    spark: SparkSession, *, model_run: str, input_path: str, output_path: str,
    mode: str = "error",
) -> dict[str, Any]:
    """Assign segments to the customers at ``input_path``; write under ``output_path``.

    Returns the manifest written. Fails (leaving ``output_path`` as it was) when the model
    directory is not a finished run, or the input lacks a column the model needs or breaks
    the run's validation rules.
    """
    check_paths_apart(input_path, output_path, "--input", "--output")
    check_paths_apart(model_run, output_path, "--model", "--output")
    with claimed_output(output_path, mode, spark=spark, name="--output",
                        overwrite_hint="pass --mode overwrite") as claim:
        return _score(spark, claim, model_run=model_run, input_path=input_path)


def _score(spark: SparkSession, claim: ClaimedOutput, *, model_run: str, input_path: str
           ) -> dict[str, Any]:
    started = dt.datetime.now(dt.timezone.utc)
    timer = StageTimer()
    output_path, mode = claim.path, claim.mode
    run = load_finished_run(spark, model_run, key="--model")
    cfg = scoring_config(run, input_path=input_path, output_path=output_path, mode=mode)
    with timer.stage("read_and_validate"):
        customers = load_customers(spark, cfg.input, cfg.features)
    with claim.staging() as out:
        with timer.stage("score"):
            labels = cached(run.model.transform(customers.rows)
                            .select(cfg.input.id_column, SEGMENT_COL, DISTANCE_COL))
            labels.write.parquet(out.file(LABELS))
            segments = drift_by_segment(labels, run)
            labels.unpersist()
            customers.rows.unpersist()
        manifest = scoring_manifest(run, cfg, segments, rows_read=customers.rows_read,
                                    dropped=customers.dropped)
        out.write_csv(SEGMENTS_CSV, segments)
        manifest.update(
            missing_values=customers.profile.missing,
            started_at=started.isoformat(),
            finished_at=dt.datetime.now(dt.timezone.utc).isoformat(),
            timings=timer.seconds,
            versions=versions(spark.version),
        )
        out.write_json(MANIFEST, manifest)
    log.info("scored %d customers with %s (drift share %s); outputs in %s",
             manifest["rows_scored"], model_run, manifest["drift_share"], output_path)
    return manifest


def scoring_config(run: FinishedRun, *, input_path: str, output_path: str, mode: str) -> Config:
    """The run's resolved input, features and output config, for ``input_path``/``output_path``.

    The ``model`` and ``evaluation`` sections are left out: scoring does not use them, and a
    run written by an older version may hold keys that no longer exist there.
    """
    data = run.manifest.config
    return config_from_dict({
        "input": {**data["input"], "path": input_path},
        "features": data["features"],
        "output": {**data["output"], "path": output_path, "mode": mode},
    })
