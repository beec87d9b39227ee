"""Segments read against attributes that were not clustered: tests of difference.

After a segmentation, a team reads the segments against what else it knows of the
customers (demographics, channel, churn, revenue). From small per-segment aggregates:

- a numeric attribute: each segment's mean against the customers of the other shown
  segments, with Welch's 95 % confidence interval of the difference and its p-value (the
  variances of the two groups are not assumed equal);
- a categorical attribute: the chi-square test of independence of segment and level over
  the shown segments, and per cell the adjusted standardised residual
  ``(O - E) / sqrt(E (1 - row share) (1 - column share))``, approximately standard normal
  under independence, so that a cell beyond +-2 stands out (Agresti, *Categorical Data
  Analysis*, 2.4.5). Cells are flagged only when the column's test is significant at
  5 %: with many cells, about one in twenty passes +-2 by chance alone (a column that
  carries no signal would otherwise show flags).

Privacy: only the shown segments enter (the rest of the customers of a comparison, the
contingency table, its margins and totals), so no statistic here holds a withheld
segment's customers, nor gives them back by subtraction from the others.

Pure pandas and scipy, on the driver.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from segmentation.model.columns import SEGMENT_COL
from segmentation.outputs.profiles import pooled_moments

#: |adjusted residual| above which a cell is flagged (when the column's test is significant).
RESIDUAL_FLAG = 2.0
#: The chi-square p-value below which a column's cells are examined at all.
SIGNIFICANCE = 0.05
#: Confidence of the intervals of numeric differences.
CONFIDENCE = 0.95


def numeric_differences(per_segment: pd.DataFrame, shown: list[int]) -> pd.DataFrame:
    """Each shown segment's mean minus the mean of the other shown segments' customers.

    ``per_segment`` has ``segment, count, mean, var`` (the sample variance; NaN for fewer
    than 2 values). Returns ``segment, difference, difference_low, difference_high,
    p_value`` for the shown segments (NaN where a group has fewer than 2 values).
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
                                      "difference_high", "p_value"])


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
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, dof)) * se
    p_value = float(2 * stats.t.sf(abs(difference) / se, dof))
    return [difference, difference - half, difference + half, p_value]


@dataclass(frozen=True)
class Independence:
    """The chi-square test of independence of segment and level (shown segments only)."""

    statistic: float
    dof: int
    p_value: float


def level_residuals(counts: pd.DataFrame, shown: list[int]
                    ) -> tuple[pd.DataFrame, Independence]:
    """Cells of segment x level with their shares, expected counts and adjusted residuals.

    ``counts`` has ``segment, level, count`` (absent cells count 0). Returns ``segment,
    level, count, share, expected, residual, flagged`` for every shown segment and every
    level the shown segments have, and the chi-square test over those cells.
    """
    table = (counts[counts[SEGMENT_COL].isin(shown)]
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
    test = Independence(statistic, dof, float(stats.chi2.sf(statistic, dof)) if dof > 0
                        else np.nan)
    cells = pd.DataFrame({
        SEGMENT_COL: np.repeat(table.index.to_numpy(), observed.shape[1]),
        "level": np.tile(table.columns.to_numpy(), observed.shape[0]),
        "count": observed.ravel(), "share": share.ravel(), "expected": expected.ravel(),
        "residual": residual.ravel()})
    significant = bool(test.p_value < SIGNIFICANCE)
    cells["flagged"] = significant & (cells["residual"].abs() > RESIDUAL_FLAG)
    return cells, test
