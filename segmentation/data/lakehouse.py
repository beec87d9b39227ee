"""Reading Delta Lake and Apache Iceberg tables (``input.format: delta | iceberg``, by
``path`` or catalog ``table``), pinned to the exact version read, and refusing to read such
a table's folder as plain files.

Every read resolves the version first and then reads as of it, so the version a manifest
records is the one read even if a commit lands during the run: Delta from ``DESCRIBE
HISTORY`` (its latest version, or the one ``input.timestamp`` falls in), Iceberg from the
``refs`` metadata table (the ``main`` branch's snapshot) or, for a timestamp, ``history``.
``input.version`` is checked against the table's versions. Only SQL (``VERSION AS OF`` for a
name) and the DataFrame reader (option ``versionAsOf`` for a path, which both connectors
take), so it works over Spark Connect too.

A table's folder read as Parquet or ORC would include the files its log has removed
(deleted and replaced rows): :func:`refuse_table_files` stops that before any work.

Examples
--------
>>> delta_identifier("/data/lake/customers")
'delta.`/data/lake/customers`'
>>> PIN_KEY["iceberg"]
'snapshot_id'
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from segmentation.core.configfile import parse_instant
from segmentation.core.connectors import CONNECTORS, coordinate, running_line
from segmentation.core.errors import ConfigError, InputDataError, one_line
from segmentation.core.failures import is_spark_error
from segmentation.core.fs import absolute, file_system
from segmentation.data.config import SourceConfig

#: The manifest key of the version read, per format.
PIN_KEY = {"delta": "version", "iceberg": "snapshot_id"}
#: What a plain-files read of each table format's folder would get wrong.
STALE_FILES = {"delta": "files its log has removed",
               "iceberg": "files its metadata has removed"}


def table_format_at(spark: SparkSession, path: str) -> str | None:
    """``delta`` or ``iceberg`` when the folder ``path`` is a table of that format (a
    ``_delta_log/`` in it; ``metadata/*.metadata.json``), else None."""
    fs = file_system(path, spark)
    root = path.rstrip("/")
    if fs.exists(f"{root}/_delta_log"):
        return "delta"
    if any(name.endswith(".metadata.json") for name in fs.list_names(f"{root}/metadata")):
        return "iceberg"
    return None


def refuse_table_files(spark: SparkSession, path: str, fmt: str, key: str) -> None:
    """Refuse, in one line, reading a Delta or Iceberg table's folder as ``fmt`` files."""
    found = table_format_at(spark, path)
    if found is not None:
        raise ConfigError(
            f"{key}.path {path} is {titled(found)} table: set {key}.format: "
            f"{found} (a {fmt} read would include {STALE_FILES[found]})")


def titled(fmt: str) -> str:
    """``a Delta Lake`` / ``an Apache Iceberg``: the format's name with its article."""
    title = CONNECTORS[fmt].title
    return f"{'an' if title[0] in 'AEIOU' else 'a'} {title}"


def missing_connector(spark: SparkSession, fmt: str, key: str) -> str:
    """The one line for a session without the ``fmt`` connector: the coordinate of its line."""
    connector = CONNECTORS[fmt]
    line = running_line(spark.version)
    try:
        wanted = coordinate(fmt, line)
    except ConfigError as exc:
        return f"{key}.format {fmt}: {exc}"
    return (f"{key}.format {fmt}: this Spark session has no {connector.title} reader: add "
            f"{wanted} (spark.jars.packages or spark-submit --packages; scripts/setup.sh "
            f"--connectors fetches it for sessions this project starts)")


def delta_identifier(path: str) -> str:
    """The Spark SQL name of the Delta table at ``path``."""
    return "delta.`" + absolute(path).replace("`", "``") + "`"


def read_lake_table(spark: SparkSession, source: SourceConfig, key: str
                    ) -> tuple[DataFrame, dict[str, Any]]:
    """The Delta or Iceberg table of ``source`` as of its resolved version, and what the
    manifest records of it (``path`` or ``table``, ``format`` and the version read)."""
    fmt = source.format.lower()
    where = (f"{key}.table {source.table}" if source.table is not None
             else f"{key}.path {source.path}")
    if source.path is not None:
        check_table_folder(spark, source.path, fmt, key)
    try:
        version = resolve_version(spark, source, fmt, where, key)
        if source.table is not None:
            df = spark.sql(f"SELECT * FROM {source.table} VERSION AS OF {version}")
        else:
            df = (spark.read.format(fmt).option("versionAsOf", str(version))
                  .load(absolute(str(source.path))))
        df.schema  # noqa: B018 - resolves the read now (Spark Connect analyses lazily)
    except Exception as exc:
        if not is_spark_error(exc):
            raise
        if "DATA_SOURCE_NOT_FOUND" in str(exc) or "Failed to find the data source" in str(exc):
            raise ConfigError(missing_connector(spark, fmt, key)) from exc
        raise InputDataError(f"cannot read {where} as {CONNECTORS[fmt].title}: "
                             f"{one_line(exc)}") from exc
    place = {"table": source.table} if source.table is not None else {"path": source.path}
    given = {"timestamp": source.pinned_time()} if source.pinned_time() is not None else {}
    return df, {**place, "format": fmt, PIN_KEY[fmt]: version, **given}


def check_table_folder(spark: SparkSession, path: str, fmt: str, key: str) -> None:
    """One line (exit 3) when ``path`` does not exist or is not a table of ``fmt``."""
    if not file_system(path, spark).exists(path):
        raise InputDataError(f"{key}.path {path} does not exist")
    found = table_format_at(spark, path)
    if found != fmt:
        marker = "_delta_log/" if fmt == "delta" else "metadata/*.metadata.json"
        other = (f"; it is {titled(found)} table: set {key}.format: {found}"
                 if found else "")
        raise InputDataError(f"{key}.path {path} is not {titled(fmt)} table "
                             f"(no {marker} in it){other}")


def resolve_version(spark: SparkSession, source: SourceConfig, fmt: str, where: str,
                    key: str) -> int:
    """The version (Delta) or snapshot id (Iceberg) to read: the configured one once checked
    to exist, the one current at ``timestamp``, or the latest."""
    if fmt == "delta":
        name = source.table or delta_identifier(str(source.path))
        history = spark.sql(f"DESCRIBE HISTORY {name}").select(
            F.col("version").alias("id"), F.col("timestamp").alias("at"))
    else:
        history = metadata_table(spark, source, "history").where("is_current_ancestor").select(
            F.col("snapshot_id").alias("id"), F.col("made_current_at").alias("at"))
    if source.version is not None:
        return checked_version(history, source.version, fmt, where, key)
    pinned_time = source.pinned_time()
    if pinned_time is not None:
        return version_at(history, parse_instant(pinned_time, f"{key}.timestamp"), where, key)
    if fmt == "delta":  # the newest commit only: a long history is not read for it
        latest = spark.sql(f"DESCRIBE HISTORY {name} LIMIT 1").select("version").first()
    else:
        latest = metadata_table(spark, source, "refs").where(F.col("name") == "main").select(
            "snapshot_id").first()
    if latest is None or latest[0] is None:
        raise InputDataError(f"{where} has no snapshot yet (no rows were ever committed)")
    return int(latest[0])


def metadata_table(spark: SparkSession, source: SourceConfig, name: str) -> DataFrame:
    """An Iceberg table's metadata table ``name`` (``refs``, ``history``)."""
    if source.table is not None:
        return spark.table(f"{source.table}.{name}")
    return spark.read.format("iceberg").load(f"{absolute(str(source.path))}#{name}")


def checked_version(history: DataFrame, version: int, fmt: str, where: str, key: str) -> int:
    """``version`` when the table has it; else one line naming the versions it has."""
    ids = sorted(int(row.id) for row in history.select("id").collect())
    if version in ids:
        return version
    if fmt == "delta":
        have = f"versions {ids[0]} to {ids[-1]}" if ids else "no versions"
    else:
        shown = ", ".join(map(str, ids[-10:]))
        have = f"snapshots {shown}" + (f" and {len(ids) - 10} older" if len(ids) > 10 else "")
    raise InputDataError(f"{key}.version {version} is not a version of {where} (it has "
                         f"{have})")


def version_at(history: DataFrame, instant: dt.datetime, where: str, key: str) -> int:
    """The version current at ``instant``: the last committed at or before it."""
    found = (history.where(F.col("at") <= F.lit(instant)).orderBy(F.col("at").desc(),
                                                                   F.col("id").desc())
             .select("id").first())
    if found is None:
        first = history.agg(F.min("at")).first()
        since = f" (its first commit: {first[0]})" if first is not None else ""
        raise InputDataError(f"{key}.timestamp {instant.isoformat()} is before {where} "
                             f"existed{since}")
    return int(found[0])
