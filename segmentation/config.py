"""Typed, frozen configuration of the segmentation job, loaded from YAML and validated once.

The YAML is read with ``yaml.safe_load`` (no value is ever evaluated as code), merged with
dotted ``--set key=value`` overrides, and turned into frozen dataclasses. Every problem is
reported as a :class:`~segmentation.errors.ConfigError` whose message names the key.

Examples
--------
>>> cfg = config_from_dict({"input": {"path": "in"}, "features": {"numeric": ["a", "b"]},
...                         "output": {"path": "out"}})
>>> cfg.model.k_min, cfg.model.k_max, cfg.features.missing
(2, 10, 'impute')
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import yaml

from segmentation.errors import ConfigError

MissingPolicy = Literal["impute", "drop", "fail"]
SelectBy = Literal[
    "silhouette", "silhouette_euclidean", "davies_bouldin", "calinski_harabasz", "dunn", "fixed"
]
OutputMode = Literal["error", "overwrite"]
DuplicatePolicy = Literal["fail", "drop"]

_REQUIRED = object()


def required() -> Any:
    """Mark a dataclass field as a key the YAML must provide."""
    return field(default=_REQUIRED)  # type: ignore[arg-type]


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
    restarts: int = 10
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
    #: Segments smaller than this get no min/max/quantiles and no scatter points.
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


def read_yaml_with_overrides(
    path: str | os.PathLike[str], overrides: Sequence[str] = ()
) -> dict[str, Any]:
    """The YAML mapping of ``path`` with the dotted overrides applied (not yet validated)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        raise ConfigError(f"config file {path} is not valid YAML{at}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping, not {type(data).__name__}")
    for item in overrides:
        apply_override(data, item)
    return data


def apply_override(data: dict[str, Any], item: str) -> None:
    """Set ``a.b.c=value`` in the nested mapping; the value is parsed as YAML (safely)."""
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {item!r} must look like section.key=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise ConfigError(f"override {item!r}: value is not valid YAML") from exc
    parts = key.strip().split(".")
    if parts[0] == "spark" and len(parts) > 2:  # Spark settings are dotted names themselves
        parts = ["spark", ".".join(parts[1:])]
    node = data
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override {item!r}: {part} is not a section")
        node = child
    node[parts[-1]] = value


def config_from_dict(data: Mapping[str, Any]) -> Config:
    """Build and validate a :class:`Config` from plain data (as read from YAML)."""
    cfg = build_dataclass(Config, data, "")
    validate_config(cfg)
    return cfg


def build_dataclass(cls: type, data: Any, prefix: str) -> Any:
    """Build the frozen dataclass ``cls`` from a mapping, checking keys and types."""
    where = prefix.rstrip(".") or "config"
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where} must be a mapping, not {_describe(data)}")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f"; did you mean {prefix}{close[0]}?" if close else ""
            raise ConfigError(
                f"unknown key {prefix}{key}{hint} (known: {', '.join(sorted(fields))})"
            )
    values: dict[str, Any] = {}
    for name, f in fields.items():
        key = f"{prefix}{name}"
        if name in data:
            values[name] = _coerce(hints[name], data[name], key)
        elif f.default is _REQUIRED:
            raise ConfigError(f"missing required key {key}")
    return cls(**values)


def _coerce(tp: Any, value: Any, key: str) -> Any:
    """Check ``value`` against the annotation ``tp`` (nested dataclasses built recursively)."""
    origin = get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return build_dataclass(tp, {} if value is None else value, key + ".")
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _coerce(args[0], value, key)
    if origin is Literal:
        allowed = get_args(tp)
        if value not in allowed:
            raise ConfigError(
                f"{key} must be one of {', '.join(map(str, allowed))}, not {value!r}"
            )
        return value
    if origin is list:
        if value is None:
            return []
        if isinstance(value, str) or not isinstance(value, list):
            raise ConfigError(f"{key} must be a list, not {_describe(value)}")
        (item_tp,) = get_args(tp)
        return [_coerce(item_tp, v, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key} must be a mapping, not {_describe(value)}")
        return {str(k): str(v) for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be true or false, not {_describe(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key} must be an integer, not {_describe(value)}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key} must be a number, not {_describe(value)}")
        return float(value)
    if tp is str:
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{key} must be a non-empty string, not {_describe(value)}")
        return value
    raise TypeError(f"unsupported config annotation {tp!r} for {key}")  # a programming error


def _describe(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"


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
    _check_positive(
        ("model.restarts", m.restarts),
        ("model.max_iter", m.max_iter),
        ("model.parallel_fits", m.parallel_fits),
        ("input.partitions", cfg.input.partitions),
        ("evaluation.sample_size", cfg.evaluation.sample_size),
        ("features.max_categories", f.max_categories),
    )
    _check_non_negative(
        ("model.sweep_sample_size", m.sweep_sample_size),
        ("output.pca_sample_size", cfg.output.pca_sample_size),
        ("output.min_segment_size", cfg.output.min_segment_size),
    )
    if m.tol < 0:
        raise ConfigError(f"model.tol={m.tol} must be >= 0")
    if not f.numeric and not f.categorical:
        raise ConfigError("features.numeric and features.categorical are both empty")
    _check_unique("features.numeric + features.categorical", f.numeric + f.categorical)
    for col in f.log1p:
        if col not in f.numeric:
            raise ConfigError(f"features.log1p names {col!r}, which is not in features.numeric")
    if cfg.input.id_column in f.numeric + f.categorical:
        raise ConfigError(f"input.id_column {cfg.input.id_column!r} is also listed as a feature")
    check_paths_apart(cfg.input.path, cfg.output.path, "input.path", "output.path")


def check_paths_apart(source: str, target: str, source_key: str, target_key: str) -> None:
    """Refuse an output that is the input or lies inside it (a rerun would destroy the input)."""
    src, dst = _normalise(source), _normalise(target)
    if src == dst:
        raise ConfigError(f"{target_key} {target!r} is the same path as {source_key}")
    if dst.startswith(src.rstrip("/") + "/"):
        raise ConfigError(f"{target_key} {target!r} lies inside {source_key} {source!r}")
    if src.startswith(dst.rstrip("/") + "/"):
        raise ConfigError(f"{source_key} {source!r} lies inside {target_key} {target!r}")


def _normalise(path: str) -> str:
    if "://" in path and not path.startswith("file://"):
        return path.rstrip("/")
    return os.path.abspath(path.removeprefix("file://"))


def _check_positive(*pairs: tuple[str, float]) -> None:
    for key, value in pairs:
        if value < 1:
            raise ConfigError(f"{key}={value} must be >= 1")


def _check_non_negative(*pairs: tuple[str, float]) -> None:
    for key, value in pairs:
        if value < 0:
            raise ConfigError(f"{key}={value} must be >= 0")


def _check_unique(what: str, names: list[str]) -> None:
    seen = set()
    for name in names:
        if name in seen:
            raise ConfigError(f"{what} lists {name!r} twice")
        seen.add(name)
