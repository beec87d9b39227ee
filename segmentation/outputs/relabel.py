"""Stable segment ids across runs, and the migration of customers between two runs.

KMeans numbers clusters arbitrarily, so a retrain would shuffle the ids users have learnt.
With ``model.previous_run`` the new centroids are matched to the previous run's by a
minimum-cost assignment (:func:`scipy.optimize.linear_sum_assignment` on Euclidean
distances) and take over the matched ids; new segments get ids above the previous maximum,
largest first; previous ids without a match are reported as vanished.

The two runs' centroids are compared in one common space: the space the previous run's
KMeans saw. New centres are mapped back to original units (after ``log1p``) through the
new model's scaling (mean/std, :func:`~segmentation.model.scaler.scaling`; identity with
``features.scale: false``) and
forward through the previous model's scaler. One-hot entries are the share of each category
level in a cluster, so they are aligned by level name: a level only one run has counts as
share 0 in the other. Different numeric or categorical feature lists or ``log1p`` sets would
compare unlike quantities, so they fail early with a :class:`ConfigError` naming the
difference (see :func:`check_compatible`).

The migration of customers between the two runs is :mod:`segmentation.outputs.migration`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pyspark.ml import PipelineModel
from pyspark.ml.clustering import KMeansModel
from pyspark.sql import SparkSession

from segmentation.core.errors import ConfigError
from segmentation.data.config import FeaturesConfig
from segmentation.model.assign import SegmentAssigner
from segmentation.model.pipeline import feature_names
from segmentation.model.scaler import scaling
from segmentation.outputs.finished import FinishedRun, load_finished_run

log = logging.getLogger(__name__)


def check_compatible(previous: FinishedRun, features: FeaturesConfig) -> None:
    """Fail unless this run's features can be compared with the previous run's centroids.

    Order of the lists does not matter, nor do ``scale`` and ``missing``: the centroids are
    compared by feature name in the previous run's space.
    """
    before = previous.features
    for key, old, new in (
        ("features.numeric", before.numeric, features.numeric),
        ("features.categorical", before.categorical, features.categorical),
        ("features.log1p", before.log1p, features.log1p),
    ):
        if set(old) != set(new):
            gone, added = sorted(set(old) - set(new)), sorted(set(new) - set(old))
            raise ConfigError(
                f"{key} differs from model.previous_run {previous.path} (only there: "
                f"{gone or 'none'}; only here: {added or 'none'}); stable ids need the same "
                "features: unset model.previous_run to start new ids"
            )


def load_previous_run(spark: SparkSession, path: str | None, features: FeaturesConfig
                      ) -> FinishedRun | None:
    """The run ``model.previous_run`` names, checked to be comparable (None when unset)."""
    if path is None:
        return None
    previous = load_finished_run(spark, path, key="model.previous_run")
    check_compatible(previous, features)
    return previous


@dataclass(frozen=True)
class Matching:
    """Segment ids for a new model's clusters, matched to a previous run's."""

    #: Segment id of each new cluster index.
    ids: list[int]
    #: Matched segment id -> distance between its previous and new centroid.
    centroid_shift: dict[int, float]
    new_segments: list[int]
    vanished_segments: list[int]


def match_segments(
    new_centers: np.ndarray,
    new_sizes: list[int],
    previous_centers: np.ndarray,
    previous_ids: list[int],
) -> Matching:
    """Give each new cluster the id of the previous centroid it is matched to.

    Centres must be in one common space (:func:`comparable_centers`). The matching
    minimises the sum of Euclidean distances between matched centroids; when k grows, the
    unmatched new clusters get ids above the previous maximum, largest cluster first.

    Examples
    --------
    >>> previous = np.array([[0.0, 0.0], [10.0, 0.0]])
    >>> match_segments(np.array([[9.0, 1.0], [0.0, 9.0], [1.0, 0.0]]), [5, 3, 4],
    ...                previous, [4, 7]).ids
    [7, 8, 4]
    """
    # Imported here: only a run with a previous run matches, and they cost a job's start.
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    cost = cdist(new_centers, previous_centers)
    rows, cols = linear_sum_assignment(cost)
    ids: dict[int, int] = {int(r): previous_ids[c] for r, c in zip(rows, cols, strict=True)}
    shift = {previous_ids[c]: float(cost[r, c]) for r, c in zip(rows, cols, strict=True)}
    unmatched = [i for i in range(len(new_centers)) if i not in ids]
    next_id = max(previous_ids) + 1
    for rank, cluster in enumerate(sorted(unmatched, key=lambda i: (-new_sizes[i], i))):
        ids[cluster] = next_id + rank
    matched = {previous_ids[c] for c in cols}
    return Matching(
        ids=[ids[i] for i in range(len(new_centers))],
        centroid_shift=dict(sorted(shift.items())),
        new_segments=sorted(ids[i] for i in unmatched),
        vanished_segments=sorted(set(previous_ids) - matched),
    )


def centers_in_original_units(
    model: PipelineModel, features: FeaturesConfig, centers: np.ndarray
) -> pd.DataFrame:
    """KMeans centres as a frame (one row per cluster index, one column per vector entry).

    Numeric columns are un-standardised (back to the units after ``log1p``); one-hot
    columns (``column=level``) are the level's share in the cluster.
    """
    frame = pd.DataFrame(centers, columns=feature_names(model, features))
    scaled = scaling(model)
    if scaled is not None:
        mean, std = scaled
        frame[features.numeric] = frame[features.numeric] * std + mean
    return frame


def comparable_centers(
    new: pd.DataFrame, previous: pd.DataFrame, previous_model: PipelineModel,
    features: FeaturesConfig,
) -> tuple[np.ndarray, np.ndarray]:
    """(new, previous) centres in the previous run's space, from original-unit frames.

    ``features`` is the previous run's; ``new`` must have the same numeric columns.
    Category levels are aligned by name over both runs' levels (absent level: share 0).
    A numeric feature the previous scaler saw as constant (std 0) is 0 in its space.
    """
    levels = sorted((set(new.columns) | set(previous.columns)) - set(features.numeric))
    columns = [*features.numeric, *levels]
    aligned = [frame.reindex(columns=columns, fill_value=0.0) for frame in (new, previous)]
    scaled = scaling(previous_model)
    if scaled is not None:
        mean, std = scaled
        safe = np.where(std > 0, std, 1.0)
        for frame in aligned:
            scaled = (frame[features.numeric].to_numpy() - mean) / safe
            frame[features.numeric] = np.where(std > 0, scaled, 0.0)
    return aligned[0].to_numpy(dtype=float), aligned[1].to_numpy(dtype=float)


def segment_ids(
    previous: FinishedRun,
    model_features: FeaturesConfig,
    preparation: PipelineModel,
    centers: np.ndarray,
    sizes: list[int],
) -> Matching:
    """Ids for the new clusters (``centers`` after ``preparation``), matched to ``previous``."""
    previous_model = previous.model
    kmeans = next(s for s in previous_model.stages if isinstance(s, KMeansModel))
    assigner = next(s for s in previous_model.stages if isinstance(s, SegmentAssigner))
    previous_ids = [int(i) for i in assigner.getOrDefault("segmentIds")]
    new_frame = centers_in_original_units(preparation, model_features, centers)
    previous_frame = centers_in_original_units(
        previous_model, previous.features, np.array(kmeans.clusterCenters()))
    new, old = comparable_centers(new_frame, previous_frame, previous_model, previous.features)
    matching = match_segments(new, sizes, old, previous_ids)
    log.info("segment ids matched to %s: new %s, vanished %s, centroid shifts %s",
             previous.path, matching.new_segments or "none",
             matching.vanished_segments or "none",
             {k: round(v, 3) for k, v in matching.centroid_shift.items()})
    return matching
