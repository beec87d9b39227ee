"""The sample-based metrics: Dunn index and Euclidean silhouette, exact on a driver sample.

Pairwise distances are quadratic in the rows, so these two run on a seeded uniform sample
of at most ``evaluation.sample_size`` rows: the smallest distance between rows of different
clusters over the largest cluster diameter (Dunn), and scikit-learn's ``silhouette_score``
(Euclidean).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

_BLOCK = 256


def squared_norms(x: np.ndarray) -> np.ndarray:
    """The squared Euclidean norm of each row of ``x`` (without an ``x * x`` temporary)."""
    return np.einsum("ij,ij->i", x, x)


def pairwise_distances(x: np.ndarray, rows: slice) -> np.ndarray:
    """Euclidean distances from ``x[rows]`` to every row of ``x`` (scikit-learn's formula)."""
    block = x[rows]
    d2 = (
        squared_norms(block)[:, None]
        - 2.0 * block @ x.T
        + squared_norms(x)[None, :]
    )
    np.maximum(d2, 0, out=d2)
    idx = np.arange(rows.start, min(rows.stop, len(x)))
    d2[idx - rows.start, idx] = 0.0
    return np.sqrt(d2)


@dataclass(frozen=True)
class _Grouping:
    """One labelling of the sample: the column order that makes each cluster contiguous."""

    order: np.ndarray  # row indices sorted by label
    starts: np.ndarray  # where each present cluster begins in ``order``
    present: np.ndarray  # the labels of the present clusters, ascending
    own: np.ndarray  # per row, the position of its cluster among ``present``

    @classmethod
    def of(cls, labels: np.ndarray) -> _Grouping:
        order = np.argsort(labels, kind="stable")
        present, starts = np.unique(labels[order], return_index=True)
        return cls(order, starts, present, np.searchsorted(present, labels))


def _block_extremes(dist: np.ndarray, rows: slice, g: _Grouping
                    ) -> tuple[float, float, np.ndarray]:
    """(smallest distance to another cluster, largest to the own cluster, per-cluster sums)
    of the rows of one distance block, under one labelling."""
    grouped = np.take(dist, g.order, axis=1)
    sums = np.add.reduceat(grouped, g.starts, axis=1)
    own = g.own[rows]
    at = np.arange(len(own))
    largest = float(np.maximum.reduceat(grouped, g.starts, axis=1)[at, own].max())
    if len(g.present) < 2:
        return np.inf, largest, sums
    nearest_other = np.minimum.reduceat(grouped, g.starts, axis=1)
    nearest_other[at, own] = np.inf
    return float(nearest_other.min()), largest, sums


def sample_metrics(x: np.ndarray, labelings: Sequence[np.ndarray]) -> list[dict[str, float]]:
    """Dunn index and Euclidean silhouette of each labelling of the same sample ``x``.

    Pairwise distances are computed once per block of rows and shared by all labellings;
    per labelling the block's columns are grouped by cluster, so per-cluster minima, maxima
    and sums are contiguous reductions. Blocks run on driver threads (numpy releases the
    GIL), as the driver's cores are otherwise idle while this runs.
    """
    n = len(x)
    groupings = [_Grouping.of(lab) for lab in labelings]
    sums = [np.zeros((n, len(g.present))) for g in groupings]

    def block(start: int) -> list[tuple[float, float]]:
        rows = slice(start, min(start + _BLOCK, n))
        dist = pairwise_distances(x, rows)
        out = []
        for i, g in enumerate(groupings):
            between, within, block_sums = _block_extremes(dist, rows, g)
            sums[i][rows] = block_sums
            out.append((between, within))
        return out

    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        blocks = list(pool.map(block, range(0, n, _BLOCK)))
    out = []
    for i, g in enumerate(groupings):
        if len(g.present) < 2 or len(g.present) > n - 1:
            out.append({"dunn": np.nan, "silhouette_euclidean": np.nan})
            continue
        min_between = min(b[i][0] for b in blocks)
        max_within = max(b[i][1] for b in blocks)
        dunn = min_between / max_within if max_within > 0 else np.nan
        sizes = np.diff(np.append(g.starts, n))
        out.append({"dunn": float(dunn),
                    "silhouette_euclidean": _euclidean_silhouette(sums[i], g.own, sizes)})
    return out


def _euclidean_silhouette(sums: np.ndarray, labels: np.ndarray, sizes: np.ndarray) -> float:
    """scikit-learn's ``silhouette_score`` from per-row sums of distances to each cluster
    (``labels`` index the columns of ``sums`` and ``sizes``; every size is positive)."""
    rows = np.arange(len(labels))
    own = sizes[labels]
    with np.errstate(divide="ignore", invalid="ignore"):
        a = sums[rows, labels] / (own - 1)
        means = sums / sizes[None, :]
    means[rows, labels] = np.inf
    b = means.min(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = (b - a) / np.maximum(a, b)
    s = np.nan_to_num(np.where(own > 1, s, 0.0))
    return float(s.mean())
