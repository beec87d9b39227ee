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

import dataclasses
import logging
import uuid

from pyspark.sql import SparkSession

from segmentation.core.errors import OutputError, one_line, service_or
from segmentation.core.failures import is_spark_error
from segmentation.core.fs import absolute
from segmentation.data.config import JdbcConfig
from segmentation.data.jdbc import DEFAULT_FETCH_SIZE, jdbc_connection, jdbc_error, jdbc_reader
from segmentation.model.columns import DISTANCE_COL, SEGMENT_COL

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


#: What each labels column needs of an existing database table's column (information_schema
#: data types); an id column takes any type the database casts the id into.
LABEL_COLUMN_TYPES = {
    SEGMENT_COL: ("smallint", "integer", "bigint"),
    DISTANCE_COL: ("double precision", "real", "numeric"),
}


def check_jdbc_target(spark: SparkSession, jdbc: JdbcConfig, id_column: str, key: str
                      ) -> dict[str, str]:
    """The existing table's spelling of each labels column (empty when there is no table
    yet), after checking, before any work, that the table can take the labels by name.

    Fails with one line when a labels column is missing or of another type, or when a
    column the labels do not fill has neither a default nor NULL allowed.
    """
    columns = table_columns(spark, jdbc, key)
    if not columns:
        return {}
    spelling: dict[str, str] = {}
    for name in (id_column, SEGMENT_COL, DISTANCE_COL):
        found = columns.get(name.lower())
        if found is None:
            raise OutputError(
                f"{key}.table {jdbc.table} has no column {name!r} for the labels; its "
                f"columns: {', '.join(c[0] for c in columns.values())}")
        actual, data_type, _ = found
        allowed = LABEL_COLUMN_TYPES.get(name)
        if allowed is not None and data_type not in allowed:
            raise OutputError(
                f"{key}.table {jdbc.table} column {actual!r} has type {data_type}; the "
                f"labels' {name} needs one of {', '.join(allowed)}")
        spelling[name] = actual
    filled = {n.lower() for n in spelling}
    unfilled = [c[0] for lower, c in columns.items() if lower not in filled and not c[2]]
    if unfilled:
        raise OutputError(
            f"{key}.table {jdbc.table} has columns the labels do not fill, without a default "
            f"and NOT NULL: {', '.join(unfilled)}")
    return spelling


def table_columns(spark: SparkSession, jdbc: JdbcConfig, key: str
                  ) -> dict[str, tuple[str, str, bool]]:
    """The database table's columns: lower-case name -> (name, data type, whether a row may
    leave it out), from information_schema; empty when there is no such table."""
    schema, _, name = str(jdbc.table).rpartition(".")
    where_schema = f"'{_literal(schema)}'" if schema else "current_schema()"
    listing = dataclasses.replace(
        jdbc, table=None, partition_column=None, lower_bound=None, upper_bound=None,
        num_partitions=None,
        query="SELECT column_name, data_type, is_nullable = 'YES' OR column_default IS NOT "
              "NULL AS optional FROM information_schema.columns WHERE table_schema = "
              f"{where_schema} AND lower(table_name) = lower('{_literal(name)}')")
    try:
        rows = jdbc_reader(spark, listing, key).load().collect()
    except Exception as exc:
        if not is_spark_error(exc):
            raise
        cause = jdbc_error(spark, exc, jdbc, key)
        raise service_or(OutputError, f"{key}: cannot read the columns of {jdbc.table}: "
                         f"{cause}", cause) from exc
    return {str(r[0]).lower(): (str(r[0]), str(r[1]), bool(r[2])) for r in rows}


def _literal(text: str) -> str:
    return text.replace("'", "''")


def write_jdbc_table(spark: SparkSession, path: str, jdbc: JdbcConfig, id_column: str,
                     key: str) -> None:
    """Replace the rows of the database table ``jdbc.table`` by the Parquet at ``path``.

    Spark's JDBC writer fills a new staging table (readers never see it); one PL/pgSQL
    block then locks the table against other writers (readers still read it), replaces its
    rows by the staging table's, by column name, and drops the staging table, in one
    transaction: a concurrent reader sees the old labels or the new ones, never a mix, and
    two runs writing the same table one after the other leave only the second's rows. On
    a first run the staging table is renamed to the table. Statements run through the
    JDBC source's ``sessionInitStatement`` (public API, Spark Connect too); the block does
    nothing when the staging table is gone, so a retried task cannot run it twice.
    """
    table = str(jdbc.table)
    schema, _, name = table.rpartition(".")
    staging_name = f"{name}_staging_{uuid.uuid4().hex[:8]}"
    staging = f"{schema}.{staging_name}" if schema else staging_name
    options = jdbc_connection(jdbc, key)
    spelling = check_jdbc_target(spark, jdbc, id_column, key)
    labels = [id_column, SEGMENT_COL, DISTANCE_COL]
    columns = [(spelling.get(c, c), c) for c in labels]
    try:
        (spark.read.parquet(absolute(path)).select(*labels).write.format("jdbc")
         .options(**options).option("dbtable", staging)
         .option("batchsize", str(jdbc.fetch_size or DEFAULT_FETCH_SIZE)).mode("overwrite").save())
        run_statement(spark, options, swap_block(staging, table, name, columns))
    except Exception as exc:
        if not is_spark_error(exc):
            raise
        _drop_quietly(spark, options, staging)
        cause = jdbc_error(spark, exc, jdbc, key)
        raise service_or(OutputError, f"{key}: the outputs are complete, but the labels were "
                         f"not written to the database: {cause}", cause) from exc
    log.info("labels written to database table %s", table)


def swap_block(staging: str, table: str, name: str, columns: list[tuple[str, str]]) -> str:
    """The PL/pgSQL block that moves the staging table's rows into ``table`` atomically,
    ``columns`` as (the table's name, the staging table's name) pairs."""
    into = ", ".join(_quoted(target) for target, _ in columns)
    values = ", ".join(_quoted(source) for _, source in columns)
    return (
        "DO $swap$ BEGIN "
        f"IF to_regclass('{staging}') IS NOT NULL THEN "
        f"IF to_regclass('{table}') IS NULL THEN ALTER TABLE {staging} RENAME TO {name}; "
        f"ELSE LOCK TABLE {table} IN EXCLUSIVE MODE; DELETE FROM {table}; "
        f"INSERT INTO {table} ({into}) SELECT {values} FROM {staging}; "
        f"DROP TABLE {staging}; END IF; END IF; END $swap$"
    )


def _quoted(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def run_statement(spark: SparkSession, options: dict[str, str], sql: str) -> None:
    """Run ``sql`` on the database (as the session-init statement of a one-row query)."""
    (spark.read.format("jdbc").options(**options).option("query", "SELECT 1 AS done")
     .option("sessionInitStatement", sql).load().collect())


def _drop_quietly(spark: SparkSession, options: dict[str, str], staging: str) -> None:
    try:
        run_statement(spark, options, f"DROP TABLE IF EXISTS {staging}")
    except Exception:  # noqa: BLE001 - cleanup after a failure already being reported
        log.warning("could not drop the staging table %s", staging)
