"""The configuration of a segmentation run (``segment run``): typed, frozen, validated once.

Read from YAML by :mod:`segmentation.core.configfile` (safe loading, ``--set`` overrides,
type checks with did-you-mean); the checks here are those that involve several keys or
value ranges. Every problem is a :class:`~segmentation.core.errors.ConfigError` naming the key.

Examples
--------
>>> cfg = config_from_dict({"input": {"path": "in"}, "features": {"numeric": ["a", "b"]},
...                         "output": {"path": "out"}})
>>> cfg.model.k_min, cfg.model.k_max, cfg.features.missing
(2, 10, 'impute')
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from segmentation.core.configfile import (
    OutputMode,
    build_dataclass,
    check_non_negative,
    check_paths_apart,
    check_positive,
    check_unique,
    read_yaml_with_overrides,
    required,
)
from segmentation.core.errors import ConfigError

MissingPolicy = Literal["impute", "drop", "fail"]
SelectBy = Literal[
    "silhouette", "silhouette_euclidean", "davies_bouldin", "calinski_harabasz", "dunn", "fixed"
]
DuplicatePolicy = Literal["fail", "drop"]


@dataclass(frozen=True)
class InputConfig:
    """Where the customer table is and how it is read."""

    path: str = required()
    id_column: str = "customer_id"
    #: Partitions the data is hash-partitioned into (by id, then sorted by id) so that
    #: KMeans sees the same partitioning and order in local mode and on any cluster.
    partitions: int = 8
    ignore_corrupt_files: bool = False
    duplicate_ids: DuplicatePolicy = "fail"


@dataclass(frozen=True)
class FeaturesConfig:
    """Which columns are features and how they are prepared."""

    numeric: list[str] = required()
    categorical: list[str] = field(default_factory=list)
    log1p: list[str] = field(default_factory=list)
    scale: bool = True
    missing: MissingPolicy = "impute"
    max_categories: int = 100


@dataclass(frozen=True)
class ModelConfig:
    """The k sweep and the KMeans settings."""

    k_min: int = 2
    k_max: int = 10
    k: int | None = None
    seed: int = 42
    max_iter: int = 30
    tol: float = 1e-4
    #: k-means++ starts per k, each run to convergence on the evaluation sample.
    restarts: int = 20
    select_by: SelectBy = "silhouette"
    #: The sweep fits each k on a seeded sample of at most this many rows (0: all rows);
    #: the final model at the chosen k is always fitted on all rows.
    sweep_sample_size: int = 200_000
    #: KMeans fits of the sweep that run at once (independent Spark jobs from driver threads).
    parallel_fits: int = 4
    previous_run: str | None = None


@dataclass(frozen=True)
class EvaluationConfig:
    """Settings of the sample-based metrics (Dunn index, Euclidean silhouette)."""

    sample_size: int = 10_000


@dataclass(frozen=True)
class OutputConfig:
    """Where and how the run's outputs are written."""

    path: str = required()
    mode: OutputMode = "error"
    #: Rows in the PCA scatter sample for the report (0 turns the sample off).
    pca_sample_size: int = 2000
    #: Privacy threshold: of a smaller segment only its size is exported (every statistic
    #: withheld, no scatter points, no centroid; overall statistics over the other segments).
    min_segment_size: int = 50


@dataclass(frozen=True)
class Config:
    """The whole configuration of one segmentation run."""

    input: InputConfig = required()
    features: FeaturesConfig = required()
    output: OutputConfig = required()
    model: ModelConfig = field(default_factory=ModelConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    #: Extra Spark settings (``spark.*`` keys) applied when this project builds the session.
    spark: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The resolved configuration as plain data (for the manifest)."""
        return dataclasses.asdict(self)


def load_config(path: str | os.PathLike[str], overrides: Sequence[str] = ()) -> Config:
    """Read a YAML config file, apply ``key.sub=value`` overrides and validate the result."""
    return config_from_dict(read_yaml_with_overrides(path, overrides))


def config_from_dict(data: Mapping[str, Any]) -> Config:
    """Build and validate a :class:`Config` from plain data (as read from YAML)."""
    cfg = build_dataclass(Config, data, "")
    validate_config(cfg)
    return cfg


def validate_config(cfg: Config) -> None:
    """Checks that involve several keys or value ranges; raise ConfigError naming the keys."""
    m, f = cfg.model, cfg.features
    if m.k_min < 2:
        raise ConfigError(f"model.k_min={m.k_min} must be >= 2 (KMeans needs at least 2 clusters)")
    if m.k_min > m.k_max:
        raise ConfigError(f"model.k_min={m.k_min} must be <= model.k_max={m.k_max}")
    if m.select_by == "fixed":
        if m.k is None:
            raise ConfigError("model.select_by is fixed but model.k is not set")
        if m.k < 2:
            raise ConfigError(f"model.k={m.k} must be >= 2")
    elif m.k is not None:
        raise ConfigError(
            f"model.k={m.k} is set but model.select_by is {m.select_by}; "
            "set model.select_by: fixed to skip the sweep"
        )
    check_positive(
        ("model.restarts", m.restarts),
        ("model.max_iter", m.max_iter),
        ("model.parallel_fits", m.parallel_fits),
        ("input.partitions", cfg.input.partitions),
        ("evaluation.sample_size", cfg.evaluation.sample_size),
        ("features.max_categories", f.max_categories),
    )
    check_non_negative(
        ("model.sweep_sample_size", m.sweep_sample_size),
        ("output.pca_sample_size", cfg.output.pca_sample_size),
        ("output.min_segment_size", cfg.output.min_segment_size),
    )
    if m.tol < 0:
        raise ConfigError(f"model.tol={m.tol} must be >= 0")
    if not f.numeric and not f.categorical:
        raise ConfigError("features.numeric and features.categorical are both empty")
    check_unique("features.numeric + features.categorical", f.numeric + f.categorical)
    for col in f.log1p:
        if col not in f.numeric:
            raise ConfigError(f"features.log1p names {col!r}, which is not in features.numeric")
    if cfg.input.id_column in f.numeric + f.categorical:
        raise ConfigError(f"input.id_column {cfg.input.id_column!r} is also listed as a feature")
    check_paths_apart(cfg.input.path, cfg.output.path, "input.path", "output.path")
