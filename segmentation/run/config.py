"""The configuration of a segmentation run (``segment run``): typed, frozen, validated once.

Each section is defined by the stage that owns it (``input`` and ``features``:
:mod:`segmentation.data.config`; ``model`` and ``evaluation``:
:mod:`segmentation.model.config`; ``output``: :mod:`segmentation.outputs.config`;
``tracking``: :mod:`segmentation.tracking.config`) with its value ranges and its own rules;
the checks here are only those that involve several sections. Read from YAML by
:mod:`segmentation.core.configfile`. Every problem is a
:class:`~segmentation.core.errors.ConfigError` naming the key.

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
from typing import Any

from segmentation.core.configfile import (
    build_dataclass,
    check_paths_apart,
    read_yaml_with_overrides,
    required,
)
from segmentation.core.errors import ConfigError
from segmentation.core.secrets import redact
from segmentation.data.config import FeaturesConfig, InputConfig, SourceConfig, validate_source
from segmentation.model.config import EvaluationConfig, ModelConfig
from segmentation.model.selection import STABILITY
from segmentation.outputs.config import OutputConfig
from segmentation.tracking.config import TrackingConfig


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
    #: Experiment tracking (``tracking.mlflow``; off when absent).
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    #: A second table with ``input.id_column`` that ``features.profile_columns`` are read
    #: from (same keys as ``input``: path, table or jdbc, format, options); unset: the input.
    profile_input: SourceConfig | None = None

    def to_dict(self) -> dict[str, Any]:
        """The resolved configuration as plain data, secrets redacted (for the manifest)."""
        return redact(dataclasses.asdict(self))


def load_config(path: str | os.PathLike[str], overrides: Sequence[str] = ()) -> Config:
    """Read a YAML config file, apply ``key.sub=value`` overrides and validate the result."""
    return config_from_dict(read_yaml_with_overrides(path, overrides))


def config_from_dict(data: Mapping[str, Any]) -> Config:
    """Build and validate a :class:`Config` from plain data (as read from YAML)."""
    cfg = build_dataclass(Config, data, "")
    validate_config(cfg)
    return cfg


def validate_config(cfg: Config) -> None:
    """The checks that involve several sections (each section checked itself as it was
    built); raise ConfigError naming the keys."""
    if cfg.model.select_by == STABILITY.column and cfg.evaluation.stability_resamples == 0:
        raise ConfigError("model.select_by is stability but evaluation.stability_resamples "
                          "is 0 (stability off)")
    features = cfg.features.numeric + cfg.features.categorical + cfg.features.profile_columns
    if cfg.input.id_column in features:
        raise ConfigError(f"input.id_column {cfg.input.id_column!r} is also listed as a feature")
    if cfg.profile_input is not None:
        validate_source(cfg.profile_input, "profile_input")
        if not cfg.features.profile_columns:
            raise ConfigError("profile_input is set but features.profile_columns is empty: "
                              "name the columns to read from it")
    if cfg.input.path is not None:
        check_paths_apart(cfg.input.path, cfg.output.path, "input.path", "output.path")
