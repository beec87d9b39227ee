"""What each k-selection metric means, which direction is better, and the rule's wording."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class MetricInfo:
    """How one column of ``metrics.csv`` is labelled and read."""

    column: str
    label: str
    #: True: higher is better; False: lower is better; None: no direction (the elbow).
    higher_is_better: bool | None

    @property
    def direction(self) -> str:
        """"higher is better", "lower is better" or the elbow hint."""
        if self.higher_is_better is None:
            return "look for the bend (elbow)"
        return "higher is better" if self.higher_is_better else "lower is better"


#: The quality metrics in plotting order; the job may leave any of them out.
METRICS = (
    MetricInfo("wcss", "WCSS (within-cluster sum of squares)", None),
    MetricInfo("silhouette", "Silhouette (squared Euclidean)", True),
    MetricInfo("silhouette_euclidean", "Silhouette (Euclidean, sample)", True),
    MetricInfo("davies_bouldin", "Davies-Bouldin index", False),
    MetricInfo("calinski_harabasz", "Calinski-Harabasz index", True),
    MetricInfo("dunn", "Dunn index (sample)", True),
)
METRICS_BY_COLUMN = {m.column: m for m in METRICS}


def selection_rule(select_by: str | None, chosen_k: int | None, ks: Sequence[int]) -> str:
    """One sentence saying how k was chosen.

    A run that tried a single k had nothing to choose from, whatever ``select_by`` says
    (the job records the configured rule even when ``model.k`` fixes k).

    >>> selection_rule("davies_bouldin", 4, [2, 3, 4, 5])
    'k = 4 chosen by the lowest Davies-Bouldin index over k = 2..5'
    >>> selection_rule("silhouette", 6, [6])
    'k = 6 fixed by the configuration (no sweep)'
    """
    k_text = f"k = {chosen_k}" if chosen_k is not None else "k"
    if select_by == "fixed" or len(ks) == 1:
        return f"{k_text} fixed by the configuration (no sweep)"
    span = f" over k = {min(ks)}..{max(ks)}" if ks else ""
    info = METRICS_BY_COLUMN.get(select_by or "")
    if info is None or info.higher_is_better is None:
        how = f"by {select_by}" if select_by else "by a rule the run did not record"
        return f"{k_text} chosen {how}{span}"
    best = "highest" if info.higher_is_better else "lowest"
    return f"{k_text} chosen by the {best} {info.label}{span}"
