"""How customers moved between a previous run's segments and this run's.

``migration.csv`` counts the customers per (previous segment, segment) over the customers
of either run, with cells below ``output.min_segment_size`` (and those that would give them
away by subtraction) withheld (:func:`segmentation.outputs.privacy.suppress_small_cells`);
the manifest's ``migration`` entry summarises all customers (counts of customers, like the
segment sizes: no value of anyone), with the id matching.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from segmentation.data.read import read_parquet
from segmentation.model.columns import SEGMENT_COL
from segmentation.outputs.finished import FinishedRun
from segmentation.outputs.layout import PREVIOUS_SEGMENT_COL, SUPPRESSED_COL
from segmentation.outputs.privacy import hidden_segments
from segmentation.outputs.relabel import Matching


def migration_counts(
    spark: SparkSession, previous: FinishedRun, labels: DataFrame, id_col: str
) -> pd.DataFrame:
    """``previous_segment, segment, count`` over customers of either run (full outer join),
    nothing withheld yet.

    A customer only in the previous run has an empty (NA) ``segment``; one only in this run
    an empty ``previous_segment``.
    """
    before = read_parquet(spark, previous.labels_path).select(
        F.col(previous.id_column).alias(id_col),
        F.col(SEGMENT_COL).alias(PREVIOUS_SEGMENT_COL),
    )
    counts: pd.DataFrame = (
        before.join(labels.select(id_col, SEGMENT_COL), id_col, "full_outer")
        .groupBy(PREVIOUS_SEGMENT_COL, SEGMENT_COL)
        .count()
        .toPandas()
    )
    counts = counts.astype({PREVIOUS_SEGMENT_COL: "Int64", SEGMENT_COL: "Int64",
                            "count": "int64"})
    return counts.sort_values([PREVIOUS_SEGMENT_COL, SEGMENT_COL], na_position="last",
                              ignore_index=True)


def migration_summary(
    previous: FinishedRun, matching: Matching, counts: pd.DataFrame, *, hidden: set[int],
    shown: pd.DataFrame,
) -> dict[str, Any]:
    """The manifest's ``migration`` entry, from the complete ``counts`` and the cells as
    exported (``shown``: :func:`~segmentation.outputs.privacy.suppress_small_cells`).

    ``kept_share`` is over customers present in both runs (None when there are none, or
    when a cell of the diagonal is withheld: with the shown ones it would give the withheld
    cells' total). The centroid shift of a segment withheld in either run (``hidden``: this
    run's; the previous run's from its ``segments.csv``) is left out: it is computed from
    the segment's centre.
    """
    withheld = hidden | hidden_segments(previous.segments, previous.manifest.min_segment_size)
    both = counts.dropna(subset=[PREVIOUS_SEGMENT_COL, SEGMENT_COL])
    in_both = int(both["count"].sum())
    kept = int(both.loc[both[PREVIOUS_SEGMENT_COL] == both[SEGMENT_COL], "count"].sum())
    diagonal = (shown[PREVIOUS_SEGMENT_COL] == shown[SEGMENT_COL]).fillna(False)
    diagonal_withheld = bool(shown.loc[diagonal, SUPPRESSED_COL].any())
    return {
        "previous_run": previous.path,
        "customers_in_both": in_both,
        "only_previous": int(counts.loc[counts[SEGMENT_COL].isna(), "count"].sum()),
        "only_this_run": int(counts.loc[counts[PREVIOUS_SEGMENT_COL].isna(), "count"].sum()),
        "kept_share": kept / in_both if in_both and not diagonal_withheld else None,
        "suppressed_cells": int(shown[SUPPRESSED_COL].sum()),
        "centroid_shift": {str(k): v for k, v in matching.centroid_shift.items()
                           if k not in withheld},
        "new_segments": matching.new_segments,
        "vanished_segments": matching.vanished_segments,
    }
