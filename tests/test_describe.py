"""Segment descriptions from hand-made tidy profile tables (pure pandas)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segmentation.outputs.describe import describe_segments


def profiles(rows: list[tuple[int, str, str, float]]) -> pd.DataFrame:
    """A tidy profiles table from (segment, feature, kind, z) rows plus filler columns."""
    frame = pd.DataFrame(rows, columns=["segment", "feature", "kind", "z"])
    return frame.assign(mean=1.0, overall_mean=1.0, overall_std=1.0)


def test_strongest_features_first_with_direction() -> None:
    table = profiles([
        (0, "annual_income", "numeric", 1.9),
        (0, "spend_12m", "numeric", -1.2),
        (0, "channel=web", "category", 0.8),
        (0, "orders_12m", "numeric", 0.6),
    ])
    assert describe_segments(table) == {0: "high annual income, low spend 12m, mostly web channel"}


def test_max_terms_and_threshold() -> None:
    table = profiles([
        (3, "a", "numeric", 0.9),
        (3, "b", "numeric", -0.7),
        (3, "c", "numeric", 0.55),
        (3, "d", "numeric", 0.3),
    ])
    assert describe_segments(table, max_terms=2) == {3: "high a, low b"}
    assert describe_segments(table, min_abs_z=0.8) == {3: "high a"}
    everything = describe_segments(table, min_abs_z=0.0, max_terms=4)
    assert everything == {3: "high a, low b, high c, high d"}


def test_close_to_average_when_nothing_passes() -> None:
    table = profiles([(1, "x", "numeric", 0.2), (1, "channel=web", "category", -0.49),
                      (2, "x", "numeric", np.nan)])
    assert describe_segments(table) == {1: "close to average", 2: "close to average"}


def test_age_reads_as_older_or_younger() -> None:
    table = profiles([(0, "age", "numeric", -1.0), (1, "AGE", "numeric", 1.0)])
    assert describe_segments(table) == {0: "younger", 1: "older"}


def test_category_phrasing_and_one_term_per_column() -> None:
    table = profiles([
        (0, "channel=web", "category", 2.0),
        (0, "channel=store", "category", -1.5),  # same column: says nothing new
        (0, "payment_method=credit_card", "category", -0.9),
        (0, "tenure_days", "numeric", 0.7),
    ])
    assert describe_segments(table) == {
        0: "mostly web channel, few credit card payment method, high tenure days"
    }


def test_every_segment_and_integer_keys() -> None:
    table = profiles([(20, "x", "numeric", 1.0), (5, "x", "numeric", -1.0),
                      (7, "x", "numeric", 0.0)])
    result = describe_segments(table)
    assert list(result) == [5, 7, 20]
    assert all(isinstance(k, int) for k in result)


def test_ties_are_deterministic() -> None:
    rows = [(0, "b", "numeric", 1.0), (0, "a", "numeric", -1.0), (0, "c", "numeric", 1.0)]
    forward = describe_segments(profiles(rows), max_terms=2)
    backward = describe_segments(profiles(rows[::-1]), max_terms=2)
    assert forward == backward == {0: "low a, high b"}


def test_validation_names_the_problem() -> None:
    with pytest.raises(ValueError, match=r"lacks column\(s\) kind, z \(present: segment, feature"):
        describe_segments(pd.DataFrame({"segment": [0], "feature": ["x"]}))
    with pytest.raises(ValueError, match="max_terms=0 should be >= 1"):
        describe_segments(profiles([(0, "x", "numeric", 1.0)]), max_terms=0)
    with pytest.raises(ValueError, match="min_abs_z=-1 should be >= 0"):
        describe_segments(profiles([(0, "x", "numeric", 1.0)]), min_abs_z=-1)
