"""A job's main output also as a catalog table (``output.table``) or a database table
(``output.jdbc``, :func:`write_jdbc_table`).

With ``output.table_format: parquet`` (the default; Delta Lake and Iceberg tables are
commits: :mod:`segmentation.data.tablecommit`) the table is an external Parquet table whose
location is ``<output.path>/<name>`` (the labels, the features). That path always holds
the latest complete run: a run is written into a staging directory and swapped into place
only when complete (:mod:`segmentation.core.atomic`), so the table follows each successful
run and a failed run leaves it showing the previous one. The table is created on the first
successful run and refreshed after every later one (a session that cached its file listing
reads the new files). A table of that name that points elsewhere, or is not such a table,
is refused before any work is done. Tried with Spark's built-in catalog; a Hive metastore (or
another catalog that keeps external Parquet tables) works the same way.

Examples
--------
>>> table_location("runs/demo", "labels").endswith("runs/demo/labels")
True
"""

from __future__ import annotations

import logging
import uuid

from pyspark.sql import SparkSession

from segmentation.core.errors import OutputError, one_line
from segmentation.core.failures import is_spark_error
from segmentation.core.fs import absolute
from segmentation.data.config import JdbcConfig
from segmentation.data.jdbc import jdbc_connection, jdbc_error

log = logging.getLogger(__name__)


def table_location(output_path: str, name: str) -> str:
    """The absolute location of the table that shows ``<output_path>/<name>``."""
    return absolute(f"{output_path.rstrip('/')}/{name}")


def check_table_target(spark: SparkSession, table: str, location: str, key: str) -> None:
    """Fail early when ``table`` exists and is not the external table at ``location``."""
    if not spark.catalog.tableExists(table):
        database = ".".join(table.split(".")[:-1])
        if database and not spark.catalog.databaseExists(database):
            raise OutputError(f"{key} {table}: database {database} does not exist "
                              f"(create it first: CREATE DATABASE {database})")
        return
    current = current_location(spark, table)
    if current is None or _plain(current) != _plain(location):
        raise OutputError(
            f"{key} {table} already exists and shows {current or 'something else'}, not "
            f"{location}: drop it or choose another name")


def current_location(spark: SparkSession, table: str) -> str | None:
    """The location of an external table (None for a view or a table without one)."""
    try:
        rows = spark.sql(f"DESCRIBE TABLE EXTENDED {table}").collect()
    except Exception as exc:  # noqa: BLE001 - only Spark's errors mean "not a table"
        if not is_spark_error(exc):
            raise
        return None
    for row in rows:
        if row[0] == "Location":
            return str(row[1])
    return None


def publish_table(spark: SparkSession, table: str, location: str, key: str) -> None:
    """After a successful run: create the table at ``location`` if needed, refresh it."""
    try:
        if not spark.catalog.tableExists(table):
            escaped = location.replace("'", "\\'")
            spark.sql(f"CREATE TABLE {table} USING parquet LOCATION '{escaped}'")
        spark.catalog.refreshTable(table)
    except Exception as exc:
        if not is_spark_error(exc):
            raise
        raise OutputError(f"{key} {table}: the outputs are complete at {location}, but the "
                          f"table could not be created or refreshed: {one_line(exc)}") from exc
    log.info("table %s shows %s", table, location)


def _plain(location: str) -> str:
    """A location without a local ``file:`` scheme or a trailing slash, for comparing."""
    for prefix in ("file://", "file:"):
        if location.startswith(prefix):
            location = location[len(prefix):]
            break
    return location.rstrip("/")


def write_jdbc_table(spark: SparkSession, path: str, jdbc: JdbcConfig, key: str) -> None:
    """Replace the rows of the database table ``jdbc.table`` by the Parquet at ``path``.

    Spark's JDBC writer fills a new staging table (readers never see it); one PL/pgSQL
    block then replaces the table's rows by the staging table's and drops it, in one
    transaction: a concurrent reader sees the old labels or the new ones, never a mix. On
    a first run the staging table is renamed to the table. Statements run through the
    JDBC source's ``sessionInitStatement`` (public API, Spark Connect too); the block does
    nothing when the staging table is gone, so a retried task cannot run it twice.
    """
    table = str(jdbc.table)
    schema, _, name = table.rpartition(".")
    staging_name = f"{name}_staging_{uuid.uuid4().hex[:8]}"
    staging = f"{schema}.{staging_name}" if schema else staging_name
    options = jdbc_connection(jdbc, key)
    try:
        (spark.read.parquet(absolute(path)).write.format("jdbc").options(**options)
         .option("dbtable", staging).option("batchsize", str(jdbc.fetch_size or 10_000))
         .mode("overwrite").save())
        run_statement(spark, options, swap_block(staging, table, name))
    except Exception as exc:
        if not is_spark_error(exc):
            raise
        _drop_quietly(spark, options, staging)
        raise OutputError(f"{key}: the outputs are complete, but the labels were not written "
                          f"to the database: {jdbc_error(spark, exc, jdbc, key)}") from exc
    log.info("labels written to database table %s", table)


def swap_block(staging: str, table: str, name: str) -> str:
    """The PL/pgSQL block that moves the staging table's rows into ``table`` atomically."""
    return (
        "DO $swap$ BEGIN "
        f"IF to_regclass('{staging}') IS NOT NULL THEN "
        f"IF to_regclass('{table}') IS NULL THEN ALTER TABLE {staging} RENAME TO {name}; "
        f"ELSE DELETE FROM {table}; INSERT INTO {table} SELECT * FROM {staging}; "
        f"DROP TABLE {staging}; END IF; END IF; END $swap$"
    )


def run_statement(spark: SparkSession, options: dict[str, str], sql: str) -> None:
    """Run ``sql`` on the database (as the session-init statement of a one-row query)."""
    (spark.read.format("jdbc").options(**options).option("query", "SELECT 1 AS done")
     .option("sessionInitStatement", sql).load().collect())


def _drop_quietly(spark: SparkSession, options: dict[str, str], staging: str) -> None:
    try:
        run_statement(spark, options, f"DROP TABLE IF EXISTS {staging}")
    except Exception:  # noqa: BLE001 - cleanup after a failure already being reported
        log.warning("could not drop the staging table %s", staging)
