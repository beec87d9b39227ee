"""Stable segment ids across retrains: the matching itself, then real runs chained by
``model.previous_run`` (same data reshuffled; a segment removed; the segment back)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyspark.ml import PipelineModel
from support.runs import fixed_k_config, write_parquet

from segmentation.core.errors import ConfigError, InputDataError
from segmentation.data.config import FeaturesConfig
from segmentation.model.pipeline import feature_names
from segmentation.outputs.layout import MIGRATION_COLUMNS
from segmentation.outputs.relabel import match_segments
from segmentation.run.config import config_from_dict
from segmentation.run.job import run_segmentation

# ---------------------------------------------------------------- matching (no Spark)

PREVIOUS = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
PREVIOUS_IDS = [3, 0, 2, 1]


def test_matching_recovers_a_permutation() -> None:
    rng = np.random.default_rng(0)
    order = [2, 0, 3, 1]
    new = PREVIOUS[order] + rng.normal(0, 0.1, (4, 2))
    m = match_segments(new, [1, 1, 1, 1], PREVIOUS, PREVIOUS_IDS)
    assert m.ids == [PREVIOUS_IDS[i] for i in order]
    assert m.new_segments == [] and m.vanished_segments == []
    assert sorted(m.centroid_shift) == [0, 1, 2, 3]
    assert all(0 < shift < 0.5 for shift in m.centroid_shift.values())


def test_matching_gives_new_clusters_ids_above_the_old_maximum_largest_first() -> None:
    far = np.array([[50.0, 50.0], [-50.0, 0.0]])
    new = np.vstack([far[0], PREVIOUS[1], PREVIOUS[0], far[1], PREVIOUS[3], PREVIOUS[2]])
    m = match_segments(new, [10, 99, 99, 20, 99, 99], PREVIOUS, PREVIOUS_IDS)
    assert m.ids == [5, 0, 3, 4, 1, 2]  # the larger far cluster (20 rows) gets 4
    assert m.new_segments == [4, 5] and m.vanished_segments == []
    assert m.centroid_shift == {0: 0.0, 1: 0.0, 2: 0.0, 3: 0.0}


def test_matching_reports_vanished_ids_when_k_shrinks() -> None:
    new = np.array([[10.2, 9.9], [0.1, 0.0]])
    m = match_segments(new, [5, 5], PREVIOUS, PREVIOUS_IDS)
    assert m.ids == [1, 3]
    assert m.vanished_segments == [0, 2] and m.new_segments == []
    assert set(m.centroid_shift) == {1, 3}


def test_matching_minimises_total_cost_not_greedy_nearest() -> None:
    # Greedy nearest-first gives new[0] previous[0] (0.9) and leaves new[1] previous[1]
    # (3.0): 3.9 in all; the assignment pays 1.1 + 1.0 instead.
    previous = np.array([[0.0], [2.0]])
    new = np.array([[0.9], [-1.0]])
    m = match_segments(new, [1, 1], previous, [0, 1])
    assert m.ids == [1, 0]


# ---------------------------------------------------------------- real runs

TRUE_SEGMENT_REMOVED = 1  # "affluent loyal": 10% of customers, far from the others


def labels_of(run: Path) -> pd.Series:
    return pd.read_parquet(run / "labels").set_index("customer_id")["segment"].sort_index()


@pytest.fixture(scope="module")
def customers(make_customers) -> pd.DataFrame:
    return pd.read_parquet(make_customers(2000, seed=21))


@pytest.fixture(scope="module")
def month1(spark, customers, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("month1")
    data = write_parquet(customers, root / "data", files=1)
    run_segmentation(spark, config_from_dict(fixed_k_config(data, root / "run", 6)))
    return root / "run"


def test_retrain_on_reshuffled_data_with_another_seed_keeps_every_id(
    spark, customers, month1, tmp_path
) -> None:
    shuffled = customers.sample(frac=1.0, random_state=3)
    data = write_parquet(shuffled, tmp_path / "data", files=3)
    cfg = fixed_k_config(data, tmp_path / "run", 6, seed=7, previous_run=str(month1))
    cfg["input"]["partitions"] = 3
    manifest = run_segmentation(spark, config_from_dict(cfg))

    before, after = labels_of(month1), labels_of(tmp_path / "run")
    assert (before.index == after.index).all()
    assert (before == after).mean() >= 0.99
    migration = manifest["migration"]
    assert migration["previous_run"] == str(month1)
    assert migration["kept_share"] >= 0.99
    assert migration["new_segments"] == [] and migration["vanished_segments"] == []
    assert sorted(migration["centroid_shift"]) == [str(i) for i in range(6)]
    assert max(migration["centroid_shift"].values()) < 0.2

    counts = pd.read_csv(tmp_path / "run" / "migration.csv")
    assert list(counts.columns) == MIGRATION_COLUMNS
    shown = counts[~counts["suppressed"]]
    assert (shown["count"] >= 50).all() and counts.loc[counts["suppressed"], "count"].isna().all()
    assert migration["customers_in_both"] == 2000  # the summary counts every customer
    assert migration["suppressed_cells"] == counts["suppressed"].sum()
    kept = shown[shown.previous_segment == shown.segment]["count"].sum()
    assert kept / 2000 <= migration["kept_share"]
    written = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert written["migration"] == json.loads(json.dumps(migration))
    # descriptions travel with the ids
    old = pd.read_csv(month1 / "segments.csv").set_index("segment")["description"]
    new = pd.read_csv(tmp_path / "run" / "segments.csv").set_index("segment")["description"]
    assert old.sort_index().equals(new.sort_index())


@pytest.fixture(scope="module")
def without_one_segment(spark, customers, month1, tmp_path_factory) -> tuple[Path, dict]:
    """Month 2: one true segment has left; k=5, ids matched to month 1."""
    root = tmp_path_factory.mktemp("shrunk")
    kept = customers[customers.true_segment != TRUE_SEGMENT_REMOVED]
    data = write_parquet(kept, root / "data", files=2)
    cfg = fixed_k_config(data, root / "run", 5, previous_run=str(month1))
    cfg["features"]["missing"] = "drop"  # some month-1 customers are absent from month 2
    return root / "run", run_segmentation(spark, config_from_dict(cfg))


def test_a_vanished_segment_is_reported_and_the_rest_keep_their_ids(
    customers, month1, without_one_segment
) -> None:
    run, manifest = without_one_segment
    before = labels_of(month1)
    removed_ids = before[customers.set_index("customer_id").true_segment
                         == TRUE_SEGMENT_REMOVED].unique()
    assert len(removed_ids) == 1
    migration = manifest["migration"]
    assert migration["vanished_segments"] == [int(removed_ids[0])]
    assert migration["new_segments"] == []
    # each segment's line holds its kept customers and a small cell (customers dropped for
    # missing values), so the diagonal is withheld, and with it kept_share (it would give
    # the withheld cells' total)
    assert migration["kept_share"] is None
    assert "migration.kept_share" in manifest["privacy"]["withheld_counts"]
    after = labels_of(run)
    common = before.index.intersection(after.index)
    assert (before[common] == after[common]).mean() >= 0.99
    counts = pd.read_csv(run / "migration.csv", dtype={"previous_segment": "Int64",
                                                      "segment": "Int64"})
    only_before = counts[counts.segment.isna()]  # small cells withheld, the summary complete
    assert only_before["count"].sum() <= len(before) - len(common) == migration["only_previous"]
    assert migration["only_this_run"] == 0
    assert set(counts.loc[counts.segment.isna(), "previous_segment"]) >= set(removed_ids)


def test_a_new_segment_gets_an_id_above_the_old_maximum(
    spark, customers, without_one_segment, tmp_path
) -> None:
    previous, _ = without_one_segment
    data = write_parquet(customers, tmp_path / "data", files=1)
    cfg = fixed_k_config(data, tmp_path / "run", 6, previous_run=str(previous))
    manifest = run_segmentation(spark, config_from_dict(cfg))

    old_ids = sorted(labels_of(previous).unique())
    migration = manifest["migration"]
    assert migration["new_segments"] == [max(old_ids) + 1]
    assert migration["vanished_segments"] == []
    assert migration["kept_share"] is None  # a withheld diagonal, as above
    after = labels_of(tmp_path / "run")
    truth = customers.set_index("customer_id").true_segment
    returned = after[truth[after.index] == TRUE_SEGMENT_REMOVED]
    assert (returned == max(old_ids) + 1).mean() >= 0.99
    assert sorted(after.unique()) == [*old_ids, max(old_ids) + 1]
    # the saved model assigns the same matched ids as labels/
    model = PipelineModel.load(str(tmp_path / "run" / "model"))
    scored = (model.transform(spark.read.parquet(str(data))).select("customer_id", "segment")
              .toPandas().set_index("customer_id")["segment"].sort_index())
    assert (scored[after.index] == after).all()


def test_feature_names_cover_every_entry_of_the_vector(month1) -> None:
    """Matching aligns centroids by these names: one per entry, one-hot slots included."""
    model = PipelineModel.load(str(month1 / "model"))
    features = FeaturesConfig(**fixed_k_config(month1, month1, 6)["features"])
    names = feature_names(model, features)
    assert len(names) == len(model.stages[-2].clusterCenters()[0])
    assert names[len(features.numeric):] == ["channel=app", "channel=store", "channel=web",
                                             "channel=(unseen)", "channel=(invalid)"]


def test_previous_run_with_other_features_fails_before_reading_input(
    spark, month1, tmp_path
) -> None:
    cfg = fixed_k_config(tmp_path / "nowhere", tmp_path / "run", 6, previous_run=str(month1))
    cfg["features"]["numeric"] = cfg["features"]["numeric"][1:]
    with pytest.raises(ConfigError, match=r"features.numeric differs .*only there: "
                                          r"\['age'\]; only here: none"):
        run_segmentation(spark, config_from_dict(cfg))


def test_previous_run_that_is_not_a_finished_run_fails(spark, month1, tmp_path) -> None:
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "manifest.json").write_text("{}")
    cfg = fixed_k_config(tmp_path / "nowhere", tmp_path / "run", 6,
                         previous_run=str(tmp_path / "half"))
    with pytest.raises(InputDataError, match=r"model.previous_run .*half is not a finished "
                                             r"segmentation run: missing _SUCCESS, segments"):
        run_segmentation(spark, config_from_dict(cfg))
