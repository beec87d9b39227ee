"""Drift of scored customers against the run that made the model.

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

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from segmentation.model.columns import DISTANCE_COL, SEGMENT_COL
from segmentation.outputs.finished import FinishedRun
from segmentation.outputs.layout import SCORED_SEGMENTS_COLUMNS
from segmentation.outputs.privacy import hidden_mask, hidden_segments, withhold


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
