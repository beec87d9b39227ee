"""A job's main output published as one commit of a Delta Lake or Apache Iceberg table
(``output.table_format: delta | iceberg``).

The table is a table of its catalog (Spark's session catalog with Delta's, an Iceberg
catalog, or a Delta table by path: ``delta.`/data/lake/labels```), not a view of the run
directory. The job frame (:mod:`segmentation.outputs.jobframe`) commits once the run's
files are complete in its staging directory, before its manifest, so that the manifest
records the committed version; the directory swap follows at once. A run that fails or is
killed before the commit leaves the table at its previous version, and a failed commit
fails the run (the run directory stays as it was too). Readers see the table's previous
version or the new one, never a mix: both formats commit atomically.

One commit per run: ``create`` when the table is absent; ``overwrite`` replaces all rows
in one transaction (DataFrameWriterV2 ``overwrite(true)``: the table keeps its identity,
history, properties and grants, unlike drop and create); ``merge`` is one ``MERGE INTO``
keyed by the id column. Only public APIs (DataFrameWriterV2, SQL), so it works over Spark
Connect where the server has the connectors. A column the table lacks, or of another type,
is refused in one line before the commit: changing a table's schema is the owner's call.

Each commit is tagged with the run (Delta ``userMetadata``, an Iceberg snapshot summary
property), and its version is looked up by that tag: another writer committing at the same
moment cannot be taken for it. The tag is a session setting for the one statement, and for
Iceberg also the writer's ``snapshot-property.`` option: Iceberg's Spark 3.5 runtime ignores
the session setting, so a ``merge`` into an Iceberg table on 3.5 records no version (a
warning says so; the commit stands).

Examples
--------
>>> quoted("segment"), is_path_table("delta.`/data/lake/labels`")
('`segment`', True)
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pyspark.sql import DataFrame, DataFrameWriterV2, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from segmentation.core.errors import OutputError, one_line
from segmentation.core.failures import is_spark_error

log = logging.getLogger(__name__)

#: The snapshot summary property (Iceberg) naming the run that made a commit.
ICEBERG_TAG = "segmentation.run"
#: Session settings that tag the next commit, per format.
TAG_SETTINGS = {"delta": "spark.databricks.delta.commitInfo.userMetadata",
                "iceberg": f"spark.sql.iceberg.snapshot-property.{ICEBERG_TAG}"}
#: The DataFrameWriterV2 option that tags an Iceberg commit (Iceberg's Spark 3.5 runtime
#: does not read the session setting).
ICEBERG_TAG_OPTION = f"snapshot-property.{ICEBERG_TAG}"


def quoted(name: str) -> str:
    """A column name quoted for Spark SQL."""
    return "`" + name.replace("`", "``") + "`"


def is_path_table(table: str) -> bool:
    """Whether ``table`` names a Delta table by its path (``delta.`/a/path```)."""
    return table.startswith("delta.`") and table.endswith("`")


def table_exists(spark: SparkSession, table: str) -> bool:
    """Whether ``table`` exists (a Delta path that holds no table is absent, not an error)."""
    try:
        return spark.catalog.tableExists(table)
    except Exception as exc:
        if is_path_table(table) and is_spark_error(exc):
            return False
        raise


def check_lake_target(spark: SparkSession, table: str, table_format: str, key: str) -> None:
    """Before any work: an existing ``table`` is a ``table_format`` table; an absent one
    can be created (its namespace exists)."""
    try:
        if table_exists(spark, table):
            provider = _provider(spark, table)
            if provider != table_format:
                raise OutputError(f"{key} {table} is a {provider or 'non-'} table, not "
                                  f"{table_format}: choose another name or drop it")
            return
        namespace = ".".join(table.split(".")[:-1])
        if namespace and not is_path_table(table) and not spark.catalog.databaseExists(
                namespace):
            raise OutputError(f"{key} {table}: namespace {namespace} does not exist (create "
                              f"it first: CREATE NAMESPACE {namespace})")
    except Exception as exc:
        if not is_spark_error(exc):
            raise
        raise OutputError(f"{key} {table}: cannot be looked up: {one_line(exc)}") from exc


def commit_rows(spark: SparkSession, rows: DataFrame, *, table: str, table_format: str,
                table_mode: str, id_column: str, run_id: str, key: str) -> dict[str, Any]:
    """Publish ``rows`` to ``table`` in one commit tagged with ``run_id``; return the
    manifest's entry for it (the table, its format, the mode and the committed version: a
    Delta version or an Iceberg snapshot id). Nothing is committed when this raises."""
    tag = f"segmentation run {run_id}"
    try:
        exists = table_exists(spark, table)
        if exists:
            schema = spark.table(table).schema
            _check_columns(schema, rows.schema, table, table_mode, key)
        with _tagged(spark, table_format, tag):
            if not exists:
                operation = "create"
                _writer(rows, table, table_format, tag).using(table_format).create()
            elif table_mode == "merge":
                operation = "merge"
                _merge(spark, rows, table, id_column)
            else:
                operation = "overwrite"
                ordered = rows.select(*(quoted(f.name) for f in schema.fields))
                _writer(ordered, table, table_format, tag).overwrite(F.lit(True))
    except Exception as exc:
        if not is_spark_error(exc):
            raise
        raise OutputError(f"{key} {table}: the {table_format} commit failed, the table and "
                          f"the outputs are as they were: {one_line(exc)}") from exc
    version = _committed_version(spark, table, table_format, tag)
    log.info("%s table %s: %s committed as version %s", table_format, table, operation, version)
    return {"name": table, "format": table_format, "mode": table_mode, "operation": operation,
            "version": version}


def _provider(spark: SparkSession, table: str) -> str | None:
    """The table's provider (``delta``, ``iceberg``, ``parquet``, ...) as the catalog says."""
    for row in spark.sql(f"DESCRIBE TABLE EXTENDED {table}").collect():
        if row[0] == "Provider":
            return str(row[1]).lower()
    return None


def _check_columns(existing: StructType, rows: StructType, table: str, table_mode: str,
                   key: str) -> None:
    """Refuse a commit that would change the table's schema: ``overwrite`` needs the same
    columns and types, ``merge`` the run's columns (others of the table are left)."""
    have = {f.name.lower(): f.dataType.simpleString() for f in existing.fields}
    want = {f.name.lower(): f.dataType.simpleString() for f in rows.fields}
    differ = sorted(f"{name} {kind}" for name, kind in want.items() if have.get(name) != kind)
    extra = [] if table_mode == "merge" else sorted(set(have) - set(want))
    if differ or extra:
        found = ", ".join(f"{name} {kind}" for name, kind in have.items())
        what = (f"needs the columns {', '.join(differ)}" if differ else
                f"has columns this run does not write ({', '.join(extra)})")
        raise OutputError(f"{key} {table} {what} (it has {found}): change the table's schema "
                          "yourself (ALTER TABLE) or publish to another table")


def _writer(rows: DataFrame, table: str, table_format: str, tag: str) -> DataFrameWriterV2:
    """``rows.writeTo(table)``, its commit tagged with ``tag`` where the format reads a
    writer option for it (Iceberg; Delta reads the session setting of :func:`_tagged`)."""
    writer = rows.writeTo(table)
    return writer.option(ICEBERG_TAG_OPTION, tag) if table_format == "iceberg" else writer


def _merge(spark: SparkSession, rows: DataFrame, table: str, id_column: str) -> None:
    """One ``MERGE INTO`` keyed by ``id_column``: update the run's customers' columns,
    insert the new customers, leave the table's other rows and columns as they are."""
    view = f"segmentation_commit_{uuid.uuid4().hex[:12]}"
    columns = [quoted(c) for c in rows.columns]
    updates = ", ".join(f"t.{c} = s.{c}" for c in columns if c != quoted(id_column))
    rows.createOrReplaceTempView(view)
    try:
        spark.sql(
            f"MERGE INTO {table} AS t USING {view} AS s "
            f"ON t.{quoted(id_column)} = s.{quoted(id_column)} "
            f"WHEN MATCHED THEN UPDATE SET {updates} "
            f"WHEN NOT MATCHED THEN INSERT ({', '.join(columns)}) "
            f"VALUES ({', '.join('s.' + c for c in columns)})").collect()
    finally:
        spark.catalog.dropTempView(view)


@contextmanager
def _tagged(spark: SparkSession, table_format: str, tag: str) -> Iterator[None]:
    """The session setting that tags the commits made in the block with ``tag``."""
    setting = TAG_SETTINGS[table_format]
    spark.conf.set(setting, tag)
    try:
        yield
    finally:
        spark.conf.unset(setting)


def _committed_version(spark: SparkSession, table: str, table_format: str, tag: str
                       ) -> int | None:
    """The version of the commit tagged ``tag`` (None, with a warning, when the table's
    history does not show it: the commit stands either way)."""
    try:
        if table_format == "delta":
            found = (spark.sql(f"DESCRIBE HISTORY {table}")
                     .where(F.col("userMetadata") == tag).agg(F.max("version")).first())
        else:
            found = (spark.sql(f"SELECT snapshot_id FROM {table}.snapshots")
                     .where(F.col("summary")[ICEBERG_TAG] == tag)
                     .agg(F.max("snapshot_id")).first())
    except Exception as exc:
        if not is_spark_error(exc):
            raise
        found = None
        log.warning("table %s: the commit's version could not be read: %s", table,
                    one_line(exc))
    if found is None or found[0] is None:
        log.warning("table %s: no commit tagged %r in its history; the manifest records no "
                    "version", table, tag)
        return None
    return int(found[0])
