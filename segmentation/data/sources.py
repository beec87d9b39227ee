"""Reading a table from wherever it lives: files in any Spark format, a catalog table, or a
database over JDBC (:mod:`segmentation.data.jdbc`); one function, :func:`read_source`, for
every job. Delta Lake and Iceberg tables (by path or name, pinned to the version read) are
read by :mod:`segmentation.data.lakehouse`; their folders are never read as plain files.

Every failure a user can cause is one line: a :class:`ConfigError` (exit 2) for what the
config gets wrong (an unknown format, a connector missing from Spark's classpath), an
:class:`InputDataError` (exit 3) for what the data says (a missing path or table, with a
did-you-mean). Messages go through :func:`segmentation.core.secrets.redact_text`.

Examples
--------
>>> from segmentation.data.config import SourceConfig
>>> source_name(SourceConfig(table="crm.customers"), "input")
'input.table crm.customers'
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pyspark.errors import PySparkException
from pyspark.sql import DataFrame, DataFrameReader, SparkSession

from segmentation.core.connectors import TABLE_FORMATS
from segmentation.core.errors import ConfigError, InputDataError, one_line
from segmentation.core.failures import is_spark_error
from segmentation.core.fs import absolute
from segmentation.core.secrets import redact_text
from segmentation.data.config import SourceConfig
from segmentation.data.jdbc import read_jdbc
from segmentation.data.lakehouse import missing_connector, read_lake_table, refuse_table_files
from segmentation.data.read import read_parquet

#: Spark's own file formats (for a did-you-mean when a format name is unknown).
BUILTIN_FORMATS = ("parquet", "orc", "csv", "json", "text", "avro", "xml", "binaryFile")
#: Plain-file formats whose read of a Delta or Iceberg table's folder is refused.
COLUMNAR_FORMATS = ("parquet", "orc")


@dataclass(frozen=True)
class SourceRead:
    """The rows of a source and what a manifest records of it (:func:`source_summary`, and
    for a Delta or Iceberg table the exact version read)."""

    frame: DataFrame
    summary: dict[str, Any]


def read_source(spark: SparkSession, source: SourceConfig, key: str,
                keep: Callable[[DataFrame], DataFrame] | None = None) -> SourceRead:
    """The table ``source`` describes (config section ``key``), its schema resolved now;
    ``keep`` (checks and the columns a job uses) applied to it.

    A JDBC read is materialised before it is returned, after ``keep``: only the kept
    columns are in the query Spark sends (see :mod:`segmentation.data.jdbc`).
    """
    kept = keep or (lambda frame: frame)
    if source.jdbc is not None:
        return SourceRead(read_jdbc(spark, source.jdbc, f"{key}.jdbc", kept),
                          source_summary(source))
    read = read_frame(spark, source, key)
    return SourceRead(kept(read.frame), read.summary)


def read_frame(spark: SparkSession, source: SourceConfig, key: str) -> SourceRead:
    """The table ``source`` describes when it is not a database's: files, a catalog table,
    a Delta or Iceberg table (lazy: Spark reads only the columns a job selects)."""
    fmt = source.format.lower()
    if fmt in TABLE_FORMATS:
        if source.table is not None:
            read_table(spark, source.table, key)  # exists, or one line with a did-you-mean
        return SourceRead(*read_lake_table(spark, source, key))
    summary = source_summary(source)
    if source.table is not None:
        return SourceRead(read_table(spark, source.table, key), summary)
    assert source.path is not None  # validated: exactly one of path, table, jdbc
    if fmt in COLUMNAR_FORMATS:
        refuse_table_files(spark, source.path, fmt, key)
    if fmt == "parquet" and source.schema is None:
        return SourceRead(read_parquet(spark, source.path,
                                       ignore_corrupt_files=source.ignore_corrupt_files), summary)
    return SourceRead(read_files(spark, source, key), summary)


def source_name(source: SourceConfig, key: str) -> str:
    """How messages name the source: ``input.path data/x``, ``input.table db.t``, ..."""
    if source.table is not None:
        return f"{key}.table {source.table}"
    if source.jdbc is not None:
        what = source.jdbc.table or "query"
        return f"{key}.jdbc {what} at {redact_text(source.jdbc.url)}"
    return f"{key}.path {source.path}"


def source_summary(source: SourceConfig) -> dict[str, Any]:
    """What a manifest records of where the data came from (no secrets), as configured (a
    Delta or Iceberg read adds the version it read: :class:`SourceRead`)."""
    if source.table is not None:
        return {"table": source.table}
    if source.jdbc is not None:
        jdbc = source.jdbc
        return {"jdbc": {"url": redact_text(jdbc.url), "table": jdbc.table,
                         "query": jdbc.query, "user": jdbc.user}}
    return {"path": source.path, "format": source.format}


def read_files(spark: SparkSession, source: SourceConfig, key: str) -> DataFrame:
    """Files in any Spark format, with ``options`` and an optional DDL ``schema``."""
    assert source.path is not None
    reader = spark.read.format(source.format).options(**source.options)
    if source.ignore_corrupt_files:
        reader = reader.option("ignoreCorruptFiles", "true")
    if source.format.lower() in ("csv", "json"):
        reader = reader.option("timeZone", "UTC")  # zone-less timestamps are UTC, as elsewhere
    if source.schema is not None:
        reader = with_schema(reader, source.schema, f"{key}.schema")
    try:
        df = reader.load(absolute(source.path))
        df.schema  # noqa: B018 - resolves the read now (Spark Connect analyses lazily)
        return df
    except Exception as exc:
        if not is_spark_error(exc):
            raise
        text = str(exc)
        if "DATA_SOURCE_NOT_FOUND" in text or "Failed to find the data source" in text:
            raise ConfigError(unknown_format(spark, source.format, key)) from exc
        if "PATH_NOT_FOUND" in text or "Path does not exist" in text:
            raise InputDataError(f"{key}.path {source.path} does not exist") from exc
        raise InputDataError(
            f"cannot read {source.format} at {key}.path {source.path}: {one_line(exc)}"
        ) from exc


def with_schema(reader: DataFrameReader, ddl: str, key: str) -> DataFrameReader:
    """``reader.schema(ddl)``, a DDL string Spark cannot parse named by its key."""
    try:
        return reader.schema(ddl)
    except PySparkException as exc:  # the DDL is parsed here (ParseException)
        raise ConfigError(f"{key} is not a valid Spark DDL schema: {one_line(exc)}") from exc


def unknown_format(spark: SparkSession, name: str, key: str) -> str:
    """The message for a format Spark has no reader for: its connector, or a did-you-mean."""
    if name.lower() in TABLE_FORMATS:
        return missing_connector(spark, name.lower(), key)
    others = [f for f in BUILTIN_FORMATS if f != name.lower()]  # avro is a module of Spark's
    close = difflib.get_close_matches(name.lower(), others, n=1)
    hint = f"; did you mean {close[0]}?" if close else ""
    return (f"{key}.format {name!r} is not a Spark data source{hint} (built in: "
            f"{', '.join(BUILTIN_FORMATS)}; others need their connector on the classpath)")


def read_table(spark: SparkSession, name: str, key: str) -> DataFrame:
    """A catalog table or view by name; a missing one gets a did-you-mean from its database."""
    try:
        df = spark.table(name)
        df.schema  # noqa: B018 - resolves the table now (Spark Connect analyses lazily)
        return df
    except Exception as exc:
        if not is_spark_error(exc):
            raise
        if "TABLE_OR_VIEW_NOT_FOUND" in str(exc) or "not found" in str(exc).lower():
            raise InputDataError(f"{key}.table {name} does not exist"
                                 f"{table_hint(spark, name)}") from exc
        raise InputDataError(f"cannot read {key}.table {name}: {one_line(exc)}") from exc


def table_hint(spark: SparkSession, name: str) -> str:
    """``; did you mean db.x?`` among the tables of ``name``'s database (or its databases)."""
    parts = name.split(".")
    database = ".".join(parts[:-1]) or None
    try:
        tables = [t.name for t in spark.catalog.listTables(database)]
    except Exception as exc:  # noqa: BLE001 - the database itself may not exist
        if not is_spark_error(exc) or database is None:
            return ""
        databases = [d.name for d in spark.catalog.listDatabases()]
        close = difflib.get_close_matches(parts[-2], databases, n=1)
        return (f" (database {database} does not exist"
                + (f"; did you mean {close[0]}?)" if close else ")"))
    close = difflib.get_close_matches(parts[-1], tables, n=1)
    prefix = f"{database}." if database else ""
    if close:
        return f"; did you mean {prefix}{close[0]}?"
    return f" (tables there: {', '.join(sorted(tables)[:20]) or 'none'})"
