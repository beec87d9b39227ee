"""Bootstrap stability of the segments, in numpy on the driver's evaluation sample.

Two questions a marketer asks before acting on segments (Dolnicar, Grün and Leisch,
*Market Segmentation Analysis*, 2018): would the same segments come back from another
sample of the same customers, and is each single segment real?

- **Global stability per k** (as ``flexclust::bootFlexclust``): for each of
  ``evaluation.stability_resamples`` pairs, two bootstrap resamples of the evaluation
  sample are each clustered (the best of a few seeded k-means++ restarts, Lloyd to
  convergence), both clusterings assign every row of the evaluation sample to its nearest
  centre, and the adjusted Rand index (ARI) of the two partitions is one value. Summaries:
  mean, first and third quartile.
- **Segment stability** of the final model (as ``fpc::clusterboot``, Hennig 2007): per
  segment, the mean over the resamples' clusterings at the chosen k of the Jaccard
  similarity between the segment and its best-matching cluster of the resample, on the
  customers the resample contains.

A resample draws ``evaluation.stability_sample_size`` rows with replacement (fewer than
the evaluation sample at large sizes: an m-out-of-n bootstrap, which keeps the cost
fixed). Every resample has its own seed derived from (seed, k, resample), so the numbers
do not depend on threads or on the Spark master.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from segmentation.model.lloyd import best_start
from segmentation.model.metrics import nearest


@dataclass(frozen=True)
class StabilityAtK:
    """The bootstrap results at one k."""

    k: int
    #: Adjusted Rand index of each pair of resample clusterings on the evaluation sample.
    ari: np.ndarray
    #: Row indices into the evaluation sample of each resample (two per pair).
    resamples: list[np.ndarray]
    #: The centres fitted on each resample, in the order of ``resamples``.
    centers: list[np.ndarray]

    def summary(self) -> dict[str, float]:
        """``stability`` (mean ARI), ``stability_q25`` and ``stability_q75``."""
        return {"stability": float(np.mean(self.ari)),
                "stability_q25": float(np.quantile(self.ari, 0.25)),
                "stability_q75": float(np.quantile(self.ari, 0.75))}


def adjusted_rand_index(a: np.ndarray, b: np.ndarray) -> float:
    """Hubert and Arabie's adjusted Rand index of two labellings of the same rows.

    1 for identical partitions (up to renaming), about 0 for independent ones; two
    single-cluster labellings count as identical (1.0), as in scikit-learn.

    >>> adjusted_rand_index(np.array([0, 0, 1, 1]), np.array([5, 5, 3, 3]))
    1.0
    """
    _, a = np.unique(a, return_inverse=True)
    _, b = np.unique(b, return_inverse=True)
    table = np.bincount(a * (b.max() + 1) + b, minlength=(a.max() + 1) * (b.max() + 1))

    def pairs(counts: np.ndarray) -> float:
        counts = counts.astype(float)
        return float((counts * (counts - 1)).sum() / 2)

    both = pairs(table)
    rows = pairs(np.bincount(a))
    cols = pairs(np.bincount(b))
    total = len(a) * (len(a) - 1) / 2
    expected = rows * cols / total if total else 0.0
    maximum = (rows + cols) / 2
    if maximum == expected:  # both trivial (one cluster, or all singletons)
        return 1.0
    return (both - expected) / (maximum - expected)


def best_jaccard(reference: np.ndarray, other: np.ndarray, clusters: int) -> np.ndarray:
    """Per cluster ``0..clusters-1`` of ``reference``, the largest Jaccard similarity
    |A ∩ B| / |A ∪ B| with a cluster B of ``other`` (labels of the same rows).

    A cluster with no row here gets NaN (it is left out of the mean over resamples).

    >>> best_jaccard(np.array([0, 0, 0, 1]), np.array([0, 0, 1, 1]), 2)
    array([0.66666667, 0.5       ])
    """
    _, other = np.unique(other, return_inverse=True)
    width = other.max() + 1 if len(other) else 1
    both = np.bincount(reference * width + other, minlength=clusters * width).reshape(
        clusters, width).astype(float)
    union = both.sum(axis=1)[:, None] + np.bincount(other, minlength=width)[None, :] - both
    with np.errstate(divide="ignore", invalid="ignore"):
        best = (both / union).max(axis=1)
    best[both.sum(axis=1) == 0] = np.nan
    return best


def stability_at_k(x: np.ndarray, k: int, *, resamples: int, sample_size: int, restarts: int,
                   seed: int, max_iter: int, tol: float) -> StabilityAtK:
    """Global stability at ``k``: ``resamples`` pairs of bootstrap resamples of ``x``."""
    rng = np.random.default_rng([seed, k])
    drawn, centers = [], []
    for _ in range(2 * resamples):
        rows = rng.integers(len(x), size=min(sample_size, len(x)))
        fitted, _ = best_start(x[rows], k, restarts=restarts, seed=int(rng.integers(2**31)),
                               max_iter=max_iter, tol=tol)
        drawn.append(rows)
        centers.append(fitted)
    labels = [nearest(x, c) for c in centers]
    ari = np.array([adjusted_rand_index(labels[2 * i], labels[2 * i + 1])
                    for i in range(resamples)])
    return StabilityAtK(k, ari, drawn, centers)


def stability_sweep(x: np.ndarray, ks: Sequence[int], *, resamples: int, sample_size: int,
                    restarts: int, seed: int, max_iter: int, tol: float,
                    threads: int) -> list[StabilityAtK]:
    """:func:`stability_at_k` for every k, up to ``threads`` values of k at once (numpy
    releases the GIL; each k has its own seeds, so the result does not depend on them)."""

    def one(k: int) -> StabilityAtK:
        return stability_at_k(x, k, resamples=resamples, sample_size=sample_size,
                              restarts=restarts, seed=seed, max_iter=max_iter, tol=tol)

    with ThreadPoolExecutor(max_workers=max(1, min(threads, os.cpu_count() or 1))) as pool:
        return list(pool.map(one, ks))


def segment_jaccard(x: np.ndarray, centers: np.ndarray, at_k: StabilityAtK) -> np.ndarray:
    """Hennig's per-cluster stability of the model ``centers`` (one value per centre, in
    their order): the mean over the resamples of the best Jaccard similarity between the
    cluster and a cluster of the resample's clustering, on the rows the resample holds."""
    final = nearest(x, centers)
    values = []
    for rows, fitted in zip(at_k.resamples, at_k.centers, strict=True):
        members = np.unique(rows)
        values.append(best_jaccard(final[members], nearest(x[members], fitted), len(centers)))
    with warnings.catch_warnings():  # a cluster without sample rows has no value: NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(np.array(values), axis=0)
