"""Clustering quality metrics for every candidate k, in two passes over all rows.

Definitions (so results can be checked against scikit-learn and Spark):

- ``wcss``: sum over rows of the squared Euclidean distance to the assigned model centre
  (scikit-learn's ``inertia_``).
- ``silhouette``: Spark ``ClusteringEvaluator``'s default (squared Euclidean distance, the
  linear-time form from per-cluster counts, sums and sums of squared norms), over all rows.
- ``davies_bouldin``, ``calinski_harabasz``: scikit-learn's definitions (centroids are the
  means of the assigned rows), over all rows.
- ``dunn`` and ``silhouette_euclidean``: exact on a seeded uniform sample of at most
  ``evaluation.sample_size`` rows (:mod:`segmentation.model.sample_metrics`).

Rows are assigned to the nearest centre of each candidate, as ``KMeansModel`` does.
Both passes handle all candidates at once in numpy inside the Python workers (Arrow
batches), so evaluating nine values of k costs two scans, not eighteen; pass 1 is skipped
for a candidate whose statistics a Lloyd pass already computed at its centres. When every row is
already on the driver (a run no larger than the sweep's sample), the same numpy code runs
there on blocks of rows instead: no Spark job, no Python worker to start.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa
from pyspark.sql import DataFrame

from segmentation.model.columns import VALUES_COL
from segmentation.model.sample_metrics import sample_metrics, squared_norms
from segmentation.model.selection import METRIC_NAMES


@dataclass(frozen=True)
class ClusterStats:
    """Per-cluster sufficient statistics of one candidate over all rows."""

    counts: np.ndarray  # (k,)
    sums: np.ndarray  # (k, d)
    squared_norms: np.ndarray  # (k,) sum of ||x||^2
    sse: np.ndarray  # (k,) sum of ||x - centre||^2

    @property
    def means(self) -> np.ndarray:
        return self.sums / np.maximum(self.counts, 1)[:, None]

    @property
    def sizes(self) -> list[int]:
        return [int(n) for n in self.counts]


def nearest(x: np.ndarray, centers: np.ndarray, norms: np.ndarray | None = None
            ) -> np.ndarray:
    """Index of the nearest centre of each row (first one on ties).

    ``norms`` are the rows' squared norms when the caller has them. The squared distances
    are ``||x||^2 - 2 x.c + ||c||^2``, computed in place (the same values as the
    expression, without its temporaries: the passes over all rows spend much of their
    time here).
    """
    d2 = x @ centers.T
    d2 *= 2.0
    np.subtract((squared_norms(x) if norms is None else norms)[:, None], d2, out=d2)
    d2 += squared_norms(centers)[None, :]
    return np.argmin(d2, axis=1)


def _rows(batch: pa.RecordBatch) -> np.ndarray:
    column = batch.column(0)
    return column.flatten().to_numpy(zero_copy_only=False).reshape(len(column), -1)


def _per_cluster(labels: np.ndarray, k: int, weights: np.ndarray | None = None) -> np.ndarray:
    return np.bincount(labels, weights=weights, minlength=k).astype(float)


class Block:
    """A block of rows (an Arrow batch, or driver rows) and what every candidate's
    statistics over it share, computed once per block rather than once per candidate."""

    def __init__(self, x: np.ndarray) -> None:
        self.x = x
        #: The squared norm of each row.
        self.norms = squared_norms(x)

    @cached_property
    def columns(self) -> np.ndarray:
        """The rows' columns, each contiguous (per-cluster sums read them column by
        column; a column of ``x`` is strided)."""
        return np.ascontiguousarray(self.x.T)


#: Sums ``(candidate, block, labels) -> (k, m)`` over a block of rows.
PerBlock = Callable[[int, Block, np.ndarray], np.ndarray]


#: Rows or matrix: the prepared rows (a ``feature_values`` column), or all of them on the driver.
Rows = DataFrame | np.ndarray
#: Rows per block when the rows are on the driver (Arrow's default batch size).
DRIVER_BLOCK_ROWS = 10_000


def scan_sums(
    rows: Rows,
    centers: Sequence[np.ndarray],
    per_batch: PerBlock,
) -> list[np.ndarray]:
    """Sum ``per_batch(candidate, block, labels) -> (k, m)`` over all rows.

    Runs in the Python workers on Arrow batches; only one small (k, m) matrix per candidate
    and partition travels back to the driver. Rows already on the driver are summed there,
    block by block.
    """
    if isinstance(rows, np.ndarray):
        blocks = (rows[i:i + DRIVER_BLOCK_ROWS] for i in range(0, len(rows), DRIVER_BLOCK_ROWS))
        totals = _block_sums(blocks, centers, per_batch)
        return [totals.get(c, np.zeros((len(cen), 0))) for c, cen in enumerate(centers)]

    def scan(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        blocks = (_rows(batch) for batch in batches if batch.num_rows > 0)
        for c, matrix in _block_sums(blocks, centers, per_batch).items():
            yield pa.RecordBatch.from_pydict(
                {"c": [c] * len(matrix), "j": list(range(len(matrix))), "v": matrix.tolist()},
                schema=_SCAN_SCHEMA,
            )

    parts: pd.DataFrame = (rows.select(VALUES_COL)
                           .mapInArrow(scan, "c long, j long, v array<double>").toPandas())
    out = []
    for c in range(len(centers)):
        part = parts[parts.c == c]
        width = len(part.v.iloc[0]) if len(part) else 0
        total = np.zeros((len(centers[c]), width))
        np.add.at(total, part.j.to_numpy(), np.array(part.v.tolist()).reshape(-1, width))
        out.append(total)
    return out


def _block_sums(
    blocks: Iterable[np.ndarray],
    centers: Sequence[np.ndarray],
    per_batch: PerBlock,
) -> dict[int, np.ndarray]:
    """``per_batch`` of every candidate summed over ``blocks`` of rows, in their order."""
    totals: dict[int, np.ndarray] = {}
    for x in blocks:
        block = Block(x)
        for c, cen in enumerate(centers):
            part = per_batch(c, block, nearest(x, cen, block.norms))
            totals[c] = part if c not in totals else totals[c] + part
    return totals


_SCAN_SCHEMA = pa.schema(
    [("c", pa.int64()), ("j", pa.int64()), ("v", pa.list_(pa.float64()))]
)


def cluster_statistics(rows: Rows, centers: Sequence[np.ndarray]) -> list[ClusterStats]:
    """Pass 1: counts, sums, sums of squared norms and SSE per cluster of every candidate."""

    def per_batch(c: int, block: Block, lab: np.ndarray) -> np.ndarray:
        k = len(centers[c])
        diff = block.x - centers[c][lab]
        columns = [_per_cluster(lab, k)]
        columns += [_per_cluster(lab, k, column) for column in block.columns]
        columns += [_per_cluster(lab, k, block.norms),
                    _per_cluster(lab, k, squared_norms(diff))]
        return np.stack(columns, axis=1)

    out = []
    for total in scan_sums(rows, centers, per_batch):
        out.append(ClusterStats(counts=total[:, 0], sums=total[:, 1:-2],
                                squared_norms=total[:, -2], sse=total[:, -1]))
    return out


def statistics_of(rows: Rows, centers: Sequence[np.ndarray],
                  known: Sequence[ClusterStats | None]) -> list[ClusterStats]:
    """Pass-1 statistics of every candidate: the ``known`` ones as given, the others
    (None) from one pass over ``rows``, none when every one is known."""
    missing = [c for c, st in enumerate(known) if st is None]
    passed = iter(cluster_statistics(rows, [centers[c] for c in missing]) if missing else [])
    return [st if st is not None else next(passed) for st in known]


def spread_statistics(
    rows: Rows, centers: Sequence[np.ndarray], stats: Sequence[ClusterStats]
) -> list[dict[str, np.ndarray]]:
    """Pass 2: per cluster, sums of distances and squared distances to the cluster mean,
    and of the squared-Euclidean silhouette coefficients (as ClusteringEvaluator computes)."""
    means = [st.means for st in stats]

    def per_batch(c: int, block: Block, lab: np.ndarray) -> np.ndarray:
        k, st = len(centers[c]), stats[c]
        diff = block.x - means[c][lab]
        sq_dist = squared_norms(diff)
        sil = _squared_silhouette(block.x, block.norms, lab, st.counts, st.sums,
                                  st.squared_norms)
        return np.stack([_per_cluster(lab, k, np.sqrt(sq_dist)), _per_cluster(lab, k, sq_dist),
                         _per_cluster(lab, k, sil)], axis=1)

    return [
        {"distance_sum": t[:, 0], "squared_distance_sum": t[:, 1], "silhouette_sum": t[:, 2]}
        for t in scan_sums(rows, centers, per_batch)
    ]


def _squared_silhouette(
    x: np.ndarray,
    norms: np.ndarray,
    labels: np.ndarray,
    counts: np.ndarray,
    sums: np.ndarray,
    squared_norms: np.ndarray,
) -> np.ndarray:
    """Per-row silhouette with squared Euclidean distance, Spark's linear-time formula."""
    present = counts > 0
    safe = np.maximum(counts, 1)
    # avg = ||x||^2 + squared_norms / n - 2 (x . sums) / n per cluster, in place
    scaled_dot = x @ sums.T
    scaled_dot *= 2.0
    scaled_dot /= safe[None, :]
    avg = norms[:, None] + (squared_norms / safe)[None, :]
    avg -= scaled_dot
    avg[:, ~present] = np.inf
    rows = np.arange(len(x))
    own_n = counts[labels]
    with np.errstate(divide="ignore", invalid="ignore"):
        a = avg[rows, labels] * own_n / (own_n - 1)
        avg[rows, labels] = np.inf
        b = _row_minimum(avg)
        out = np.where(a < b, 1.0 - a / b, np.where(a > b, b / a - 1.0, 0.0))
    out[own_n == 1] = 0.0
    return out


def _row_minimum(matrix: np.ndarray) -> np.ndarray:
    """The smallest entry of each row of a matrix with few columns (``min(axis=1)``'s
    values; numpy's reduction along a short row is several times slower)."""
    least = matrix[:, 0].copy()
    for j in range(1, matrix.shape[1]):
        np.minimum(least, matrix[:, j], out=least)
    return least


def full_data_metrics(stats: ClusterStats, spread: dict[str, np.ndarray]) -> dict[str, float]:
    """WCSS, silhouette, Davies-Bouldin and Calinski-Harabasz of one candidate."""
    present = stats.counts > 0
    n = stats.counts[present]
    total = n.sum()
    labels = int(present.sum())
    means = stats.means[present]
    result = {"wcss": float(stats.sse.sum())}
    if labels < 2:
        return {**result, "silhouette": np.nan, "davies_bouldin": np.nan,
                "calinski_harabasz": np.nan}
    result["silhouette"] = float(spread["silhouette_sum"].sum() / total)
    intra = spread["distance_sum"][present] / n
    centroid_dist = np.sqrt(((means[:, None, :] - means[None, :, :]) ** 2).sum(axis=2))
    if np.allclose(intra, 0) or np.allclose(centroid_dist, 0):
        result["davies_bouldin"] = 0.0
    else:
        centroid_dist[centroid_dist == 0] = np.inf
        result["davies_bouldin"] = float(
            np.mean(np.max((intra[:, None] + intra[None, :]) / centroid_dist, axis=1))
        )
    overall = stats.sums[present].sum(axis=0) / total
    extra = float((n * ((means - overall) ** 2).sum(axis=1)).sum())
    within = float(spread["squared_distance_sum"][present].sum())
    result["calinski_harabasz"] = (
        1.0 if within == 0.0 else extra * (total - labels) / (within * (labels - 1.0))
    )
    return result


def evaluate_candidates(
    rows: Rows, centers: Sequence[np.ndarray], sample: np.ndarray,
    known: Sequence[ClusterStats | None] | None = None,
) -> tuple[list[dict[str, float]], list[ClusterStats]]:
    """Every metric of every candidate, and its pass-1 statistics over all rows.

    Two passes over ``rows`` plus the driver-side ``sample`` for the sample-based metrics.
    ``known`` holds a candidate's pass-1 statistics where an earlier pass already computed
    them at exactly its centres (a Lloyd pass whose update moved no centre); pass 1 skips
    those candidates, and is skipped when it has none left.
    """
    stats = statistics_of(rows, centers, known or [None] * len(centers))
    spread = spread_statistics(rows, centers, stats)
    on_sample = sample_metrics(sample, [nearest(sample, c) for c in centers])
    values = [{**full_data_metrics(st, sp), **smp}
              for st, sp, smp in zip(stats, spread, on_sample, strict=True)]
    return values, stats


def metrics_frame(ks: Sequence[int], values: Sequence[dict[str, float]]) -> pd.DataFrame:
    """The metrics table, one row per k, columns in the documented order."""
    frame = pd.DataFrame(list(values), columns=METRIC_NAMES)
    frame.insert(0, "k", list(ks))
    return frame
