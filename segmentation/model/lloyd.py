"""KMeans itself: k-means++ starts and Lloyd iterations, on the driver or over all rows.

One update rule serves both places: each centre moves to the mean of the rows nearest to
it (a centre without rows stays where it is), and the iterations stop when no centre moves
more than ``tol`` (Euclidean) or after ``max_iter`` updates, as MLlib's KMeans does.

- On the driver (:func:`lloyd`), in numpy, on a sample that fits in memory: the restarts
  and the sweep.
- Over all rows (:func:`lloyd_on_rows`), one pass per iteration that sums each cluster's
  rows in the Python workers (:func:`segmentation.model.metrics.statistics_of`), for
  any number of candidates at once: the final fit, and a sweep on all rows. The partial
  sums are added in partition order, so the result does not depend on the master.

A pass over all rows is never repeated for the same centres: the statistics of a start
can come with it (the evaluation's pass at the sweep's centres starts the final fit), and
when an update moves no centre at all (the assignment did not change), the statistics of
the last pass are those of the final centres, bit for bit, and the evaluation reuses them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pyspark.sql import DataFrame

from segmentation.model.metrics import ClusterStats, nearest, statistics_of


@dataclass(frozen=True)
class LloydResult:
    """Where the iterations ended."""

    centers: np.ndarray
    iterations: int
    #: True when the last update moved no centre more than ``tol``.
    converged: bool
    #: The pass-1 statistics over all rows at ``centers``, when a pass computed them (the
    #: last update moved no centre); None otherwise, and for fits on the driver.
    stats: ClusterStats | None = None


def kmeans_plus_plus(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Greedy k-means++ centres from the rows of ``x`` (2 + log k candidates per step)."""
    n = len(x)
    trials = 2 + int(np.log(k))
    centers = [x[rng.integers(n)]]
    closest = ((x - centers[0]) ** 2).sum(axis=1)
    for _ in range(1, k):
        total = closest.sum()
        if total <= 0:  # fewer distinct rows than k: repeat one; Lloyd leaves it empty
            centers.append(x[rng.integers(n)])
            continue
        picks = np.searchsorted(np.cumsum(closest), rng.random(trials) * total)
        picks = np.minimum(picks, n - 1)
        dist = ((x[picks][:, None, :] - x[None, :, :]) ** 2).sum(axis=2)
        best = int(np.argmin(np.minimum(closest, dist).sum(axis=1)))
        centers.append(x[picks[best]])
        closest = np.minimum(closest, dist[best])
    return np.array(centers)


def updated_centers(centers: np.ndarray, counts: np.ndarray, sums: np.ndarray
                    ) -> tuple[np.ndarray, float]:
    """The update step: (new centres, largest squared distance a centre moved)."""
    moved = centers.copy()
    filled = counts > 0
    moved[filled] = sums[filled] / counts[filled, None]
    return moved, float(((moved - centers) ** 2).sum(axis=1).max())


def lloyd(x: np.ndarray, centers: np.ndarray, *, max_iter: int, tol: float) -> LloydResult:
    """Lloyd iterations on the rows of ``x`` in numpy, from ``centers``."""
    k = len(centers)
    for iteration in range(1, max_iter + 1):
        labels = nearest(x, centers)
        counts = np.bincount(labels, minlength=k).astype(float)
        sums = np.stack([np.bincount(labels, weights=x[:, j], minlength=k)
                         for j in range(x.shape[1])], axis=1)
        centers, shift = updated_centers(centers, counts, sums)
        if shift <= tol * tol:
            return LloydResult(centers, iteration, True)
    return LloydResult(centers, max_iter, False)


def wcss(x: np.ndarray, centers: np.ndarray) -> float:
    """Sum of squared distances of the rows of ``x`` to their nearest centre."""
    return float(((x - centers[nearest(x, centers)]) ** 2).sum())


def best_start(sample: np.ndarray, k: int, *, restarts: int, seed: int, max_iter: int,
               tol: float) -> tuple[np.ndarray, int]:
    """The best of ``restarts`` k-means++ starts, each run to convergence on ``sample``.

    Returns (centres, seed of the winning restart; seeds are ``seed, seed + 1, ...``).
    The lowest WCSS on the sample wins; ties go to the earlier seed.
    """
    best: tuple[float, int, np.ndarray] | None = None
    for restart in range(seed, seed + restarts):
        init = kmeans_plus_plus(sample, k, np.random.default_rng(restart))
        centers = lloyd(sample, init, max_iter=max_iter, tol=tol).centers
        cost = wcss(sample, centers)
        if best is None or cost < best[0]:
            best = (cost, restart, centers)
    assert best is not None
    return best[2], best[1]


def lloyd_on_rows(rows: DataFrame, starts: Sequence[np.ndarray], *, max_iter: int,
                  tol: float, known: Sequence[ClusterStats | None] | None = None
                  ) -> list[LloydResult]:
    """Lloyd iterations over every row of ``rows`` (a ``features`` column) for each start.

    All candidates still moving share one pass per iteration; a candidate stops as soon as
    it has converged. ``known`` holds a start's statistics over all rows where a pass
    already computed them; its first update then needs no pass.
    """
    centers = [np.asarray(s, dtype=float) for s in starts]
    at_centers: list[ClusterStats | None] = list(known or [None] * len(centers))
    iterations = [0] * len(centers)
    done = [False] * len(centers)
    for _ in range(max_iter):
        moving = [i for i, finished in enumerate(done) if not finished]
        if not moving:
            break
        current = statistics_of(rows, [centers[i] for i in moving],
                                [at_centers[i] for i in moving])
        for i, st in zip(moving, current, strict=True):
            at_centers[i] = st
            moved, shift = updated_centers(centers[i], st.counts, st.sums)
            iterations[i] += 1
            done[i] = shift <= tol * tol
            if not np.array_equal(moved, centers[i]):
                centers[i], at_centers[i] = moved, None
    return [LloydResult(c, n, d, st)
            for c, n, d, st in zip(centers, iterations, done, at_centers, strict=True)]
