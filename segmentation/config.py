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
from segmentation.core.secrets import redact
from segmentation.tracking.config import TrackingConfig

MissingPolicy = Literal["impute", "drop", "fail"]
SelectBy = Literal[
    "silhouette", "silhouette_euclidean", "davies_bouldin", "calinski_harabasz", "dunn",
    "stability", "fixed"
]
DuplicatePolicy = Literal["fail", "drop"]


@dataclass(frozen=True)
class JdbcConfig:
    """A table (or query) of a database read over JDBC.

    The password never appears in a config file: ``password_env`` names the environment
    variable that holds it. ``partition_column`` with both bounds and ``num_partitions``
    makes Spark read in parallel, one range of that (numeric, date or timestamp) column
    per partition; Spark refuses ``query`` together with a partition column, so a
    partitioned SQL query goes in as ``table: "(SELECT ...) AS t"``.
    """

    url: str = required()
    table: str | None = None
    query: str | None = None
    user: str | None = None
    #: NAME of the environment variable holding the password (never the password itself).
    password_env: str | None = None
    partition_column: str | None = None
    #: Numbers, or ISO dates/timestamps for a date or timestamp partition column.
    lower_bound: int | float | str | None = None
    upper_bound: int | float | str | None = None
    num_partitions: int | None = None
    fetch_size: int | None = None
    #: JDBC driver class; by default the one registered for the URL's scheme.
    driver: str | None = None
    #: Seconds to wait for a connection (PostgreSQL ``connectTimeout``/``loginTimeout``):
    #: an unreachable database fails in seconds, not after the operating system's timeout.
    connect_timeout: int = 10
    #: Further JDBC connection properties or Spark JDBC options (``sslmode``, ...).
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SourceConfig:
    """Where a table is read from: exactly one of ``path``, ``table`` and ``jdbc``.

    The same shape for every job (``input`` of ``segment run`` and ``segment score``,
    ``transactions`` of ``segment features``), read by :mod:`segmentation.data.sources`.
    """

    #: File or directory (any Hadoop URI) in ``format``.
    path: str | None = None
    #: A Spark data source name: parquet, orc, csv, json, or e.g. delta/iceberg where the
    #: connector is on Spark's classpath.
    format: str = "parquet"
    #: Passed to the reader as they are (``header``, ``sep``, ``inferSchema``, ...).
    options: dict[str, str] = field(default_factory=dict)
    #: A Spark DDL schema (``"id STRING, spend DOUBLE"``) given to ``.schema()``.
    schema: str | None = None
    #: A catalog table: ``db.table`` or ``catalog.db.table``, read with ``spark.table``.
    table: str | None = None
    jdbc: JdbcConfig | None = None
    ignore_corrupt_files: bool = False


@dataclass(frozen=True)
class InputConfig(SourceConfig):
    """Where the customer table is, how it is read, and how its rows are checked."""

    id_column: str = "customer_id"
    #: Partitions the data is hash-partitioned into (by id, then sorted by id) so that
    #: KMeans sees the same partitioning and order in local mode and on any cluster;
    #: ``auto`` derives the count from the input's row count
    #: (:func:`segmentation.data.customers.partition_count`).
    partitions: int | Literal["auto"] = "auto"
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
    #: ``select_by: stability`` considers only the k whose silhouette (squared Euclidean)
    #: is at least this share of the best k's, so that k = 2 does not always win.
    stability_silhouette_share: float = 0.9
    #: The sweep fits each k on a seeded sample of at most this many rows (0: all rows);
    #: the final model at the chosen k is always fitted on all rows.
    sweep_sample_size: int = 200_000
    #: KMeans fits of the sweep that run at once (independent Spark jobs from driver threads).
    parallel_fits: int = 4
    previous_run: str | None = None


@dataclass(frozen=True)
class EvaluationConfig:
    """Settings of the sample-based metrics (Dunn index, Euclidean silhouette) and of the
    bootstrap stability (:mod:`segmentation.model.stability`), all on one driver sample."""

    sample_size: int = 10_000
    #: Pairs of bootstrap resamples per k for the stability (0 turns stability off).
    stability_resamples: int = 20
    #: Rows each resample draws, with replacement, from the evaluation sample.
    stability_sample_size: int = 1_000
    #: k-means++ starts per resample clustering (the lowest WCSS wins).
    stability_restarts: int = 2


@dataclass(frozen=True)
class OutputTarget:
    """Where a job writes (every job): a directory, and optionally a catalog table too."""

    path: str = required()
    mode: OutputMode = "error"
    #: A catalog table (``db.table``) that shows the main table of the latest complete run
    #: (labels; features): an external table at ``<path>/<labels>``, which the atomic swap
    #: of ``path`` repoints, so a failed run leaves it as it was.
    table: str | None = None


@dataclass(frozen=True)
class OutputConfig(OutputTarget):
    """Where and how the run's outputs are written."""

    #: A database table the labels are written back to (PostgreSQL): through a staging
    #: table whose rows replace the table's in one transaction.
    jdbc: JdbcConfig | None = None
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
    #: Experiment tracking (``tracking.mlflow``; off when absent).
    tracking: TrackingConfig = field(default_factory=TrackingConfig)

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
        *([("input.partitions", cfg.input.partitions)]
          if isinstance(cfg.input.partitions, int) else []),
        ("evaluation.sample_size", cfg.evaluation.sample_size),
        ("evaluation.stability_sample_size", cfg.evaluation.stability_sample_size),
        ("evaluation.stability_restarts", cfg.evaluation.stability_restarts),
        ("features.max_categories", f.max_categories),
    )
    check_non_negative(
        ("model.sweep_sample_size", m.sweep_sample_size),
        ("output.pca_sample_size", cfg.output.pca_sample_size),
        ("evaluation.stability_resamples", cfg.evaluation.stability_resamples),
        ("output.min_segment_size", cfg.output.min_segment_size),
    )
    if not 0 < m.stability_silhouette_share <= 1:
        raise ConfigError(f"model.stability_silhouette_share={m.stability_silhouette_share} "
                          "must be > 0 and <= 1")
    if m.select_by == "stability" and cfg.evaluation.stability_resamples == 0:
        raise ConfigError("model.select_by is stability but evaluation.stability_resamples "
                          "is 0 (stability off)")
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
    validate_source(cfg.input, "input")
    if cfg.output.jdbc is not None:
        validate_jdbc_target(cfg.output.jdbc, "output.jdbc")
    if cfg.input.path is not None:
        check_paths_apart(cfg.input.path, cfg.output.path, "input.path", "output.path")


#: Formats read without a schema only when the user asks for inference.
TEXT_FORMATS = ("csv", "json")


def validate_source(source: SourceConfig, key: str) -> None:
    """Exactly one of path/table/jdbc, and keys that fit the one chosen; errors name ``key``."""
    given = [name for name in ("path", "table", "jdbc") if getattr(source, name) is not None]
    if len(given) != 1:
        which = " and ".join(f"{key}.{name}" for name in given) if given else "none"
        raise ConfigError(
            f"give exactly one of {key}.path, {key}.table and {key}.jdbc (given: {which})"
        )
    if source.path is None:
        for name, default in (("format", "parquet"), ("schema", None), ("options", {})):
            if getattr(source, name) != default:
                raise ConfigError(f"{key}.{name} applies to {key}.path only, not to "
                                  f"{key}.{given[0]}")
    fmt = source.format.lower()
    if fmt == "jdbc":
        raise ConfigError(f"{key}.format jdbc: use {key}.jdbc (url, table or query, ...) instead")
    infer = source.options.get("inferSchema", "false").lower() == "true"
    if fmt in TEXT_FORMATS and source.schema is None and not infer:
        raise ConfigError(
            f"{key}.format is {fmt} but {key}.schema is not set: give a Spark DDL schema "
            f"(e.g. 'customer_id STRING, spend DOUBLE') or set {key}.options.inferSchema: true "
            "(an extra pass over the data)"
        )
    if source.jdbc is not None:
        validate_jdbc(source.jdbc, f"{key}.jdbc")


def validate_jdbc_target(jdbc: JdbcConfig, key: str) -> None:
    """A JDBC table written to: a PostgreSQL table, none of the keys of a partitioned read."""
    validate_jdbc(jdbc, key)
    if jdbc.table is None:
        raise ConfigError(f"{key}.table is required (the table the labels are written to)")
    if not jdbc.url.startswith("jdbc:postgresql:"):
        raise ConfigError(f"{key}.url: labels are written back to PostgreSQL only (the swap "
                          "of the staging table is a PL/pgSQL block)")
    for name in ("partition_column", "lower_bound", "upper_bound", "num_partitions"):
        if getattr(jdbc, name) is not None:
            raise ConfigError(f"{key}.{name} applies to reading only")


def validate_jdbc(jdbc: JdbcConfig, key: str) -> None:
    """The JDBC keys that go together; errors name the key."""
    if not jdbc.url.startswith("jdbc:"):
        raise ConfigError(f"{key}.url must start with jdbc: (e.g. "
                          "jdbc:postgresql://HOST:PORT/DB)")
    if (jdbc.table is None) == (jdbc.query is None):
        raise ConfigError(f"give exactly one of {key}.table and {key}.query")
    bounds = {"lower_bound": jdbc.lower_bound, "upper_bound": jdbc.upper_bound,
              "num_partitions": jdbc.num_partitions}
    if jdbc.partition_column is not None:
        if jdbc.query is not None:
            raise ConfigError(
                f"{key}.partition_column cannot be used with {key}.query (Spark refuses it): "
                f"put the query in {key}.table as '(SELECT ...) AS t'"
            )
        missing = [name for name, value in bounds.items() if value is None]
        if missing:
            raise ConfigError(f"{key}.partition_column is set but {key}." + f", {key}.".join(
                missing) + " not: a partitioned read needs both bounds and num_partitions")
    else:
        extra = [n for n in ("lower_bound", "upper_bound") if bounds[n] is not None]
        if extra:
            raise ConfigError(f"{key}.{extra[0]} is set but {key}.partition_column is not")
    check_positive(*[(f"{key}.{name}", value) for name, value in (
        ("num_partitions", jdbc.num_partitions), ("fetch_size", jdbc.fetch_size),
        ("connect_timeout", jdbc.connect_timeout)) if value is not None])
    if "password" in {k.lower() for k in jdbc.options} or "password=" in jdbc.url.lower():
        raise ConfigError(f"a password in {key}: put it in an environment variable and name "
                          f"that variable in {key}.password_env")
