"""The ``model`` (k sweep, KMeans) and ``evaluation`` (sample metrics, stability) sections.

Examples
--------
>>> from segmentation.core.configfile import build_dataclass
>>> build_dataclass(ModelConfig, {"select_by": "fixed", "k": 4}, "model.").k
4
>>> SELECT_BY[-2:]
('stability', 'fixed')
"""

from __future__ import annotations

from dataclasses import dataclass

from segmentation.core.configfile import NON_NEGATIVE, POSITIVE, Interval, OneOf, checked
from segmentation.core.errors import ConfigError
from segmentation.model.selection import FIXED, SELECTABLE, STABILITY

#: ``model.select_by``: a metric with a direction, the bootstrap stability, or a fixed k.
SELECT_BY = (*SELECTABLE, STABILITY.column, FIXED)


@dataclass(frozen=True)
class ModelConfig:
    """The k sweep and the KMeans settings."""

    k_min: int = checked(2, Interval(2, why="KMeans needs at least 2 clusters"))
    k_max: int = 10
    k: int | None = checked(None, Interval(2))
    seed: int = 42
    max_iter: int = checked(30, POSITIVE)
    tol: float = checked(1e-4, NON_NEGATIVE)
    #: k-means++ starts per k, each run to convergence on the evaluation sample.
    restarts: int = checked(20, POSITIVE)
    select_by: str = checked("silhouette", OneOf(SELECT_BY))
    #: ``select_by: stability`` considers only the k whose silhouette (squared Euclidean)
    #: is at least this share of the best k's, so that k = 2 does not always win.
    stability_silhouette_share: float = checked(0.9, Interval(0, 1, low_open=True))
    #: The sweep fits each k on a seeded sample of at most this many rows (0: all rows);
    #: the final model at the chosen k is always fitted on all rows.
    sweep_sample_size: int = checked(200_000, NON_NEGATIVE)
    #: KMeans fits of the sweep that run at once (independent Spark jobs from driver threads).
    parallel_fits: int = checked(4, POSITIVE)
    previous_run: str | None = None

    def validate(self, key: str) -> None:
        if self.k_min > self.k_max:
            raise ConfigError(f"{key}.k_min={self.k_min} must be <= {key}.k_max={self.k_max}")
        if self.select_by == FIXED and self.k is None:
            raise ConfigError(f"{key}.select_by is {FIXED} but {key}.k is not set")
        if self.select_by != FIXED and self.k is not None:
            raise ConfigError(
                f"{key}.k={self.k} is set but {key}.select_by is {self.select_by}; "
                f"set {key}.select_by: {FIXED} to skip the sweep"
            )


@dataclass(frozen=True)
class EvaluationConfig:
    """Settings of the sample-based metrics (Dunn index, Euclidean silhouette) and of the
    bootstrap stability (:mod:`segmentation.model.stability`), all on one driver sample."""

    sample_size: int = checked(10_000, POSITIVE)
    #: Pairs of bootstrap resamples per k for the stability (0 turns stability off).
    stability_resamples: int = checked(20, NON_NEGATIVE)
    #: Rows each resample draws, with replacement, from the evaluation sample.
    stability_sample_size: int = checked(1_000, POSITIVE)
    #: k-means++ starts per resample clustering (the lowest WCSS wins).
    stability_restarts: int = checked(2, POSITIVE)
