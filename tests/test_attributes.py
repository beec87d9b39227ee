"""Tests of difference between segments on attributes not clustered, checked against scipy
on the raw values (Welch's t-test and its interval, the chi-square test of independence)
and a hand-computed property (in a 2 x 2 table every adjusted residual is +-sqrt(chi2))."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from segmentation.outputs.attributes import level_residuals, numeric_differences, welch_anova


def per_segment(values: dict[int, np.ndarray]) -> pd.DataFrame:
    return pd.DataFrame([{"segment": s, "count": len(v), "mean": v.mean() if len(v) else np.nan,
                          "var": v.var(ddof=1) if len(v) > 1 else np.nan}
                         for s, v in values.items()])


def test_numeric_differences_are_welchs_test_against_the_other_shown_segments():
    rng = np.random.default_rng(0)
    values = {0: rng.normal(10, 2, 400), 1: rng.normal(10.4, 5, 120),
              2: rng.normal(9, 1, 60), 3: rng.normal(50, 9, 7)}  # 3 is withheld
    shown = [0, 1, 2]
    got = numeric_differences(per_segment(values), shown).set_index("segment")
    assert list(got.index) == shown
    for s in shown:
        rest = np.concatenate([values[o] for o in shown if o != s])
        test = stats.ttest_ind(values[s], rest, equal_var=False)
        low, high = test.confidence_interval(0.95)
        row = got.loc[s]
        assert row["difference"] == pytest.approx(values[s].mean() - rest.mean(), rel=1e-12)
        assert row["difference_low"] == pytest.approx(low, rel=1e-9)
        assert row["difference_high"] == pytest.approx(high, rel=1e-9)
        assert row["difference_p_value"] == pytest.approx(test.pvalue, rel=1e-9)


@pytest.mark.parametrize("shift", [0.0, 2.0])
def test_welch_anova_is_scipys_over_the_shown_segments(shift):
    rng = np.random.default_rng(2)
    values = {0: rng.normal(10, 2, 400), 1: rng.normal(10 + shift, 5, 120),
              2: rng.normal(10, 1, 60), 3: rng.normal(50, 9, 7), 4: np.array([3.0])}
    test = welch_anova(per_segment(values), [0, 1, 2, 4])  # 3 withheld; 4 has one value
    expected = stats.f_oneway(values[0], values[1], values[2], equal_var=False)
    assert test.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert test.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert test.dof == 2 and (test.p_value < 0.05) == (shift > 0)


def test_welch_anova_without_spread_is_not_computed():
    flat = {0: np.array([1.0, 1.0, 1.0]), 1: np.array([2.0, 3.0])}
    assert np.isnan(welch_anova(per_segment(flat), [0, 1]).p_value)


def counts_of(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.groupby(["segment", "level"]).size().rename("count").reset_index()


def test_the_chi_square_test_is_scipys_over_the_shown_segments():
    rng = np.random.default_rng(1)
    segments = rng.integers(0, 4, 3000)
    levels = np.where(segments == 1, rng.choice(["a", "b", "c"], 3000, p=[0.45, 0.25, 0.3]),
                      rng.choice(["a", "b", "c"], 3000, p=[0.3, 0.4, 0.3]))
    frame = pd.DataFrame({"segment": segments, "level": levels})
    frame.loc[(frame["segment"] == 3) & (frame.index % 2 == 0), "level"] = "only_withheld"
    cells, test = level_residuals(counts_of(frame), [0, 1, 2])
    shown = frame[frame["segment"] < 3]
    table = pd.crosstab(shown["segment"], shown["level"])
    expected = stats.chi2_contingency(table.to_numpy(), correction=False)
    assert test.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert test.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert test.dof == expected.dof == 4
    assert set(cells["level"]) == {"a", "b", "c"}  # a level only withheld customers have: not named
    flagged = cells.set_index(["segment", "level"])["flagged"]
    assert flagged[(1, "a")] and not flagged.all()
    one = cells.set_index(["segment", "level"]).loc[(1, "a")]
    assert one["share"] == pytest.approx(table.loc[1, "a"] / table.loc[1].sum())
    assert one["expected"] == pytest.approx(expected.expected_freq[1, 0])


def test_in_a_two_by_two_table_every_adjusted_residual_is_the_root_of_chi_square():
    counts = pd.DataFrame({"segment": [0, 0, 1, 1], "level": ["yes", "no", "yes", "no"],
                           "count": [30, 70, 55, 45]})
    cells, test = level_residuals(counts, [0, 1])
    assert np.abs(cells["residual"]).to_numpy() == pytest.approx(
        [np.sqrt(test.statistic)] * 4, rel=1e-12)
    # hand-computed: E(0, yes) = 100 * 85 / 200 = 42.5
    assert cells.set_index(["segment", "level"]).loc[(0, "yes"), "expected"] == 42.5


def test_cells_are_flagged_only_when_the_columns_test_is_significant():
    counts = pd.DataFrame({"segment": [0, 0, 1, 1], "level": ["yes", "no", "yes", "no"],
                           "count": [12, 8, 8, 12]})  # residuals +-1.26: none flagged
    cells, test = level_residuals(counts, [0, 1])
    assert test.p_value > 0.05 and not cells["flagged"].any()
    big = counts.assign(count=counts["count"] * 10)  # the same shares, ten times the customers
    cells, test = level_residuals(big, [0, 1])
    assert test.p_value < 0.05 and cells["flagged"].all()


def test_a_level_with_no_difference_is_not_flagged():
    counts = pd.DataFrame({"segment": [0, 0, 1, 1], "level": ["x", "y", "x", "y"],
                           "count": [50, 50, 100, 100]})
    cells, test = level_residuals(counts, [0, 1])
    assert test.statistic == 0 and test.p_value == 1.0
    assert not cells["flagged"].any()


def test_rare_levels_are_lumped_before_the_test():
    # hand-built: in the smaller segment (100 of 300 customers) C expects 12 * 100 / 300 = 4
    # customers, below 5; D and E even fewer: the three are one level.
    table = pd.DataFrame({"A": [60, 100], "B": [28, 90], "C": [6, 6], "D": [4, 0],
                          "E": [2, 4]}, index=[0, 1])
    counts = (table.rename_axis(index="segment", columns="level").stack()
              .rename("count").reset_index())
    cells, test = level_residuals(counts, [0, 1])
    assert sorted(set(cells["level"])) == ["(other levels)", "A", "B"]
    other = cells.set_index(["segment", "level"]).loc[(0, "(other levels)"), "count"]
    assert other == 6 + 4 + 2
    expected = stats.chi2_contingency(np.array([[60, 28, 12], [100, 90, 10]]),
                                      correction=False)
    assert test.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert test.dof == 2


def test_at_most_ten_levels_are_kept_apart():
    levels = [f"L{i:02d}" for i in range(15)]
    counts = pd.DataFrame([{"segment": s, "level": level, "count": 40}
                           for s in (0, 1) for level in levels])
    cells, test = level_residuals(counts, [0, 1])
    assert sorted(set(cells["level"])) == ["(other levels)", *levels[:9]]  # ties: by name
    assert cells.groupby("level")["count"].sum()["(other levels)"] == 6 * 80
    assert test.dof == 9


def test_a_single_rare_level_keeps_its_name():
    counts = pd.DataFrame({"segment": [0, 0, 0, 1, 1, 1], "level": ["a", "b", "c"] * 2,
                           "count": [50, 50, 1, 60, 40, 0]})
    cells, _ = level_residuals(counts, [0, 1])
    assert set(cells["level"]) == {"a", "b", "c"}
