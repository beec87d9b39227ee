"""Metrics checked against independent oracles: scikit-learn, Spark's ClusteringEvaluator,
and brute-force numpy."""

from __future__ import annotations

import numpy as np
import pytest
from pyspark.ml.evaluation import ClusteringEvaluator
from pyspark.ml.linalg import Vectors
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score

from segmentation.model.columns import FEATURES_COL, VALUES_COL
from segmentation.model.metrics import evaluate_candidates, nearest, sample_metrics


@pytest.fixture(scope="module")
def blobs() -> tuple[np.ndarray, list[np.ndarray]]:
    """Three noisy blobs in 4-D and two candidate centre sets (k=2 and k=3, one off-centre)."""
    rng = np.random.default_rng(3)
    means = np.array([[0, 0, 0, 0], [4, 1, 0, -2], [1, 5, 3, 0]], dtype=float)
    x = np.vstack([rng.normal(m, 1.0, size=(300, 4)) for m in means])
    centers = [means[:2] + 0.3, means + rng.normal(0, 0.2, size=means.shape)]
    return x, centers


def _frame(spark, x: np.ndarray, partitions: int = 3):
    rows = [(Vectors.dense(r), r.tolist()) for r in x]
    return spark.createDataFrame(rows, [FEATURES_COL, VALUES_COL]).repartition(partitions)


def test_full_data_metrics_match_sklearn_and_spark(spark, blobs):
    x, centers = blobs
    df = _frame(spark, x)
    results, stats = evaluate_candidates(df, centers, x[:200])
    for cen, got, st in zip(centers, results, stats, strict=True):
        labels = nearest(x, cen)
        assert st.sizes == list(np.bincount(labels, minlength=len(cen)))
        wcss = float(((x - cen[labels]) ** 2).sum())
        assert got["wcss"] == pytest.approx(wcss, rel=1e-9)
        assert got["davies_bouldin"] == pytest.approx(davies_bouldin_score(x, labels), rel=1e-6)
        assert got["calinski_harabasz"] == pytest.approx(
            calinski_harabasz_score(x, labels), rel=1e-6
        )
        with_labels = spark.createDataFrame(
            [(Vectors.dense(r), float(lab)) for r, lab in zip(x, labels)],
            ["features", "prediction"],
        )
        spark_silhouette = ClusteringEvaluator().evaluate(with_labels)
        assert got["silhouette"] == pytest.approx(spark_silhouette, rel=1e-9)


def test_sample_metrics_match_sklearn_and_brute_force(blobs):
    x, centers = blobs
    sample = x[::3]
    for cen, got in zip(centers, sample_metrics(sample, [nearest(sample, c) for c in centers])):
        labels = nearest(sample, cen)
        assert got["silhouette_euclidean"] == pytest.approx(
            silhouette_score(sample, labels, metric="euclidean"), abs=1e-12
        )
        dist = np.sqrt(((sample[:, None, :] - sample[None, :, :]) ** 2).sum(axis=2))
        same = labels[:, None] == labels[None, :]
        assert got["dunn"] == pytest.approx(dist[~same].min() / dist[same].max(), rel=1e-9)


def test_hand_computed_case(spark):
    """Two clusters on a line: every metric by hand."""
    x = np.array([[0.0], [2.0], [10.0], [12.0]])
    centers = [np.array([[1.0], [11.0]])]
    (got,), _ = evaluate_candidates(_frame(spark, x, 2), centers, x)
    assert got["wcss"] == pytest.approx(4.0)  # four rows, each 1 from its centre
    # Davies-Bouldin: S = 1 for both clusters, centroid distance 10 -> (1 + 1) / 10
    assert got["davies_bouldin"] == pytest.approx(0.2)
    # Calinski-Harabasz: between = 2*25 + 2*25 = 100, within = 4, (n-k)/(k-1) = 2
    assert got["calinski_harabasz"] == pytest.approx(100 / 4 * 2)
    # Dunn: closest points of different clusters 8 apart, largest diameter 2
    assert got["dunn"] == pytest.approx(4.0)
    # Euclidean silhouette of x=0: a = 2, b = (10 + 12) / 2 = 11 -> 9/11 (same for all rows
    # by symmetry: for x=2, a=2, b=(8+10)/2=9 -> 7/9)
    assert got["silhouette_euclidean"] == pytest.approx((9 / 11 + 7 / 9) / 2)


def test_empty_cluster_is_ignored_like_sklearn(spark, blobs):
    x, _ = blobs
    far = np.array([[0, 0, 0, 0], [4, 1, 0, -2], [1, 5, 3, 0], [100, 100, 100, 100]], float)
    (got,), (stats,) = evaluate_candidates(_frame(spark, x), [far], x[:300])
    labels = nearest(x, far)
    assert len(np.unique(labels)) == 3 and stats.sizes[3] == 0
    assert got["davies_bouldin"] == pytest.approx(davies_bouldin_score(x, labels), rel=1e-6)
    assert got["calinski_harabasz"] == pytest.approx(calinski_harabasz_score(x, labels), rel=1e-6)


def test_rows_on_the_driver_give_the_metrics_of_the_spark_passes(spark, blobs, monkeypatch):
    """A run no larger than the sweep's sample evaluates the rows it holds on the driver,
    block by block (blocks of 128 here, so that several are summed)."""
    import segmentation.model.metrics as metrics_module

    x, centers = blobs
    over_spark, spark_stats = evaluate_candidates(_frame(spark, x), centers, x[:200])
    monkeypatch.setattr(metrics_module, "DRIVER_BLOCK_ROWS", 128)
    on_driver, driver_stats = evaluate_candidates(x, centers, x[:200])
    assert [s.sizes for s in driver_stats] == [s.sizes for s in spark_stats]
    for got, want in zip(on_driver, over_spark, strict=True):
        assert got.keys() == want.keys()
        for name, value in want.items():
            assert got[name] == pytest.approx(value, rel=1e-12), name
