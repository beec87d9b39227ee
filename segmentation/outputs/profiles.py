"""Per-segment profiles in original units: small tables to plot and read locally.

One ``groupBy`` aggregation over all rows gives, per segment, the size, mean distance and,
per numeric feature, count, mean, std, min and max; the overall mean and std follow exactly
from those (pooled), so no aggregation over all customers is needed. Quartiles and the
99th distance percentile (``percentile_approx``, relative error 0.001) come from a second
``groupBy`` over a seeded sample of at most ``quantile_rows`` customers per segment (all
customers of smaller segments; one aggregation in all when no segment is larger): the
quantile sketches cost about three times the rest of the aggregation per row, and 100,000
rows pin a quartile to about 0.14 % of rank (one standard error), the order of the
sketch's own error. One small ``groupBy`` per categorical column gives level shares. ``z``
is the segment mean's standardised deviation from the overall mean (for a category level:
the share's deviation in units of the overall share's binomial std).

Privacy (:mod:`segmentation.outputs.privacy`): the rows of a segment smaller than
``output.min_segment_size`` have every statistic blank and ``suppressed`` true, and the
overall statistics (``overall_mean``, ``overall_std``, the overall level shares, hence
``z``) are over the customers of the other segments, so that no subtraction gives the
small segment back. The ``segments`` table returned is complete (its ``distance_p99`` is
scoring's drift threshold); :func:`segmentation.outputs.privacy.withhold` makes its
exported form.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from segmentation.data.config import FeaturesConfig
from segmentation.data.missing import present_value
from segmentation.model.columns import DISTANCE_COL, SEGMENT_COL
from segmentation.model.pipeline import category_column
from segmentation.outputs.layout import PROFILE_COLUMNS, PROFILE_STATISTICS
from segmentation.outputs.privacy import shown_ids, withhold

_ACCURACY = 1_000  # percentile_approx relative error 0.1%
#: Rows per segment the quartiles and the distance percentile are estimated from.
QUANTILE_ROWS = 100_000


def _numeric_aggregates(name: str) -> list[Column]:
    value = present_value(name)
    return [
        F.count(value).alias(f"{name}|count"),
        F.avg(value).alias(f"{name}|mean"),
        F.stddev_samp(value).alias(f"{name}|std"),
        F.min(value).alias(f"{name}|min"),
        F.max(value).alias(f"{name}|max"),
    ]


def segment_profiles(
    labelled: DataFrame, features: FeaturesConfig, sizes: dict[int, int], *,
    min_segment_size: int, seed: int, quantile_rows: int = QUANTILE_ROWS,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(profiles, segments) tables from rows carrying features, ``segment`` and ``distance``.

    ``sizes`` (segment -> customers, known from the evaluation) set the quantile sample up
    front: when no segment is larger than ``quantile_rows`` (0: none is sampled), the
    quantiles join the one aggregation over all rows.
    ``segments`` has ``segment, size, share, mean_distance, distance_p99`` of every segment
    (nothing withheld); ``profiles`` has the rows of segments below ``min_segment_size``
    withheld and its overall statistics over the other segments' customers.
    """
    exact = [F.count(F.lit(1)).alias("size"), F.avg(DISTANCE_COL).alias("mean_distance")]
    for name in features.numeric:
        exact += _numeric_aggregates(name)
    fractions = {int(s): min(1.0, quantile_rows / n) if quantile_rows and n else 1.0
                 for s, n in sizes.items()}
    if all(f == 1.0 for f in fractions.values()):
        per_segment = _per_segment(labelled, exact + _quantile_aggregates(features))
    else:
        sample = labelled.sampleBy(SEGMENT_COL, fractions, seed)
        per_segment = _per_segment(labelled, exact).merge(
            _per_segment(sample, _quantile_aggregates(features)), on=SEGMENT_COL, how="left")
    per_segment = per_segment.sort_values(SEGMENT_COL).reset_index(drop=True)
    segments = per_segment[[SEGMENT_COL, "size", "mean_distance", "distance_p99"]].copy()
    segments.insert(2, "share", segments["size"] / float(segments["size"].sum()))
    counts = dict(zip(segments[SEGMENT_COL], segments["size"], strict=True))
    shown = shown_ids(counts, min_segment_size)
    in_overall = per_segment[per_segment[SEGMENT_COL].isin(shown)]
    overall = {name: pooled_mean_std(in_overall, name) for name in features.numeric}

    rows = []
    for _, seg in per_segment.iterrows():
        for name in features.numeric:
            rows.append(_numeric_row(int(seg[SEGMENT_COL]), name, seg, overall))
    profiles = pd.DataFrame(rows, columns=PROFILE_COLUMNS)
    if features.categorical:
        levels = [_category_rows(labelled, name, counts, shown) for name in features.categorical]
        # no level is named when every segment is withheld: nothing to add
        profiles = pd.concat([profiles, *[f for f in levels if not f.empty]], ignore_index=True)
    profiles = withhold(profiles, ~profiles[SEGMENT_COL].isin(shown), PROFILE_STATISTICS)
    profiles = profiles.sort_values([SEGMENT_COL, "kind", "feature"], kind="stable")
    return profiles.reset_index(drop=True), segments


def _quantile_aggregates(features: FeaturesConfig) -> list[Column]:
    aggs = [F.percentile_approx(DISTANCE_COL, 0.99, _ACCURACY).alias("distance_p99")]
    for name in features.numeric:
        aggs.append(F.percentile_approx(present_value(name), [0.25, 0.5, 0.75], _ACCURACY)
                    .alias(f"{name}|quartiles"))
    return aggs


def _per_segment(df: DataFrame, aggs: list[Column]) -> pd.DataFrame:
    out: pd.DataFrame = df.groupBy(SEGMENT_COL).agg(*aggs).toPandas()
    out[SEGMENT_COL] = out[SEGMENT_COL].astype(int)
    return out


def pooled_mean_std(per_segment: pd.DataFrame, name: str) -> tuple[float, float]:
    """Mean and sample std of feature ``name`` over all segments, from their own statistics
    (:func:`pooled_moments`)."""
    std = per_segment[f"{name}|std"].to_numpy(dtype=float)
    _, mean, var = pooled_moments(per_segment[f"{name}|count"].to_numpy(dtype=float),
                                  per_segment[f"{name}|mean"].to_numpy(dtype=float), std**2)
    return mean, float(np.sqrt(var))


def pooled_moments(n: np.ndarray, mean: np.ndarray, var: np.ndarray
                   ) -> tuple[float, float, float]:
    """(count, mean, sample variance) of the union of groups given by their own.

    The total sum of squares is the within-group part, sum((n - 1) * var), plus the
    between-group part, sum(n * (mean - overall mean)^2); a group without a value counts
    nothing, one with a single value (variance NaN) has no within part. The mean is NaN
    without values, the variance NaN with fewer than two.
    """
    present = n > 0
    n, mean, var = n[present], mean[present], np.nan_to_num(var[present])
    total = float(n.sum())
    if total == 0:
        return 0.0, np.nan, np.nan
    overall = float((n * mean).sum() / total)
    if total < 2:
        return total, overall, np.nan
    squares = ((n - 1) * var).sum() + (n * (mean - overall) ** 2).sum()
    return total, overall, float(squares / (total - 1))


def _numeric_row(
    segment: int, name: str, seg: pd.Series, overall: dict[str, tuple[float, float]]
) -> list:
    quartiles = seg[f"{name}|quartiles"]
    present = isinstance(quartiles, (list, np.ndarray))  # not NaN: no value, or none sampled
    q25, median, q75 = list(quartiles) if present else [np.nan] * 3
    mean = seg[f"{name}|mean"]
    overall_mean, overall_std = overall[name]
    return [segment, name, "numeric", seg[f"{name}|count"], mean, seg[f"{name}|std"],
            seg[f"{name}|min"], q25, median, q75, seg[f"{name}|max"], overall_mean,
            overall_std, _z(mean, overall_mean, overall_std), False]


def _z(mean: float, overall_mean: float, overall_std: float) -> float:
    if overall_std is None or not np.isfinite(overall_std) or overall_std == 0:
        return 0.0
    return float((mean - overall_mean) / overall_std)


def _category_rows(
    labelled: DataFrame, name: str, sizes: dict[int, int], shown: list[int]
) -> pd.DataFrame:
    """Level shares of column ``name`` per segment; the levels and overall shares are those
    of the ``shown`` segments' customers (a level only a withheld segment has is not named)."""
    counts: pd.DataFrame = (
        labelled.groupBy(SEGMENT_COL, F.col(category_column(name)).alias("level"))
        .count()
        .toPandas()
    )
    in_overall = counts[counts[SEGMENT_COL].isin(shown)]
    total = float(sum(sizes[s] for s in shown))
    overall = in_overall.groupby("level")["count"].sum() / max(total, 1.0)
    rows = []
    for segment, size in sizes.items():
        seg_counts = counts[counts[SEGMENT_COL] == segment].set_index("level")["count"]
        for level, p0 in overall.items():
            n = float(seg_counts.get(level, 0))
            share = n / size
            std0 = float(np.sqrt(p0 * (1 - p0)))
            rows.append([segment, f"{name}={level}", "category", n, share,
                         float(np.sqrt(share * (1 - share))), np.nan, np.nan, np.nan, np.nan,
                         np.nan, float(p0), std0, _z(share, float(p0), std0), False])
    return pd.DataFrame(rows, columns=PROFILE_COLUMNS)
