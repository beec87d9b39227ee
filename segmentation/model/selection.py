"""The quality metrics of a k: what each means, which direction is better, how k is chosen
and the sentence that says so. Pure Python: the job chooses k with it and the report labels
its plots and tables with it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from segmentation.core.errors import InputDataError


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


#: The quality metrics, in the order of ``metrics.csv`` and of the report's panels.
METRICS = (
    MetricInfo("wcss", "WCSS (within-cluster sum of squares)", None),
    MetricInfo("silhouette", "Silhouette (squared Euclidean)", True),
    MetricInfo("davies_bouldin", "Davies-Bouldin index", False),
    MetricInfo("calinski_harabasz", "Calinski-Harabasz index", True),
    MetricInfo("dunn", "Dunn index (sample)", True),
    MetricInfo("silhouette_euclidean", "Silhouette (Euclidean, sample)", True),
)
#: The bootstrap stability (:mod:`segmentation.model.stability`): its mean and quartiles
#: follow the metrics in ``metrics.csv``; the report draws it as a box per k.
STABILITY = MetricInfo("stability", "Stability (mean bootstrap ARI)", True)
STABILITY_COLUMNS = ["stability", "stability_q25", "stability_q75"]
METRICS_BY_COLUMN = {m.column: m for m in (*METRICS, STABILITY)}
METRIC_NAMES = [m.column for m in METRICS]
#: ``model.select_by`` values that choose k by a metric (every metric with a direction).
SELECTABLE = [m.column for m in METRICS if m.higher_is_better is not None]
#: ``model.select_by`` without a sweep: ``model.k`` is the model's k.
FIXED = "fixed"


def choose_k(metrics: pd.DataFrame, select_by: str, *, silhouette_share: float = 0.9) -> int:
    """The k whose metric is best under ``select_by`` (ties: the smaller k).

    ``stability``: the highest stability among the k whose silhouette is at least
    ``silhouette_share`` of the best silhouette (:func:`stability_candidates`).

    >>> frame = pd.DataFrame({"k": [2, 3, 4], "silhouette": [0.5, 0.7, 0.66],
    ...                       "stability": [0.99, 0.8, 0.9]})
    >>> choose_k(frame, "silhouette"), choose_k(frame, "stability")
    (3, 4)
    """
    larger_is_better = METRICS_BY_COLUMN[select_by].higher_is_better
    values = metrics[select_by].to_numpy(dtype=float)
    if select_by == STABILITY.column:
        values = np.where(stability_candidates(metrics, silhouette_share), values, np.nan)
    if np.all(np.isnan(values)):
        raise InputDataError(
            f"no k could be scored by {select_by}: every candidate has fewer than 2 "
            "non-empty clusters (too few distinct customers?)"
        )
    scores = np.where(np.isnan(values), -math.inf, values if larger_is_better else -values)
    return int(metrics["k"].iloc[int(np.argmax(scores))])


def stability_candidates(metrics: pd.DataFrame, silhouette_share: float) -> np.ndarray:
    """Which rows ``select_by: stability`` may choose: silhouette at least
    ``silhouette_share`` of the best (for a best silhouette <= 0, within
    ``1 - silhouette_share`` of its size below it)."""
    silhouette = metrics["silhouette"].to_numpy(dtype=float)
    if np.all(np.isnan(silhouette)):
        return np.zeros(len(silhouette), dtype=bool)
    best = np.nanmax(silhouette)
    return silhouette >= best - (1 - silhouette_share) * abs(best)


def selection_rule(select_by: str | None, chosen_k: int | None, ks: Sequence[int], *,
                   silhouette_share: float | None = None) -> str:
    """One sentence saying how k was chosen (the run writes it; the report shows it).

    A run that tried a single k had nothing to choose from, whatever ``select_by`` says
    (the job records the configured rule even when ``model.k`` fixes k).

    >>> selection_rule("davies_bouldin", 4, [2, 3, 4, 5])
    'k = 4 chosen by the lowest Davies-Bouldin index over k = 2..5'
    >>> selection_rule("silhouette", 6, [6])
    'k = 6 fixed by the configuration (no sweep)'
    >>> selection_rule("stability", 5, range(2, 11), silhouette_share=0.9)[:76]
    'k = 5 chosen by the highest Stability (mean bootstrap ARI) among the k whose'
    """
    k_text = f"k = {chosen_k}" if chosen_k is not None else "k"
    if select_by == FIXED or len(ks) == 1:
        return f"{k_text} fixed by the configuration (no sweep)"
    span = f" over k = {min(ks)}..{max(ks)}" if ks else ""
    info = METRICS_BY_COLUMN.get(select_by or "")
    if info is None or info.higher_is_better is None:
        how = f"by {select_by}" if select_by else "by a rule the run did not record"
        return f"{k_text} chosen {how}{span}"
    best = "highest" if info.higher_is_better else "lowest"
    if info is STABILITY:
        share = f"{silhouette_share:.0%}" if silhouette_share is not None else "a share"
        among = (f" among the k whose {METRICS_BY_COLUMN['silhouette'].label} is at least "
                 f"{share} of the best")
        return f"{k_text} chosen by the {best} {info.label}{among}{span}"
    return f"{k_text} chosen by the {best} {info.label}{span}"
