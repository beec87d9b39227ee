"""Drift of scored customers against the run that made the model, and the scoring manifest.

A customer drifts when its distance to its centroid exceeds the training run's 99th
percentile of that segment (``distance_p99`` in the run's ``private/thresholds.csv``; in
``segments.csv`` for runs written before). On the training data about 1% drift by
construction; a much larger share means new customers fit the model worse than those it
was trained on, and it is time to retrain.

Privacy: a segment withheld in the training run, or with fewer than the run's
``output.min_segment_size`` scored customers, is exported with its size only
(``suppressed``); the manifest's overall drift share is over the shown segments, so that
it cannot be subtracted back into a withheld one.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from segmentation.data.sources import source_summary
from segmentation.model.columns import DISTANCE_COL, SEGMENT_COL
from segmentation.outputs.finished import FinishedRun
from segmentation.outputs.layout import (
    FORMAT_VERSION,
    SCORED_SEGMENTS_COLUMNS,
    SUPPRESSED_COL,
)
from segmentation.outputs.privacy import hidden_mask, hidden_segments, withhold
from segmentation.scoring.config import ScoringConfig


def drift_by_segment(labels: DataFrame, run: FinishedRun) -> pd.DataFrame:
    """Per model segment: scored ``size``, ``share``, ``drifted``, ``drift_share``,
    ``distance_p99``, description and ``suppressed``.

    One small aggregation; every segment of the model is listed, with size 0 when no new
    customer falls in it (its ``drift_share`` is then empty). Segments withheld by the
    training run or with fewer scored customers than its ``output.min_segment_size`` have
    everything but their size blank.
    """
    min_size = run.manifest.min_segment_size
    thresholds = zip(run.thresholds[SEGMENT_COL], run.thresholds["distance_p99"], strict=True)
    p99 = F.create_map(*[F.lit(v) for s, d in thresholds for v in (int(s), float(d))])
    counts = (
        labels.groupBy(SEGMENT_COL)
        .agg(F.count(F.lit(1)).alias("size"),
             F.sum((F.col(DISTANCE_COL) > p99[F.col(SEGMENT_COL)]).cast("long"))
             .alias("drifted"))
        .toPandas()
    )
    segments = run.segments[[SEGMENT_COL, "distance_p99", "description"]].merge(
        counts, on=SEGMENT_COL, how="left")
    segments[["size", "drifted"]] = segments[["size", "drifted"]].fillna(0).astype("int64")
    segments["description"] = segments["description"].fillna("")
    total = int(segments["size"].sum())
    segments["share"] = segments["size"] / total if total else 0.0
    segments["drift_share"] = segments["drifted"] / segments["size"].where(segments["size"] > 0)
    hidden = (hidden_mask(segments, min_size)
              | segments[SEGMENT_COL].isin(hidden_segments(run.segments, min_size)))
    segments = withhold(segments, hidden, ["drifted", "drift_share", "distance_p99",
                                           "description"])
    segments = segments.astype({"drifted": "Int64"})
    return segments[SCORED_SEGMENTS_COLUMNS].sort_values(SEGMENT_COL, ignore_index=True)


def scoring_manifest(
    run: FinishedRun, cfg: ScoringConfig, segments: pd.DataFrame, *, rows_read: int,
    dropped: dict[str, int],
) -> dict[str, Any]:
    """Row accounting, the model and drift (``rows_read = rows_scored + sum(rows_dropped)``)."""
    scored = int(segments["size"].sum())
    shown = segments[~segments[SUPPRESSED_COL]]
    in_shown = int(shown["size"].sum())
    drifted = int(shown["drifted"].sum())
    by_segment = {str(s): (None if pd.isna(v) else float(v))
                  for s, v in zip(segments[SEGMENT_COL], segments["drift_share"], strict=True)}
    return {
        "format_version": FORMAT_VERSION,
        "model_run": run.path,
        "chosen_k": run.manifest.chosen_k,
        "model_finished_at": run.manifest.data.get("finished_at"),
        "input": {**source_summary(cfg.input), "id_column": cfg.input.id_column},
        "rows_read": rows_read,
        "rows_scored": scored,
        "rows_dropped": dropped,
        "drift_share": drifted / in_shown if in_shown else None,
        "drift_share_by_segment": by_segment,
        "drift_rule": "distance above the training run's 99th percentile of the segment",
        "drift_over": "customers of the segments shown",
        "customers_in_shown_segments": in_shown,
        "suppressed_segments": [int(s) for s in segments.loc[segments[SUPPRESSED_COL],
                                                             SEGMENT_COL]],
    }

