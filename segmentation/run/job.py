"""The segmentation job (``segment run``): it only orchestrates the stages.

config -> customers (read, partition, validate, drop: :mod:`segmentation.data.customers`)
-> prepare, sweep + metrics, choose k, final model (:mod:`segmentation.model.fit`)
-> segment ids (:mod:`segmentation.outputs.relabel`) -> outputs
(:mod:`segmentation.outputs.write`) -> manifest, all in one atomic output directory; then,
with ``tracking.mlflow``, the finished run is logged to MLflow
(:mod:`segmentation.tracking.runs`, imported only then).

:func:`run_segmentation` takes a SparkSession and a validated :class:`Config` and returns
the manifest it wrote; it never builds a session or exits (the CLI does).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from pyspark.sql import SparkSession

from segmentation.core.atomic import ClaimedOutput, claimed_output
from segmentation.core.runinfo import StageTimer, versions
from segmentation.data.customers import load_customers
from segmentation.data.sinks import (
    check_table_target,
    publish_table,
    table_location,
    write_jdbc_table,
)
from segmentation.model.assign import ids_by_size
from segmentation.model.fit import (
    check_distinct_points,
    check_enough_rows,
    choose_model,
    evaluation_sample,
    prepare_rows,
)
from segmentation.outputs.layout import LABELS, MANIFEST
from segmentation.outputs.relabel import load_previous_run, segment_ids
from segmentation.outputs.write import Previous, write_outputs
from segmentation.run.config import Config
from segmentation.run.manifest import run_manifest

log = logging.getLogger(__name__)

#: Each stage's share of a run's time, for the estimates of time left: the stage seconds
#: of ``scripts/bench.py --customers 100000000 --only a`` (default config, 8 features,
#: k = 2..10; BENCHMARKS.md), where the work that grows with the rows dominates.
RUN_STAGE_WEIGHTS = {"read_and_validate": 178, "prepare_features": 212, "sweep": 14,
                     "evaluate": 445, "stability": 2, "final_fit": 348, "write_outputs": 248}


def run_segmentation(spark: SparkSession, cfg: Config) -> dict[str, Any]:
    """Run the whole job and write every output under ``cfg.output.path``; return the manifest.

    The output's lock is held from the first step to the last: a second run on the same
    path is refused at once.
    """
    with claimed_output(cfg.output.path, cfg.output.mode, spark=spark) as claim:
        return _segment(spark, cfg, claim)


def _segment(spark: SparkSession, cfg: Config, claim: ClaimedOutput) -> dict[str, Any]:
    started = dt.datetime.now(dt.timezone.utc)
    timer = StageTimer(RUN_STAGE_WEIGHTS)
    if cfg.evaluation.stability_resamples == 0:
        timer.estimate.skip("stability")
    labels_table = table_location(cfg.output.path, LABELS)
    if cfg.output.table is not None:
        check_table_target(spark, cfg.output.table, labels_table, "output.table")
    previous_run = load_previous_run(spark, cfg.model.previous_run, cfg.features)
    with timer.stage("read_and_validate"):
        customers = load_customers(spark, cfg.input, cfg.features)
        timer.rows = customers.rows_read
        check_enough_rows(customers.rows_used, cfg.model)
    timer.rows = customers.rows_used
    with claim.staging() as out:
        with timer.stage("prepare_features"):
            prepared = prepare_rows(customers.rows, cfg.features, cfg.input.id_column,
                                    seed=cfg.model.seed)
        sample = evaluation_sample(prepared, cfg.evaluation.sample_size, cfg.model.seed)
        check_distinct_points(prepared, sample, cfg.model)
        chosen = choose_model(prepared, sample, cfg.model, cfg.evaluation, timer)
        previous = None
        if previous_run is not None:
            with timer.stage("match_previous_ids"):
                matching = segment_ids(previous_run, cfg.features, prepared.preparation,
                                       chosen.final.centers, chosen.sizes)
            previous = Previous(previous_run, matching)
        ids = previous.matching.ids if previous is not None else ids_by_size(chosen.sizes)
        with timer.stage("write_outputs"):
            written = write_outputs(
                spark, out, prepared=prepared, chosen=chosen, ids=ids,
                id_column=cfg.input.id_column, features=cfg.features, output=cfg.output,
                seed=cfg.model.seed, previous=previous)
        manifest = run_manifest(cfg, chosen, customers, written)
        for warning in manifest["warnings"]:
            log.warning("%s", warning)
        manifest.update(
            started_at=started.isoformat(),
            finished_at=dt.datetime.now(dt.timezone.utc).isoformat(),
            timings=timer.seconds,
            versions=versions(spark.version),
        )
        manifest["duration_seconds"] = round(
            (dt.datetime.now(dt.timezone.utc) - started).total_seconds(), 3)
        out.write_json(MANIFEST, manifest)
    if cfg.output.table is not None:
        publish_table(spark, cfg.output.table, labels_table, "output.table")
    if cfg.output.jdbc is not None:
        write_jdbc_table(spark, labels_table, cfg.output.jdbc, "output.jdbc")
    if cfg.tracking.mlflow is not None:
        from segmentation.tracking.runs import track_segmentation

        model_input = customers.rows.select(cfg.input.id_column, *cfg.features.numeric,
                                            *cfg.features.categorical).schema
        manifest = track_segmentation(spark, cfg.tracking.mlflow, cfg.output.path, manifest,
                                      model_input)
    log.info("chosen k=%d; outputs in %s", manifest["chosen_k"], cfg.output.path)
    return manifest
