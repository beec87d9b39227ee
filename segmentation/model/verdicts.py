"""What a run's numbers say to someone about to act on its segments, in plain sentences.

Pure Python on the metrics table (the job writes the sentences into the log and the
manifest's ``warnings``; the report shows them and rates each segment):

- **Segment stability** (Hennig's bootstrap Jaccard, as ``fpc::clusterboot``): 0.75 or more
  is a "stable" segment, under 0.6 an "unstable" one, in between "doubtful", as Hennig
  (2007, 2008) suggests.
- **Range edge**: the chosen k is the largest k tried and its metric is still better there
  than one below (the best k may lie above the range), or the chosen k is the smallest.
- **No stable segment structure**: even the best k tried has a low bootstrap stability
  and a low silhouette. The thresholds were measured on data without segments (4
  standard-normal or uniform features, 20,000 rows, k = 2..10, default settings): the
  highest stability was 0.33 (Gaussian blob) and 0.43 (uniform), the highest silhouette
  (squared Euclidean) 0.28 and 0.36; with six true segments (generated customers) they
  were 1.0 and 0.84, on the Mall customers data 0.91 and 0.55.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from segmentation.model.selection import METRICS_BY_COLUMN, STABILITY

#: A segment whose bootstrap Jaccard is at least this is "stable" (Hennig).
STABLE_SEGMENT = 0.75
#: A segment whose bootstrap Jaccard is below this is "unstable" (Hennig).
UNSTABLE_SEGMENT = 0.6
#: No structure: the highest stability (mean ARI) over the k tried is below this ...
STRUCTURE_STABILITY = 0.6
#: ... and the highest silhouette (squared Euclidean) is below this.
STRUCTURE_SILHOUETTE = 0.45


def segment_rating(stability: float) -> str:
    """"stable", "doubtful" or "unstable" for a segment's bootstrap Jaccard; "" if unknown.

    >>> [segment_rating(v) for v in (0.95, 0.7, 0.3, float("nan"))]
    ['stable', 'doubtful', 'unstable', '']
    """
    if not math.isfinite(stability):
        return ""
    if stability >= STABLE_SEGMENT:
        return "stable"
    return "doubtful" if stability >= UNSTABLE_SEGMENT else "unstable"


def range_edge_warning(metrics: pd.DataFrame, chosen_k: int, select_by: str) -> str | None:
    """The sentence for a chosen k at the edge of the range tried, or None.

    At the top: only when the selection metric is still better there than one k below
    (the best k may lie above the range). At the bottom, k = 2: the data may hold two
    segments or none; a larger ``k_min``: when the metric is better there than one above.
    """
    ks = sorted(int(k) for k in metrics["k"])
    info = METRICS_BY_COLUMN.get(select_by)
    if len(ks) < 2 or info is None or info.higher_is_better is None:
        return None
    by_k = dict(zip(metrics["k"].astype(int), metrics[select_by].astype(float), strict=True))

    def better(a: int, b: int) -> bool:
        return by_k[a] > by_k[b] if info.higher_is_better else by_k[a] < by_k[b]

    if chosen_k == ks[-1] and better(ks[-1], ks[-2]):
        return (f"k = {chosen_k} is the largest k tried and the {info.label} is still better "
                f"there than at k = {ks[-2]}: the best k may lie above {chosen_k}; raise "
                "model.k_max")
    if chosen_k == ks[0] == 2:
        return ("k = 2 is the smallest k there is: the data may hold two segments, or none "
                "(see the stability of each k)")
    if chosen_k == ks[0] and better(ks[0], ks[1]):
        return (f"k = {chosen_k} is the smallest k tried and the {info.label} is better there "
                f"than at k = {ks[1]}: the best k may lie below {chosen_k}; lower model.k_min")
    return None


def no_structure_warning(metrics: pd.DataFrame) -> str | None:
    """The sentence saying the data shows no stable segment structure, or None.

    Needs the stability (a run with ``evaluation.stability_resamples: 0`` says nothing).
    """
    if STABILITY.column not in metrics or metrics[STABILITY.column].isna().all():
        return None
    stability = float(metrics[STABILITY.column].max())
    silhouette = float(metrics["silhouette"].max())
    if stability >= STRUCTURE_STABILITY or silhouette >= STRUCTURE_SILHOUETTE:
        return None
    low, high = int(metrics["k"].min()), int(metrics["k"].max())
    span = f"at k = {low}" if low == high else f"over k = {low}..{high}"
    return (f"the data shows no stable segment structure: {span} the best stability is "
            f"{stability:.2f} (stable "
            f"structure: {STRUCTURE_STABILITY} or more) and the best silhouette "
            f"{silhouette:.2f} ({STRUCTURE_SILHOUETTE} or more); the segments cut a continuum "
            "of customers into pieces that another sample would cut differently")


def run_warnings(metrics: pd.DataFrame, chosen_k: int, select_by: str) -> list[str]:
    """Every warning of a run, most serious first."""
    found: Sequence[str | None] = (no_structure_warning(metrics),
                                   range_edge_warning(metrics, chosen_k, select_by))
    return [w for w in found if w is not None]
