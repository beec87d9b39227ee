"""Scoring new customers with the saved model of a finished run.

:func:`score_customers` reads the run's ``manifest.json`` (its resolved config, rebuilt with
:func:`~segmentation.config.config_from_dict` for the new input and output), validates the
new table exactly as the run validated its input (schema first, then one profiling pass;
the run's duplicate-id and missing-value policies), applies the run's ``PipelineModel``
(imputation is inside it) and writes, atomically, a directory laid out like a run:

- ``labels/``: Parquet, the id, ``segment`` and ``distance`` (the same transform as the
  run's ``labels/``: scoring the training input reproduces them exactly);
- ``segments.csv``: every segment of the model with ``size``, ``share``, ``drift_share``
  and the run's ``description``;
- ``manifest.json``: row accounting, the model run, timings, versions and drift.

Drift: a customer drifts when its distance to its centroid exceeds the training run's 99th
percentile of that segment (``distance_p99`` in the run's ``segments.csv``). On the
training data about 1% drift by construction; a much larger share means new customers fit
the model worse than those it was trained on, and it is time to retrain.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pandas as pd
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from segmentation.assign import DISTANCE_COL, SEGMENT_COL
from segmentation.config import Config, check_paths_apart, config_from_dict
from segmentation.io import atomic_output, check_output_target, read_parquet
from segmentation.job import StageTimer, usable_rows, versions
from segmentation.relabel import FinishedRun, load_finished_run
from segmentation.validate import check_schema, profile_input

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
    started = dt.datetime.now(dt.timezone.utc)
    timer = StageTimer()
    check_paths_apart(input_path, output_path, "--input", "--output")
    check_paths_apart(model_run, output_path, "--model", "--output")
    check_output_target(spark, output_path, mode, name="--output",
                        overwrite_hint="pass --mode overwrite")
    run = load_finished_run(spark, model_run, key="--model")
    cfg = scoring_config(run, input_path=input_path, output_path=output_path, mode=mode)
    with timer.stage("read_and_validate"):
        raw = read_parquet(spark, input_path,
                           ignore_corrupt_files=cfg.input.ignore_corrupt_files)
        check_schema(raw, cfg)
        profile = profile_input(raw, cfg)
        usable, dropped = usable_rows(model_columns(raw, cfg), cfg, profile)
    with atomic_output(spark, output_path, mode) as out:
        with timer.stage("score"):
            labels = (run.model.transform(usable)
                      .select(cfg.input.id_column, SEGMENT_COL, DISTANCE_COL)
                      .persist(StorageLevel.MEMORY_AND_DISK))
            labels.write.parquet(out.file("labels"))
            segments = drift_by_segment(labels, run.segments)
            labels.unpersist()
            usable.unpersist()
        manifest = scoring_manifest(run, cfg, segments, rows_read=profile.rows, dropped=dropped)
        out.write_csv("segments.csv", segments)
        manifest.update(
            missing_values=profile.missing,
            started_at=started.isoformat(),
            finished_at=dt.datetime.now(dt.timezone.utc).isoformat(),
            timings=timer.seconds,
            versions=versions(spark),
        )
        out.write_json("manifest.json", manifest)
    log.info("scored %d customers with %s (drift share %s); outputs in %s",
             manifest["rows_scored"], model_run, manifest["drift_share"], output_path)
    return manifest


def scoring_config(run: FinishedRun, *, input_path: str, output_path: str, mode: str) -> Config:
    """The run's resolved input, features and output config, for ``input_path``/``output_path``.

    The ``model`` and ``evaluation`` sections are left out: scoring does not use them, and a
    run written by an older version may hold keys that no longer exist there.
    """
    data = run.manifest["config"]
    return config_from_dict({
        "input": {**data["input"], "path": input_path},
        "features": data["features"],
        "output": {**data["output"], "path": output_path, "mode": mode},
    })


def model_columns(raw: DataFrame, cfg: Config) -> DataFrame:
    """The id and feature columns; the log names the others (they are fine, and left out)."""
    used = [cfg.input.id_column, *cfg.features.numeric, *cfg.features.categorical]
    ignored = [c for c in raw.columns if c not in used]
    if ignored:
        log.info("ignoring %d input columns the model does not use: %s",
                 len(ignored), ", ".join(ignored))
    return raw.select(*used)


def drift_by_segment(labels: DataFrame, run_segments: pd.DataFrame) -> pd.DataFrame:
    """Per model segment: scored ``size``, ``share``, ``drifted``, ``drift_share``, description.

    One small aggregation; every segment of the model is listed, with size 0 when no new
    customer falls in it (its ``drift_share`` is then empty).
    """
    thresholds = zip(run_segments["segment"], run_segments["distance_p99"], strict=True)
    p99 = F.create_map(*[F.lit(v) for s, d in thresholds for v in (int(s), float(d))])
    counts = (
        labels.groupBy(SEGMENT_COL)
        .agg(F.count(F.lit(1)).alias("size"),
             F.sum((F.col(DISTANCE_COL) > p99[F.col(SEGMENT_COL)]).cast("long"))
             .alias("drifted"))
        .toPandas()
    )
    segments = run_segments[["segment", "distance_p99", "description"]].merge(
        counts, on="segment", how="left")
    segments[["size", "drifted"]] = segments[["size", "drifted"]].fillna(0).astype("int64")
    segments["description"] = segments["description"].fillna("")
    total = int(segments["size"].sum())
    segments["share"] = segments["size"] / total if total else 0.0
    segments["drift_share"] = segments["drifted"] / segments["size"].where(segments["size"] > 0)
    columns = ["segment", "size", "share", "drifted", "drift_share", "distance_p99",
               "description"]
    return segments[columns].sort_values("segment", ignore_index=True)


def scoring_manifest(
    run: FinishedRun, cfg: Config, segments: pd.DataFrame, *, rows_read: int,
    dropped: dict[str, int],
) -> dict[str, Any]:
    """Row accounting, the model and drift (``rows_read = rows_scored + sum(rows_dropped)``)."""
    scored = int(segments["size"].sum())
    drifted = int(segments["drifted"].sum())
    by_segment = {str(s): (None if pd.isna(v) else float(v))
                  for s, v in zip(segments["segment"], segments["drift_share"], strict=True)}
    return {
        "model_run": run.path,
        "chosen_k": run.manifest["chosen_k"],
        "model_finished_at": run.manifest.get("finished_at"),
        "input": {"path": cfg.input.path, "id_column": cfg.input.id_column},
        "rows_read": rows_read,
        "rows_scored": scored,
        "rows_dropped": dropped,
        "drift_share": drifted / scored if scored else None,
        "drift_share_by_segment": by_segment,
        "drift_rule": "distance above the training run's 99th percentile of the segment",
    }

