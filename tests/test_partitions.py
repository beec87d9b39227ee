"""``input.partitions: auto``: the partition count follows the rows read, deterministically,
and a run partitioned that way agrees with one on a fixed count."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score
from support.runs import fixed_k_config

from segmentation.core.errors import ConfigError
from segmentation.data import customers as customers_module
from segmentation.data.customers import AUTO_MIN_PARTITIONS, partition_count
from segmentation.run.config import config_from_dict
from segmentation.run.job import run_segmentation


@pytest.fixture(scope="module")
def table(make_customers) -> Path:
    return make_customers(2000, seed=5)


def test_a_number_is_kept_and_auto_counts_rows(spark, monkeypatch):
    rows = spark.range(1250)
    assert partition_count(5, rows) == 5
    assert partition_count("auto", rows) == AUTO_MIN_PARTITIONS == 8
    monkeypatch.setattr(customers_module, "AUTO_ROWS_PER_PARTITION", 100)
    assert partition_count("auto", rows) == 13  # ceil(1250 / 100)
    assert partition_count("auto", spark.range(700)) == 8  # never below the minimum


@pytest.mark.parametrize(("value", "fragment"), [
    ("many", "input.partitions must be one of auto, not 'many'"),
    (0, "input.partitions=0 must be >= 1"),
])
def test_bad_partitions_are_refused(value, fragment):
    data = {"input": {"path": "in", "partitions": value}, "features": {"numeric": ["a"]},
            "output": {"path": "out"}}
    with pytest.raises(ConfigError, match=fragment):
        config_from_dict(data)


def _run(spark, table: Path, out: Path, partitions) -> tuple[dict, pd.DataFrame]:
    cfg = fixed_k_config(table, out, 6)
    cfg["input"]["partitions"] = partitions
    manifest = run_segmentation(spark, config_from_dict(cfg))
    labels = pd.read_parquet(out / "labels").sort_values("customer_id")
    return manifest, labels.reset_index(drop=True)


@pytest.fixture(scope="module")
def eight(spark, table, tmp_path_factory) -> tuple[dict, pd.DataFrame, Path]:
    """A run on the fixed 8 partitions of earlier versions."""
    out = tmp_path_factory.mktemp("eight") / "run"
    return (*_run(spark, table, out, 8), out)


def test_auto_below_the_threshold_is_the_old_fixed_eight(spark, table, tmp_path, eight):
    auto, auto_labels = _run(spark, table, tmp_path / "auto", "auto")
    fixed, fixed_labels, _ = eight
    assert auto["input"]["partitions"] == fixed["input"]["partitions"] == 8
    assert auto_labels.equals(fixed_labels)


def test_more_partitions_find_the_same_segments(spark, table, tmp_path, monkeypatch, eight):
    fixed, fixed_labels, fixed_out = eight
    monkeypatch.setattr(customers_module, "AUTO_ROWS_PER_PARTITION", 150)
    auto, auto_labels = _run(spark, table, tmp_path / "auto", "auto")
    assert auto["input"]["partitions"] == 14  # ceil(2000 / 150)
    assert (auto["rows_read"], auto["rows_used"]) == (fixed["rows_read"], fixed["rows_used"])
    assert auto_labels["customer_id"].tolist() == fixed_labels["customer_id"].tolist()
    assert adjusted_rand_score(fixed_labels["segment"], auto_labels["segment"]) > 0.99
    wcss = [pd.read_csv(out / "metrics.csv").set_index("k").loc[6, "wcss"]
            for out in (fixed_out, tmp_path / "auto")]
    assert wcss[1] == pytest.approx(wcss[0], rel=0.01)
