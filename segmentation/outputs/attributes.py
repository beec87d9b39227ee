"""Segments read against attributes that were not clustered: tests of difference.

After a segmentation, a team reads the segments against what else it knows of the
customers (demographics, channel, churn, revenue). From small per-segment aggregates:

- a numeric attribute: Welch's analysis of variance over the shown segments (do their
  means differ at all? Welch 1951: the variances are not assumed equal), then each
  segment's mean against the customers of the other shown segments, with Welch's 95 %
  confidence interval of the difference and its p-value;
- a categorical attribute: the chi-square test of independence of segment and level over
  the shown segments, and per cell the adjusted standardised residual
  ``(O - E) / sqrt(E (1 - row share) (1 - column share))``, approximately standard normal
  under independence, so that a cell beyond +-2 stands out (Agresti, *Categorical Data
  Analysis*, 2.4.5). Cells are flagged only when the column's test is significant at
  5 %: with many cells, about one in twenty passes +-2 by chance alone (a column that
  carries no signal would otherwise show flags). Rare levels are first lumped into one
  (:func:`lump_rare_levels`): the test's chi-square approximation needs expected counts of
  about 5 or more, and a reader cannot take in forty countries at once.

Privacy: only the shown segments enter (the rest of the customers of a comparison, the
contingency table, its margins and totals), so no statistic here holds a withheld
segment's customers, nor gives them back by subtraction from the others.

Pure pandas and scipy, on the driver.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import numpy as np
import pandas as pd

from segmentation.model.columns import SEGMENT_COL
from segmentation.outputs.profiles import pooled_moments

#: |adjusted residual| above which a cell is flagged (when the column's test is significant).
RESIDUAL_FLAG = 2.0
#: The chi-square p-value below which a column's cells are examined at all.
SIGNIFICANCE = 0.05
#: Confidence of the intervals of numeric differences.
CONFIDENCE = 0.95
#: At most this many levels per column are tested and shown (the rest are lumped).
MAX_LEVELS = 10
#: The smallest expected count of a cell for its level to be kept apart.
MIN_EXPECTED = 5.0
#: The level that stands for the lumped rare levels.
OTHER_LEVEL = "(other levels)"


@dataclass(frozen=True)
class ColumnTest:
    """A test over the shown segments of whether an attribute differs between them."""

    name: str
    statistic: float
    dof: float
    p_value: float
    #: The denominator's degrees of freedom of an F test (NaN for chi-square).
    dof2: float = np.nan


def scipy_stats() -> ModuleType:
    """``scipy.stats``, imported by the first test computed: its import takes half a second
    of every job's start, and most runs compare no attributes."""
    from scipy import stats

    return stats


def welch_anova(per_segment: pd.DataFrame, shown: list[int]) -> ColumnTest:
    """Welch's F test of equal means over the shown segments with 2 or more values.

    ``per_segment`` has ``segment, count, mean, var`` (sample variance). NaN when fewer
    than two segments qualify or a segment's values are all equal (its weight is infinite).
    """
    rows = per_segment[per_segment[SEGMENT_COL].isin(shown) & (per_segment["count"] >= 2)]
    n, mean, var = (rows[c].to_numpy(dtype=float) for c in ("count", "mean", "var"))
    groups = len(rows)
    if groups < 2 or not (np.isfinite(var) & (var > 0)).all():
        return ColumnTest("Welch ANOVA", np.nan, float(groups - 1), np.nan, np.nan)
    weight = n / var
    centre = float((weight * mean).sum() / weight.sum())
    between = float((weight * (mean - centre) ** 2).sum()) / (groups - 1)
    spread = float(((1 - weight / weight.sum()) ** 2 / (n - 1)).sum())
    statistic = between / (1 + 2 * (groups - 2) / (groups**2 - 1) * spread)
    dof2 = (groups**2 - 1) / (3 * spread)
    return ColumnTest("Welch ANOVA", statistic, float(groups - 1),
                      float(scipy_stats().f.sf(statistic, groups - 1, dof2)), dof2)


def numeric_differences(per_segment: pd.DataFrame, shown: list[int]) -> pd.DataFrame:
    """Each shown segment's mean minus the mean of the other shown segments' customers.

    ``per_segment`` has ``segment, count, mean, var`` (the sample variance; NaN for fewer
    than 2 values). Returns ``segment, difference, difference_low, difference_high,
    difference_p_value`` for the shown segments (NaN where a group has fewer than 2 values).
    """
    rows = per_segment[per_segment[SEGMENT_COL].isin(shown)].set_index(SEGMENT_COL)
    out = []
    for segment in sorted(rows.index):
        own = rows.loc[segment]
        others = rows.drop(index=segment)
        rest = pooled_moments(others["count"].to_numpy(dtype=float),
                              others["mean"].to_numpy(dtype=float),
                              others["var"].to_numpy(dtype=float))
        out.append([segment, *_welch(float(own["count"]), float(own["mean"]),
                                     float(own["var"]), *rest)])
    return pd.DataFrame(out, columns=[SEGMENT_COL, "difference", "difference_low",
                                      "difference_high", "difference_p_value"])


def _welch(n1: float, m1: float, v1: float, n2: float, m2: float, v2: float
           ) -> list[float]:
    """Difference of means, its Welch confidence interval and two-sided p-value."""
    difference = m1 - m2
    if n1 < 2 or n2 < 2 or not np.isfinite(v1) or not np.isfinite(v2):
        return [difference, np.nan, np.nan, np.nan]
    a, b = v1 / n1, v2 / n2
    se = float(np.sqrt(a + b))
    if se == 0:
        return [difference, difference, difference, 1.0 if difference == 0 else 0.0]
    dof = (a + b) ** 2 / (a**2 / (n1 - 1) + b**2 / (n2 - 1))
    half = float(scipy_stats().t.ppf(0.5 + CONFIDENCE / 2, dof)) * se
    p_value = float(2 * scipy_stats().t.sf(abs(difference) / se, dof))
    return [difference, difference - half, difference + half, p_value]


def lump_rare_levels(counts: pd.DataFrame) -> pd.DataFrame:
    """``counts`` (``segment, level, count``) with the rare levels counted as one,
    :data:`OTHER_LEVEL`.

    A level is kept apart when it is among the :data:`MAX_LEVELS` - 1 most common (ties by
    name) and its expected count in the smallest segment is at least
    :data:`MIN_EXPECTED`; all the others are lumped, unless only one would be.
    """
    totals = counts.groupby("level")["count"].sum()
    totals = totals[totals > 0]
    ranked = sorted(totals.index, key=lambda level: (-totals[level], str(level)))
    smallest = counts.groupby(SEGMENT_COL)["count"].sum().min()
    common = [level for level in ranked[:MAX_LEVELS - 1]
              if totals[level] * smallest / totals.sum() >= MIN_EXPECTED]
    if len(ranked) - len(common) <= 1:
        return counts
    lumped = counts.assign(level=counts["level"].where(counts["level"].isin(common),
                                                        OTHER_LEVEL))
    return lumped.groupby([SEGMENT_COL, "level"], as_index=False)["count"].sum()


def level_residuals(counts: pd.DataFrame, shown: list[int]
                    ) -> tuple[pd.DataFrame, ColumnTest]:
    """Cells of segment x level with their shares, expected counts and adjusted residuals.

    ``counts`` has ``segment, level, count`` (absent cells count 0). Returns ``segment,
    level, count, share, expected, residual, flagged`` for every shown segment and every
    level the shown segments have (rare ones lumped), and the chi-square test over those
    cells.
    """
    table = (lump_rare_levels(counts[counts[SEGMENT_COL].isin(shown)])
             .pivot_table(index=SEGMENT_COL, columns="level", values="count", aggfunc="sum",
                          fill_value=0)
             .reindex(index=sorted(shown), fill_value=0))
    table = table.loc[:, table.sum(axis=0) > 0]
    observed = table.to_numpy(dtype=float)
    total = observed.sum()
    rows, columns = observed.sum(axis=1), observed.sum(axis=0)
    expected = np.outer(rows, columns) / total
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = np.sqrt(expected * np.outer(1 - rows / total, 1 - columns / total))
        residual = np.where(spread > 0, (observed - expected) / spread, 0.0)
        share = observed / rows[:, None]
    used = (rows > 0)
    dof = (int(used.sum()) - 1) * (observed.shape[1] - 1)
    statistic = float(((observed - expected) ** 2 / expected)[used].sum()) if dof > 0 else 0.0
    test = ColumnTest("chi-square", statistic, float(dof),
                      float(scipy_stats().chi2.sf(statistic, dof)) if dof > 0 else np.nan)
    cells = pd.DataFrame({
        SEGMENT_COL: np.repeat(table.index.to_numpy(), observed.shape[1]),
        "level": np.tile(table.columns.to_numpy(), observed.shape[0]),
        "count": observed.ravel(), "share": share.ravel(), "expected": expected.ravel(),
        "residual": residual.ravel()})
    significant = bool(test.p_value < SIGNIFICANCE)
    cells["flagged"] = significant & (cells["residual"].abs() > RESIDUAL_FLAG)
    return cells, test
