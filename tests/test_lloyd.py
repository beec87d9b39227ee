"""Lloyd iterations over all rows: checked against a plain numpy oracle, and the passes
that reuse statistics checked to change nothing but the number of passes."""

from __future__ import annotations

import numpy as np
import pytest

import segmentation.model.metrics as metrics_module
from segmentation.model.columns import VALUES_COL
from segmentation.model.lloyd import lloyd_on_rows
from segmentation.model.metrics import ClusterStats, cluster_statistics, evaluate_candidates


@pytest.fixture(scope="module")
def blobs() -> tuple[np.ndarray, np.ndarray]:
    """Three well-separated blobs in 3-D and a start near (not at) their means."""
    rng = np.random.default_rng(11)
    means = np.array([[0, 0, 0], [6, 1, 0], [1, 7, 3]], dtype=float)
    x = np.vstack([rng.normal(m, 1.0, size=(400, 3)) for m in means])
    return x, means + rng.normal(0, 0.8, size=means.shape)


@pytest.fixture(scope="module")
def rows(spark, blobs):
    x, _ = blobs
    frame = spark.createDataFrame([(r.tolist(),) for r in x], [VALUES_COL])
    return frame.repartition(3).cache()


def _oracle(x: np.ndarray, centers: np.ndarray, max_iter: int, tol: float
            ) -> tuple[np.ndarray, int]:
    """Textbook Lloyd: assign by brute-force distance, move each centre to its mean."""
    for iteration in range(1, max_iter + 1):
        labels = ((x[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)
        moved = np.array([x[labels == j].mean(axis=0) if (labels == j).any() else centers[j]
                          for j in range(len(centers))])
        shift = ((moved - centers) ** 2).sum(axis=1).max()
        centers = moved
        if shift <= tol * tol:
            return centers, iteration
    return centers, max_iter


def _same(a: ClusterStats, b: ClusterStats) -> bool:
    return all(np.array_equal(getattr(a, f), getattr(b, f))
               for f in ("counts", "sums", "squared_norms", "sse"))


class _PassCounter:
    """Counts the passes ``lloyd_on_rows`` makes (the real function runs)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.passes = 0
        monkeypatch.setattr(metrics_module, "cluster_statistics", self)

    def __call__(self, rows, centers):
        self.passes += 1
        return cluster_statistics(rows, centers)


def test_lloyd_over_rows_matches_the_textbook_oracle(rows, blobs):
    x, start = blobs
    (got,) = lloyd_on_rows(rows, [start], max_iter=20, tol=1e-4)
    want, iterations = _oracle(x, start, 20, 1e-4)
    assert got.converged and got.iterations == iterations
    np.testing.assert_allclose(got.centers, want, rtol=1e-12)


def test_a_known_start_saves_the_first_pass_and_changes_nothing(rows, blobs, monkeypatch):
    _, start = blobs
    (plain,) = lloyd_on_rows(rows, [start], max_iter=20, tol=1e-4)
    (at_start,) = cluster_statistics(rows, [start])
    counter = _PassCounter(monkeypatch)
    (reused,) = lloyd_on_rows(rows, [start], max_iter=20, tol=1e-4, known=[at_start])
    assert np.array_equal(reused.centers, plain.centers)
    assert reused.iterations == plain.iterations
    assert counter.passes == plain.iterations - 1


def test_final_statistics_are_those_of_a_fresh_pass_bit_for_bit(rows, blobs):
    _, start = blobs
    (got,) = lloyd_on_rows(rows, [start], max_iter=20, tol=1e-4)
    # well-separated blobs: the last update reassigns no row, so it moves no centre
    assert got.stats is not None
    (fresh,) = cluster_statistics(rows, [got.centers])
    assert _same(got.stats, fresh)


def test_an_update_that_moved_a_centre_leaves_no_statistics(rows, blobs):
    """A loose tol stops after the first update, which moved the centres."""
    _, start = blobs
    (got,) = lloyd_on_rows(rows, [start], max_iter=20, tol=100.0)
    assert got.converged and got.iterations == 1 and got.stats is None


def test_known_statistics_give_the_same_metrics_without_pass_one(rows, blobs, monkeypatch):
    x, start = blobs
    (got,) = lloyd_on_rows(rows, [start], max_iter=20, tol=1e-4)
    assert got.stats is not None
    (plain,), (plain_stats,) = evaluate_candidates(rows, [got.centers], x[:300])

    def refuse(*_):
        raise AssertionError("pass 1 ran although its statistics were known")

    monkeypatch.setattr(metrics_module, "cluster_statistics", refuse)
    (reused,), (reused_stats,) = evaluate_candidates(rows, [got.centers], x[:300],
                                                     known=[got.stats])
    assert reused == plain
    assert _same(reused_stats, plain_stats)
