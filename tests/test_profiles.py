"""Segment profiles checked against pandas: pooled overall statistics, exact per-segment
statistics, and quartiles from all rows or from a per-segment sample."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segmentation.data.config import FeaturesConfig
from segmentation.outputs.layout import PROFILE_STATISTICS
from segmentation.outputs.profiles import pooled_mean_std, segment_profiles


def per_segment_table(values: dict[int, list[float]]) -> pd.DataFrame:
    """What the job's groupBy returns for one feature ``f``: count, mean, sample std."""
    rows = []
    for segment, xs in values.items():
        s = pd.Series(xs, dtype=float)
        rows.append({"segment": segment, "f|count": s.count(),
                     "f|mean": s.mean() if len(s) else None,
                     "f|std": s.std() if len(s) > 1 else None})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("values", [
    {0: [1.0, 2.0, 3.0], 1: [10.0, 12.0], 2: [5.0]},               # a single-value segment
    {0: [4.0, 4.0], 1: [], 2: [-3.5, 8.25, 0.0, 1e6]},               # an empty segment
    {0: list(np.random.default_rng(3).normal(50, 9, 400)),
     1: list(np.random.default_rng(4).lognormal(3, 1, 35))},
])
def test_pooled_mean_and_std_equal_the_statistics_of_all_values(values) -> None:
    everything = pd.Series([x for xs in values.values() for x in xs])
    mean, std = pooled_mean_std(per_segment_table(values), "f")
    assert mean == pytest.approx(everything.mean(), rel=1e-12)
    assert std == pytest.approx(everything.std(), rel=1e-9)


def test_one_value_overall_has_no_std() -> None:
    mean, std = pooled_mean_std(per_segment_table({0: [7.0], 1: []}), "f")
    assert mean == 7.0 and np.isnan(std)


@pytest.fixture(scope="module")
def labelled(spark):
    """Three segments of 6,000, 3,000 and 40 rows; ``spend`` skewed with some nulls."""
    rng = np.random.default_rng(11)
    sizes = {0: 6000, 1: 3000, 2: 40}
    frame = pd.DataFrame({
        "segment": np.repeat(list(sizes), list(sizes.values())).astype("int32"),
        "spend": rng.lognormal(4, 1, sum(sizes.values())),
        "distance": rng.gamma(2.0, 1.0, sum(sizes.values())),
    })
    frame.loc[frame.index % 17 == 0, "spend"] = np.nan
    return frame, spark.createDataFrame(frame.astype(object).where(frame.notna(), None))


def _rank(values: pd.Series, q: float) -> float:
    """Share of the values at or below ``q``."""
    return float((values.dropna() <= q).mean())


@pytest.mark.parametrize("quantile_rows, rank_error", [(0, 0.002), (1500, 0.04)])
def test_profiles_match_pandas(labelled, quantile_rows, rank_error) -> None:
    frame, df = labelled
    sizes = frame.groupby("segment").size().to_dict()
    profiles, segments = segment_profiles(df, FeaturesConfig(numeric=["spend"]), sizes,
                                          min_segment_size=50, seed=3,
                                          quantile_rows=quantile_rows)
    spend = profiles.set_index("segment")
    expected = frame.groupby("segment")["spend"].agg(["count", "mean", "std", "min", "max"])
    for column in expected.columns:  # exact, over all rows, whatever the sample
        big = expected.index[:2]
        np.testing.assert_allclose(spend.loc[big, column], expected.loc[big, column],
                                   rtol=1e-9, err_msg=column)
    np.testing.assert_allclose(spend.loc[[0, 1], "mean"], expected.loc[[0, 1], "mean"],
                               rtol=1e-9)
    assert spend.loc[2, PROFILE_STATISTICS].isna().all()  # 40 < 50
    assert spend["suppressed"].tolist() == [False, False, True]
    for segment in (0, 1):
        values = frame.loc[frame.segment == segment, "spend"]
        for column, q in (("q25", 0.25), ("median", 0.5), ("q75", 0.75)):
            assert abs(_rank(values, spend.loc[segment, column]) - q) <= rank_error, column
        distance = frame.loc[frame.segment == segment, "distance"]
        p99 = segments.set_index("segment").loc[segment, "distance_p99"]
        assert abs(_rank(distance, p99) - 0.99) <= rank_error
    assert segments["size"].tolist() == [6000, 3000, 40]


def test_overall_statistics_are_over_the_shown_segments_only(labelled) -> None:
    """Segment 2 (40 customers) is withheld: the overall mean and std are those of segments
    0 and 1, so that no subtraction from them gives segment 2 back; z follows from them."""
    frame, df = labelled
    sizes = frame.groupby("segment").size().to_dict()
    profiles, segments = segment_profiles(df, FeaturesConfig(numeric=["spend"]), sizes,
                                          min_segment_size=50, seed=3)
    shown = frame.loc[frame.segment.isin([0, 1]), "spend"]
    rows = profiles.set_index("segment").loc[[0, 1]]
    np.testing.assert_allclose(rows["overall_mean"], shown.mean(), rtol=1e-12)
    np.testing.assert_allclose(rows["overall_std"], shown.std(), rtol=1e-9)
    means = frame.groupby("segment")["spend"].mean().loc[[0, 1]]
    np.testing.assert_allclose(rows["z"], (means - shown.mean()) / shown.std(), rtol=1e-9)
    assert segments["distance_p99"].notna().all()  # complete: the private thresholds


def test_without_a_small_segment_the_overall_is_over_everyone(labelled) -> None:
    frame, df = labelled
    sizes = frame.groupby("segment").size().to_dict()
    profiles, _ = segment_profiles(df, FeaturesConfig(numeric=["spend"]), sizes,
                                   min_segment_size=10, seed=3)
    assert not profiles["suppressed"].any()
    np.testing.assert_allclose(profiles["overall_mean"], frame["spend"].mean(), rtol=1e-12)
