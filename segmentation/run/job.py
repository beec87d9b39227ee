"""The segmentation job (``segment run``): it only orchestrates the stages.

config -> customers (read, partition, validate, drop: :mod:`segmentation.data.customers`)
-> prepare, sweep + metrics, choose k, final model (:mod:`segmentation.model.fit`)
-> segment ids (:mod:`segmentation.outputs.relabel`) -> outputs
(:mod:`segmentation.outputs.write`) -> manifest (:mod:`segmentation.run.manifest`), in the
frame every job runs in (:mod:`segmentation.outputs.jobframe`: lock, one atomic output
directory, stage timer, the catalog table and, with ``tracking.mlflow``, MLflow).

:func:`run_segmentation` takes a SparkSession and a validated :class:`Config` and returns
the manifest it wrote; it never builds a session or exits (the CLI does).
"""

from __future__ import annotations

import logging
from typing import Any

from pyspark.sql import SparkSession

from segmentation.data.customers import load_customers
from segmentation.data.sinks import check_jdbc_target, write_jdbc_table
from segmentation.model.assign import final_model, ids_by_size
from segmentation.model.fit import (
    check_distinct_points,
    check_enough_rows,
    choose_model,
    evaluation_sample,
    prepare_rows,
)
from segmentation.outputs.attribute_profiles import read_profile_input
from segmentation.outputs.jobframe import JobFrame, job_frame
from segmentation.outputs.layout import LABELS
from segmentation.outputs.relabel import load_previous_run, segment_ids
from segmentation.outputs.write import Previous, write_outputs
from segmentation.run.config import Config
from segmentation.run.manifest import run_manifest
from segmentation.tracking.hook import tracking_hook

log = logging.getLogger(__name__)

#: Each stage's share of a run's time, for the estimates of time left: the stage seconds
#: of ``scripts/bench.py --customers 100000000 --only a`` (default config, 8 features,
#: k = 2..10; BENCHMARKS.md, 2026-12-06, commit 0ac15c7), where the work that grows with the
#: rows dominates.
RUN_STAGE_WEIGHTS = {"read_and_validate": 107, "prepare_features": 18, "sweep": 7,
                     "evaluate": 165, "stability": 1, "final_fit": 96, "write_outputs": 208}


def run_segmentation(spark: SparkSession, cfg: Config) -> dict[str, Any]:
    """Run the whole job and write every output under ``cfg.output.path``; return the manifest.

    The output's lock is held from the first step to the last: a second run on the same
    path is refused at once.
    """
    with job_frame(spark, cfg.output, main=LABELS, plan=RUN_STAGE_WEIGHTS) as frame:
        return _segment(spark, cfg, frame)


def _segment(spark: SparkSession, cfg: Config, frame: JobFrame) -> dict[str, Any]:
    timer = frame.timer
    if cfg.evaluation.stability_resamples == 0:
        timer.estimate.skip("stability")
    previous_run = load_previous_run(spark, cfg.model.previous_run, cfg.features)
    if cfg.output.jdbc is not None:
        check_jdbc_target(spark, cfg.output.jdbc, cfg.input.id_column, "output.jdbc")
    profile_columns = cfg.features.profile_columns
    carried = profile_columns if cfg.profile_input is None else []
    with timer.stage("read_and_validate"):
        customers = load_customers(spark, cfg.input, cfg.features, profile_columns=carried)
        timer.rows = customers.rows_read
        check_enough_rows(customers.rows_used, cfg.model)
        profile_rows = (read_profile_input(spark, cfg.profile_input, cfg.input.id_column,
                                           profile_columns)
                        if cfg.profile_input is not None else None)
    timer.rows = customers.rows_used
    with frame.staging() as out:
        with timer.stage("prepare_features"):
            prepared = prepare_rows(customers.rows, customers.rows_used, cfg.features,
                                    cfg.input.id_column, seed=cfg.model.seed, carried=carried)
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
            final = final_model(prepared.preparation, chosen.kmeans, ids, prepared.rows)
            written = write_outputs(
                spark, out, final=final, prepared=prepared, chosen=chosen, ids=ids,
                id_column=cfg.input.id_column, features=cfg.features, output=cfg.output,
                seed=cfg.model.seed, previous=previous, profile_rows=profile_rows)
        manifest = run_manifest(cfg, chosen, customers, written)
        for warning in manifest["warnings"]:
            log.warning("%s", warning)
        model_input = customers.rows.select(cfg.input.id_column, *cfg.features.numeric,
                                            *cfg.features.categorical)
        manifest = frame.write_manifest(out, manifest, tracking_hook(
            cfg.tracking.mlflow, "segment", model_input=model_input),
            id_column=cfg.input.id_column)
    if cfg.output.jdbc is not None:
        write_jdbc_table(spark, frame.main_location, cfg.output.jdbc, cfg.input.id_column,
                         "output.jdbc")
    log.info("chosen k=%d; outputs in %s", manifest["chosen_k"], cfg.output.path)
    return manifest
