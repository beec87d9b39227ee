"""The config sections of what every job reads and writes: sources (files, catalog tables,
JDBC), the customer input, its feature columns and where a job writes.

``input`` of ``segment run`` and ``segment score`` and ``transactions`` of ``segment
features`` are all a :class:`SourceConfig`; every job's ``output`` is at least an
:class:`OutputTarget`. Built by :func:`segmentation.core.configfile.build_dataclass`, which
checks each field's declared range and calls a section's ``validate``.

Examples
--------
>>> from segmentation.core.configfile import build_dataclass
>>> build_dataclass(SourceConfig, {"table": "crm.customers"}, "input.").format
'parquet'
>>> build_dataclass(SourceConfig, {"path": "in", "table": "crm.customers"}, "input.")
Traceback (most recent call last):
...
segmentation.core.errors.ConfigError: give exactly one of input.path, input.table and \
input.jdbc (given: input.path and input.table)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from segmentation.core.configfile import (
    NON_NEGATIVE,
    POSITIVE,
    OutputMode,
    check_unique,
    checked,
    parse_instant,
    required,
)
from segmentation.core.connectors import TABLE_FORMATS
from segmentation.core.errors import ConfigError

MissingPolicy = Literal["impute", "drop", "fail"]
DuplicatePolicy = Literal["fail", "drop"]
#: How ``output.table`` is published (:mod:`segmentation.data.sinks`,
#: :mod:`segmentation.data.tablecommit`).
TableFormat = Literal["parquet", "delta", "iceberg"]
#: How a Delta or Iceberg ``output.table`` takes a run's rows.
TableMode = Literal["overwrite", "merge"]

#: Formats read without a schema only when the user asks for inference.
TEXT_FORMATS = ("csv", "json")


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
    num_partitions: int | None = checked(None, POSITIVE)
    fetch_size: int | None = checked(None, POSITIVE)
    #: JDBC driver class; by default the one registered for the URL's scheme.
    driver: str | None = None
    #: Seconds to wait for a connection (PostgreSQL ``connectTimeout``/``loginTimeout``):
    #: an unreachable database fails in seconds, not after the operating system's timeout.
    connect_timeout: int = checked(10, POSITIVE)
    #: Further JDBC connection properties or Spark JDBC options (``sslmode``, ...).
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SourceConfig:
    """Where a table is read from: exactly one of ``path``, ``table`` and ``jdbc``.

    The same shape for every job, read by :mod:`segmentation.data.sources`.
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
    #: A catalog table: ``db.table`` or ``catalog.db.table``, read with ``spark.table``
    #: (with ``format: delta`` or ``iceberg``: a table of that format, read as of a version).
    table: str | None = None
    jdbc: JdbcConfig | None = None
    ignore_corrupt_files: bool = False
    #: A Delta Lake table version or an Iceberg snapshot id to read (default: the latest).
    version: int | None = checked(None, NON_NEGATIVE)
    #: An ISO date or date-time (UTC unless it names a zone): read a Delta or Iceberg table
    #: as it was then (its last commit at or before it).
    timestamp: str | None = None

    def validate(self, key: str) -> None:
        validate_source(self, key)

    def pinned_time(self) -> str | None:
        """``timestamp`` as the point to read a table at (a subclass whose ``timestamp`` is
        something else says None)."""
        return self.timestamp


@dataclass(frozen=True)
class InputConfig(SourceConfig):
    """Where the customer table is, how it is read, and how its rows are checked."""

    id_column: str = "customer_id"
    #: Partitions the data is hash-partitioned into (by id, then sorted by id) so that
    #: KMeans sees the same partitioning and order in local mode and on any cluster;
    #: ``auto`` derives the count from the input's row count
    #: (:func:`segmentation.data.customers.partition_count`).
    partitions: int | Literal["auto"] = checked("auto", POSITIVE)
    duplicate_ids: DuplicatePolicy = "fail"


@dataclass(frozen=True)
class FeaturesConfig:
    """Which columns of the input are features and how they are prepared."""

    numeric: list[str] = required()
    categorical: list[str] = field(default_factory=list)
    log1p: list[str] = field(default_factory=list)
    scale: bool = True
    missing: MissingPolicy = "impute"
    max_categories: int = checked(100, POSITIVE)
    #: Columns not clustered that the segments are read against (numeric: means compared;
    #: text, boolean: level shares tested), from the input or from ``profile_input``.
    profile_columns: list[str] = field(default_factory=list)

    def validate(self, key: str) -> None:
        if not self.numeric and not self.categorical:
            raise ConfigError(f"{key}.numeric and {key}.categorical are both empty")
        check_unique(f"{key}.numeric + {key}.categorical + {key}.profile_columns",
                     self.numeric + self.categorical + self.profile_columns)
        for col in self.log1p:
            if col not in self.numeric:
                raise ConfigError(f"{key}.log1p names {col!r}, which is not in {key}.numeric")


@dataclass(frozen=True)
class OutputTarget:
    """Where a job writes (every job): a directory, and optionally a catalog table too."""

    path: str = required()
    mode: OutputMode = "error"
    #: A catalog table (``db.table``) that shows the main table of the latest complete run
    #: (labels; features). With ``table_format: parquet`` an external table at
    #: ``<path>/<labels>``, which the atomic swap of ``path`` repoints, so a failed run
    #: leaves it as it was.
    table: str | None = None
    #: ``delta`` or ``iceberg``: ``table`` is a table of that format in its catalog (or
    #: ``delta.`/a/path```), written as one commit once the run's files are complete.
    table_format: TableFormat = "parquet"
    #: ``overwrite``: the table's rows become the run's; ``merge`` (delta, iceberg): keyed
    #: by the id column, rows of the run's customers are updated, new ones inserted, the
    #: others left as they are (scores into a CRM table).
    table_mode: TableMode = "overwrite"

    def validate(self, key: str) -> None:
        check_table_options(self.table, self.table_format, self.table_mode,
                            keys=(f"{key}.table", f"{key}.table_format", f"{key}.table_mode"))


def check_table_options(table: str | None, table_format: str, table_mode: str, *,
                        keys: tuple[str, str, str]) -> None:
    """The table keys that go together; errors name ``keys`` (table, format, mode) as the
    user gave them (config keys or command-line options).

    >>> check_table_options("crm.scores", "parquet", "merge", keys=("t", "f", "m"))
    Traceback (most recent call last):
    ...
    segmentation.core.errors.ConfigError: m merge needs f delta or iceberg (a Parquet table \
is replaced whole, not merged into)
    """
    table_key, format_key, mode_key = keys
    if table is None and (table_format, table_mode) != ("parquet", "overwrite"):
        raise ConfigError(f"{format_key} and {mode_key} apply to {table_key}, which is not set")
    if table_mode == "merge" and table_format == "parquet":
        raise ConfigError(f"{mode_key} merge needs {format_key} delta or iceberg (a Parquet "
                          "table is replaced whole, not merged into)")


def validate_source(source: SourceConfig, key: str) -> None:
    """Exactly one of path/table/jdbc, and keys that fit the one chosen; errors name ``key``."""
    given = [name for name in ("path", "table", "jdbc") if getattr(source, name) is not None]
    if len(given) != 1:
        which = " and ".join(f"{key}.{name}" for name in given) if given else "none"
        raise ConfigError(
            f"give exactly one of {key}.path, {key}.table and {key}.jdbc (given: {which})"
        )
    fmt = source.format.lower()
    if source.path is None:
        for name, default in (("format", "parquet"), ("schema", None), ("options", {})):
            if getattr(source, name) == default:
                continue
            if name == "format" and source.table is not None:
                if fmt in TABLE_FORMATS:
                    continue  # a Delta or Iceberg table by name
                raise ConfigError(f"{key}.format {source.format} applies to {key}.path only; "
                                  f"with {key}.table it is delta or iceberg (or left out)")
            raise ConfigError(f"{key}.{name} applies to {key}.path only, not to "
                              f"{key}.{given[0]}")
    validate_pin(source, key)
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


def validate_pin(source: SourceConfig, key: str) -> None:
    """``version`` and ``timestamp``: one of them at most, on a Delta or Iceberg table only.

    >>> validate_pin(SourceConfig(path="in", version=3), "input")
    Traceback (most recent call last):
    ...
    segmentation.core.errors.ConfigError: input.version applies to a Delta Lake or Iceberg \
table (input.format delta or iceberg), not to parquet
    """
    pins = [name for name, value in (("version", source.version),
                                      ("timestamp", source.pinned_time())) if value is not None]
    if not pins:
        return
    if len(pins) == 2:
        raise ConfigError(f"give at most one of {key}.version and {key}.timestamp (both "
                          "name the point to read the table at)")
    if source.format.lower() not in TABLE_FORMATS or source.jdbc is not None:
        raise ConfigError(f"{key}.{pins[0]} applies to a Delta Lake or Iceberg table "
                          f"({key}.format delta or iceberg), not to "
                          f"{'jdbc' if source.jdbc else source.format}")
    pinned_time = source.pinned_time()
    if pinned_time is not None:
        parse_instant(pinned_time, f"{key}.timestamp")


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
    if "password" in {k.lower() for k in jdbc.options} or "password=" in jdbc.url.lower():
        raise ConfigError(f"a password in {key}: put it in an environment variable and name "
                          f"that variable in {key}.password_env")
