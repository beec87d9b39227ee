"""Runs made by earlier versions keep working: a run directory written by the version before
the run layout had a ``format_version`` (commit a161433, ``tests/fixtures/run-v1``, made
from ``tests/fixtures/run-v1-config.yaml`` on ``segment generate --customers 300 --seed 5``)
loads, scores, serves as ``previous_run`` and gets a report; manifests of other versions or
other jobs are refused in one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from pyspark.ml import PipelineModel
from support.exported import assert_labels_match, spark_sql_labels

from segmentation.core.errors import InputDataError
from segmentation.model.selection import STABILITY_COLUMNS
from segmentation.outputs import layout
from segmentation.outputs.layout import read_manifest
from segmentation.report import build_report
from segmentation.run.config import config_from_dict
from segmentation.run.job import run_segmentation
from segmentation.scoring.job import score_customers

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "run-v1"


@pytest.fixture(scope="module")
def customers(make_customers) -> Path:
    """The fixture run's input, generated again (the generator is seeded)."""
    return make_customers(300, seed=5)


def labels(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path / "labels").sort_values("customer_id", ignore_index=True)


def test_the_fixture_is_a_version_1_run() -> None:
    manifest = read_manifest(json.loads((FIXTURE / "manifest.json").read_text()), str(FIXTURE))
    assert manifest.format_version == 1 and manifest.chosen_k == 4


def test_its_model_loads_and_reproduces_its_labels(spark, customers) -> None:
    model = PipelineModel.load(str(FIXTURE / "model"))
    scored = model.transform(spark.read.parquet(str(customers)))
    mine = scored.select("customer_id", "segment", "distance").toPandas()
    mine = mine.sort_values("customer_id", ignore_index=True)
    expected = labels(FIXTURE)
    assert (mine["segment"].to_numpy() == expected["segment"].to_numpy()).all()
    assert mine["distance"].to_numpy() == pytest.approx(expected["distance"].to_numpy(),
                                                        rel=1e-9)


def test_its_model_exports_as_sql_that_gives_its_labels(spark, customers) -> None:
    """Spark's ImputerModel and StandardScalerModel of the first layout, read for SQL."""
    assert_labels_match(spark_sql_labels(spark, FIXTURE, customers, table="v1_customers"),
                        labels(FIXTURE))


def test_it_scores_new_customers(spark, customers, tmp_path) -> None:
    manifest = score_customers(spark, model_run=str(FIXTURE), input_path=str(customers),
                               output_path=str(tmp_path / "scored"))
    pd.testing.assert_frame_equal(labels(tmp_path / "scored"), labels(FIXTURE),
                                  check_exact=False, rtol=1e-9)
    assert manifest["chosen_k"] == 4 and manifest["rows_scored"] == 300


def test_it_serves_as_previous_run(spark, customers, tmp_path) -> None:
    """The fixture's own config on the same customers: every customer keeps its id."""
    cfg = yaml.safe_load((FIXTURE.parent / "run-v1-config.yaml").read_text())
    cfg["input"]["path"] = str(customers)
    cfg["output"]["path"] = str(tmp_path / "run")
    cfg["model"]["previous_run"] = str(FIXTURE)
    manifest = run_segmentation(spark, config_from_dict(cfg))
    assert manifest["chosen_k"] == 4
    assert manifest["migration"]["kept_share"] == 1.0
    assert manifest["migration"]["new_segments"] == manifest["migration"]["vanished_segments"]
    assert (labels(FIXTURE)["segment"] == labels(tmp_path / "run")["segment"]).all()


def test_the_layout_keeps_its_names() -> None:
    """Writers, readers and tests use the layout's constants; here they are pinned to the
    names users' runs have (format_version 4), which must not change."""
    assert layout.FORMAT_VERSION == 4
    assert layout.METRICS_COLUMNS == [
        "k", "wcss", "silhouette", "davies_bouldin", "calinski_harabasz", "dunn",
        "silhouette_euclidean", "stability", "stability_q25", "stability_q75", "iterations",
        "seconds", "fitted_rows"]
    assert layout.SEGMENTS_COLUMNS == ["segment", "size", "share", "mean_distance",
                                       "distance_p99", "stability", "description", "suppressed"]
    assert layout.SCORED_SEGMENTS_COLUMNS == ["segment", "size", "share", "drifted",
                                              "drift_share", "distance_p99", "description",
                                              "suppressed"]
    assert layout.PROFILE_COLUMNS == [
        "segment", "feature", "kind", "count", "mean", "std", "min", "q25", "median", "q75",
        "max", "overall_mean", "overall_std", "z", "suppressed"]
    assert layout.SCATTER_COLUMNS == ["pc1", "pc2", "segment"]
    assert layout.CENTROIDS_COLUMNS == ["segment", "pc1", "pc2", "suppressed"]
    assert layout.MIGRATION_COLUMNS == ["previous_segment", "segment", "count", "suppressed"]
    assert layout.LABEL_COLUMNS == ["segment", "distance"]
    assert layout.THRESHOLD_COLUMNS == ["segment", "distance_p99"]
    assert (layout.MANIFEST, layout.LABELS, layout.MODEL, layout.PROFILES_TABLE,
            layout.METRICS_CSV, layout.SEGMENTS_CSV, layout.PROFILES_CSV, layout.SCATTER_CSV,
            layout.CENTROIDS_CSV, layout.MIGRATION_CSV, layout.THRESHOLDS_CSV) == (
        "manifest.json", "labels", "model", "profiles", "metrics.csv", "segments.csv",
        "profiles.csv", "scatter.csv", "centroids_2d.csv", "migration.csv",
        "private/thresholds.csv")


def test_the_fixture_columns_are_the_layouts_of_version_1() -> None:
    """A version-1 run has the layout's columns but those added later (privacy: version 3;
    stability: version 4)."""
    later = {layout.SUPPRESSED_COL, *STABILITY_COLUMNS}
    for name, columns in [(layout.METRICS_CSV, layout.METRICS_COLUMNS),
                          (layout.SEGMENTS_CSV, layout.SEGMENTS_COLUMNS),
                          (layout.PROFILES_CSV, layout.PROFILE_COLUMNS),
                          (layout.SCATTER_CSV, layout.SCATTER_COLUMNS),
                          (layout.CENTROIDS_CSV, layout.CENTROIDS_COLUMNS)]:
        written = list(pd.read_csv(FIXTURE / name, nrows=0).columns)
        assert written == [c for c in columns if c not in later], name


def test_it_gets_a_report(tmp_path) -> None:
    run = tmp_path / "run-v1"
    shutil.copytree(FIXTURE, run)
    page = Path(build_report(run)).read_text(encoding="utf-8")
    assert "k = 4 chosen by the highest Silhouette (squared Euclidean) over k = 2..4" in page
    assert "<th>Stability</th>" not in page and "Warning:" not in page  # none before v4


@pytest.mark.parametrize(("change", "message"), [
    ({"format_version": 99}, "format_version 99, newer than this version of segmentation "
                             "reads (4): upgrade segmentation"),
    ({"format_version": "two"}, "format_version 'two', not a positive integer"),
    ({"job": "features"}, "is the manifest of a features run, not of a segmentation run"),
    ({"chosen_k": None}, "is not a segmentation run's manifest: chosen_k is missing"),
    ({"config": {"input": {}}}, "config.input.id_column is missing"),
])
def test_foreign_or_newer_manifests_are_refused_in_one_line(change, message) -> None:
    data = {**json.loads((FIXTURE / "manifest.json").read_text()), **change}
    with pytest.raises(InputDataError, match="^run/manifest.json .*") as failure:
        read_manifest(data, "run")
    assert message in str(failure.value) and "\n" not in str(failure.value)
