"""Scoring new customers with the saved model of a finished run.

:func:`score_customers` reads the run's ``manifest.json`` (its resolved config, rebuilt with
:func:`~segmentation.scoring.config.scoring_config` for the new input), validates the
new table exactly as the run validated its input (schema first, then one profiling pass;
the run's duplicate-id and missing-value policies), applies the run's ``PipelineModel``
(imputation is inside it) and writes, atomically, a directory laid out like a run:

- ``labels/``: Parquet, the id, ``segment`` and ``distance`` (the same transform as the
  run's ``labels/``: scoring the training input reproduces them exactly);
- ``segments.csv``: every segment of the model with ``size``, ``share``, ``drift_share``
  and the run's ``description``, all but the size withheld (``suppressed``) for a segment
  the run withheld or with fewer scored customers than the run's ``output.min_segment_size``;
- ``manifest.json``: row accounting, the model run, timings, versions and drift
  (:mod:`segmentation.scoring.manifest`).
"""

from __future__ import annotations

import logging
from typing import Any

from pyspark.sql import SparkSession

from segmentation.core.caching import cached
from segmentation.core.configfile import OutputMode, check_paths_apart
from segmentation.core.errors import ConfigError
from segmentation.data.config import (
    OutputTarget,
    SourceConfig,
    TableFormat,
    TableMode,
    check_table_options,
    validate_source,
)
from segmentation.data.customers import load_customers
from segmentation.outputs.finished import FinishedRun, load_finished_run
from segmentation.outputs.jobframe import JobFrame, OutputNames, job_frame
from segmentation.outputs.layout import LABEL_COLUMNS, LABELS, SEGMENTS_CSV
from segmentation.scoring.config import scoring_config
from segmentation.scoring.drift import drift_by_segment
from segmentation.scoring.manifest import scoring_manifest
from segmentation.tracking.config import MlflowConfig, is_model_uri
from segmentation.tracking.hook import tracking_hook

log = logging.getLogger(__name__)

#: ``segment score`` takes its output from command-line options.
SCORE_OUTPUT = OutputNames(path="--output", table="--output-table",
                           table_format="--output-table-format",
                           table_mode="--output-table-mode",
                           overwrite_hint="pass --mode overwrite")


def score_customers(
    spark: SparkSession, *, model_run: str, output_path: str, input_path: str | None = None,
    source: SourceConfig | None = None, mode: OutputMode = "error", table: str | None = None,
    table_format: TableFormat = "parquet", table_mode: TableMode = "overwrite",
    tracking: MlflowConfig | None = None, registry_uri: str | None = None,
) -> dict[str, Any]:
    """Assign segments to the customers of ``source`` (or the Parquet at ``input_path``);
    write under ``output_path``.

    ``model_run`` is a finished run's directory or a model logged to MLflow by ``segment
    run`` (``models:/NAME@ALIAS``, ``models:/NAME/VERSION``, ``runs:/RUN_ID/model``), found
    at ``registry_uri`` (default: ``MLFLOW_TRACKING_URI``). With ``tracking``, the scoring
    run is logged to MLflow once its outputs are written.

    The input is read however it is given (files of any format, a catalog table, JDBC),
    independently of how the model's training data was read. With ``table``, the labels
    are also that catalog table (:mod:`segmentation.data.sinks`), or are committed to that
    Delta or Iceberg table (``table_format``), replacing its rows or, with ``table_mode``
    merge, merged into them by the id column (:mod:`segmentation.data.tablecommit`).
    Returns the manifest
    written. Fails (leaving ``output_path`` as it was) when the model directory is not a
    finished run, or the input lacks a column the model needs or breaks the run's
    validation rules.
    """
    if (source is None) == (input_path is None):
        raise ConfigError("give the customers to score either as --input PATH or as an "
                          "input section (--config, --input-table, ...), not both or neither")
    source = source or SourceConfig(path=input_path)
    validate_source(source, "input")
    if source.path is not None:
        check_paths_apart(source.path, output_path, "--input", "--output")
    if not is_model_uri(model_run):
        check_paths_apart(model_run, output_path, "--model", "--output")
    names = SCORE_OUTPUT
    check_table_options(table, table_format, table_mode,
                        keys=(names.table, names.table_format, names.table_mode))
    target = OutputTarget(path=output_path, mode=mode, table=table, table_format=table_format,
                          table_mode=table_mode)
    with job_frame(spark, target, main=LABELS, names=SCORE_OUTPUT) as frame:
        return _score(spark, frame, model_run=model_run, source=source,
                      registry_uri=registry_uri, tracking=tracking)


def _score(spark: SparkSession, frame: JobFrame, *, model_run: str, source: SourceConfig,
           registry_uri: str | None, tracking: MlflowConfig | None) -> dict[str, Any]:
    timer = frame.timer
    run = model_to_score_with(spark, model_run, registry_uri)
    cfg = scoring_config(run, source)
    with timer.stage("read_and_validate"):
        customers = load_customers(spark, cfg.input, cfg.features)
        timer.rows = customers.rows_read
    timer.rows = customers.rows_used
    with frame.staging() as out:
        with timer.stage("score"):
            labels = cached(run.model.transform(customers.rows)
                            .select(cfg.input.id_column, *LABEL_COLUMNS))
            labels.write.parquet(out.file(LABELS))
            segments = drift_by_segment(labels, run)
            labels.unpersist()
            customers.rows.unpersist()
        out.write_csv(SEGMENTS_CSV, segments)
        manifest = frame.write_manifest(out, scoring_manifest(run, cfg, segments, customers),
                                        tracking_hook(tracking, "score"),
                                        id_column=cfg.input.id_column)
    log.info("scored %d customers with %s (drift share %s); outputs in %s",
             manifest["rows_scored"], model_run, manifest["drift_share"], frame.path)
    return manifest


def model_to_score_with(spark: SparkSession, model_run: str, registry_uri: str | None
                        ) -> FinishedRun:
    """The finished run of ``model_run``: a run directory, or a model logged to MLflow."""
    if is_model_uri(model_run):
        from segmentation.tracking.registry import load_logged_run

        return load_logged_run(spark, model_run, registry_uri)
    return load_finished_run(spark, model_run, key="--model")
