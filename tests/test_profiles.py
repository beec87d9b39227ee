"""Pooled overall statistics of the profiles, checked against pandas on all values at once."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segmentation.profiles import pooled_mean_std


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
