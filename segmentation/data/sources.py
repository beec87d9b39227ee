"""Reading a table from wherever it lives: files in any Spark format, a catalog table, or a
database over JDBC; one function, :func:`read_source`, for every job.

Every failure a user can cause is one line: a :class:`ConfigError` (exit 2) for what the
config gets wrong (an unknown format, a connector or JDBC driver missing from Spark's
classpath, a partition column Spark cannot split on), an :class:`InputDataError` (exit 3)
for what the data or the database says (a missing path or table, with a did-you-mean; a
database that cannot be reached or refuses the login; its own message on a bad query).
Passwords never reach a message: they come from an environment variable and every message
goes through :func:`segmentation.core.secrets.redact_text`.

A database is read once: the JDBC read is materialised (``localCheckpoint``, kept in
memory and on local disk, lineage cut) before anything counts or fits, since each JDBC
partition is its own transaction and a recomputed partition of a live table could give
other rows to a later stage.

Examples
--------
>>> from segmentation.config import SourceConfig
>>> source_name(SourceConfig(table="crm.customers"), "input")
'input.table crm.customers'
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import os
import re
import socket
from typing import Any

from pyspark.errors import PySparkException
from pyspark.sql import DataFrame, DataFrameReader, SparkSession

from segmentation.config import JdbcConfig, SourceConfig
from segmentation.core.errors import ConfigError, InputDataError, one_line
from segmentation.core.failures import is_spark_error
from segmentation.core.fs import absolute
from segmentation.core.secrets import redact_text
from segmentation.data.read import read_parquet

log = logging.getLogger(__name__)

#: Spark's own file formats (for a did-you-mean when a format name is unknown).
BUILTIN_FORMATS = ("parquet", "orc", "csv", "json", "text", "avro", "xml", "binaryFile")
#: Formats whose connector is not part of Spark: the package that provides it.
CONNECTORS = {
    "delta": "Delta Lake (Maven io.delta:delta-spark_2.13, pip delta-spark)",
    "iceberg": "Apache Iceberg (Maven org.apache.iceberg:iceberg-spark-runtime-4.0_2.13)",
    "hudi": "Apache Hudi (Maven org.apache.hudi:hudi-spark-bundle)",
    "avro": "Spark's Avro module (Maven org.apache.spark:spark-avro_2.13)",
}
#: Driver classes by JDBC URL scheme: named explicitly, a driver jar given with spark.jars
#: at run time is found (``DriverManager`` alone does not see it).
DRIVERS = {
    "postgresql": "org.postgresql.Driver",
    "mysql": "com.mysql.cj.jdbc.Driver",
    "mariadb": "org.mariadb.jdbc.Driver",
    "sqlserver": "com.microsoft.sqlserver.jdbc.SQLServerDriver",
    "oracle": "oracle.jdbc.OracleDriver",
    "db2": "com.ibm.db2.jcc.DB2Driver",
    "h2": "org.h2.Driver",
}
#: Default ports by JDBC URL scheme (for the reachability probe).
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306, "sqlserver": 1433,
                 "db2": 50000}
#: Seconds-valued connection timeouts of the PostgreSQL driver.
POSTGRES_TIMEOUTS = ("connectTimeout", "loginTimeout")


def read_source(spark: SparkSession, source: SourceConfig, key: str) -> DataFrame:
    """The table ``source`` describes (config section ``key``), its schema resolved now.

    A JDBC read is materialised before it is returned (see the module docstring).
    """
    if source.table is not None:
        return read_table(spark, source.table, key)
    if source.jdbc is not None:
        return read_jdbc(spark, source.jdbc, f"{key}.jdbc")
    assert source.path is not None  # validated: exactly one of path, table, jdbc
    if source.format.lower() == "parquet" and source.schema is None:
        return read_parquet(spark, source.path, ignore_corrupt_files=source.ignore_corrupt_files)
    return read_files(spark, source, key)


def source_name(source: SourceConfig, key: str) -> str:
    """How messages name the source: ``input.path data/x``, ``input.table db.t``, ..."""
    if source.table is not None:
        return f"{key}.table {source.table}"
    if source.jdbc is not None:
        what = source.jdbc.table or "query"
        return f"{key}.jdbc {what} at {redact_text(source.jdbc.url)}"
    return f"{key}.path {source.path}"


def source_summary(source: SourceConfig) -> dict[str, Any]:
    """What a manifest records of where the data came from (no secrets)."""
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
            raise ConfigError(unknown_format(source.format, key)) from exc
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


def unknown_format(name: str, key: str) -> str:
    """The message for a format Spark has no reader for: its connector, or a did-you-mean."""
    connector = CONNECTORS.get(name.lower())
    if connector:
        return (f"{key}.format {name}: Spark has no {name} reader on its classpath; it comes "
                f"with {connector}: add it with spark.jars.packages (or spark-submit "
                "--packages / --jars)")
    close = difflib.get_close_matches(name.lower(), BUILTIN_FORMATS, n=1)
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


def jdbc_reader(spark: SparkSession, jdbc: JdbcConfig, key: str) -> DataFrameReader:
    """A JDBC reader for ``jdbc``; the password comes from the ``password_env`` variable."""
    reader = spark.read.format("jdbc").options(**jdbc_connection(jdbc, key))
    if jdbc.table is not None:
        reader = reader.option("dbtable", jdbc.table)
    else:
        reader = reader.option("query", str(jdbc.query))
    if jdbc.partition_column is not None:
        reader = reader.options(partitionColumn=jdbc.partition_column,
                                lowerBound=str(jdbc.lower_bound),
                                upperBound=str(jdbc.upper_bound),
                                numPartitions=str(jdbc.num_partitions))
    if jdbc.fetch_size is not None:
        reader = reader.option("fetchsize", str(jdbc.fetch_size))
    return reader


def jdbc_connection(jdbc: JdbcConfig, key: str) -> dict[str, str]:
    """URL, user, password, driver and timeouts: what every connection to ``jdbc`` needs."""
    options = {"url": jdbc.url}
    if jdbc.user is not None:
        options["user"] = jdbc.user
    if jdbc.password_env is not None:
        password = os.environ.get(jdbc.password_env)
        if password is None:
            raise ConfigError(f"{key}.password_env names {jdbc.password_env}, but that "
                              "environment variable is not set")
        options["password"] = password
    driver = jdbc.driver or DRIVERS.get(jdbc.url.split(":")[1])
    if driver is not None:
        options["driver"] = driver
    if jdbc.url.startswith("jdbc:postgresql:"):
        options.update({name: str(jdbc.connect_timeout) for name in POSTGRES_TIMEOUTS})
    options.update(jdbc.options)
    return options


def read_jdbc(spark: SparkSession, jdbc: JdbcConfig, key: str) -> DataFrame:
    """A database table or query over JDBC, read once and materialised."""
    reader = jdbc_reader(spark, jdbc, key)
    try:
        df = reader.load()
        df.schema  # noqa: B018 - connects now: a wrong URL or login fails here
        return df.localCheckpoint(eager=True)
    except Exception as exc:
        if not is_spark_error(exc):
            raise
        raise jdbc_error(spark, exc, jdbc, key) from exc


def jdbc_error(spark: SparkSession, exc: BaseException, jdbc: JdbcConfig, key: str
               ) -> ConfigError | InputDataError:
    """One line for a failed JDBC read, from the text of the driver's exception."""
    text = error_text(exc)
    where = database_address(jdbc.url)
    if "No suitable driver" in text or "ClassNotFoundException" in text:
        return ConfigError(
            f"no JDBC driver for {redact_text(jdbc.url)} on Spark's classpath: add its jar "
            "with spark: {spark.jars: /path/to/driver.jar} in the config (or spark-submit "
            "--jars; over Spark Connect the server needs it), e.g. "
            "/usr/share/java/postgresql.jar from Debian's libpostgresql-jdbc-java"
        )
    if "Partition column type should be" in text or "partition column" in text.lower():
        return ConfigError(f"{key}.partition_column {jdbc.partition_column!r} cannot split "
                           f"the read: {database_message(exc)}")
    if "FAILED_JDBC.CONNECTION" in text or "PSQLException: FATAL" in text:
        # Spark's message hides the driver's cause (fully so over Spark Connect): find out
        # from here whether the server answers at all.
        unreachable = probe_database(jdbc)
        if unreachable:
            return InputDataError(f"cannot reach the database at {where} ({key}.url): "
                                  f"{unreachable}")
        if "authentication failed" in text or "Access denied" in text:
            return InputDataError(
                f"the database at {where} refused the login of user {jdbc.user!r}: wrong "
                f"password (from the environment variable {jdbc.password_env}) or user")
        return InputDataError(
            f"the database at {where} answers but the connection failed "
            f"({database_message(exc)}): check {key}.user, the password in "
            f"{jdbc.password_env or 'no password_env'} and {key}.options (e.g. sslmode)")
    message = database_message(exc)
    hint = ""
    if jdbc.table is not None and re.search(r"does not exist|doesn't exist|not found", message):
        hint = jdbc_table_hint(spark, jdbc, key)
    what = f"{key}.table {jdbc.table}" if jdbc.table is not None else f"{key}.query"
    return InputDataError(f"the database at {where} refused {what}: {message}{hint}")


def error_text(exc: BaseException) -> str:
    """The text of ``exc`` and of its causes (the driver's own exception may be one)."""
    parts, seen = [], set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts.append(str(current))
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


def probe_database(jdbc: JdbcConfig) -> str | None:
    """Why nothing answers at the JDBC URL's host and port (None when a TCP connection works)."""
    found = re.match(r"jdbc:[^:]+://\[?([^/?;:\]]+)\]?(?::(\d+))?", jdbc.url)
    if not found:
        return None
    host, port = found.group(1), int(found.group(2) or DEFAULT_PORTS.get(
        jdbc.url.split(":")[1], 0))
    if not port:
        return None
    try:
        with socket.create_connection((host, port), timeout=jdbc.connect_timeout):
            return None
    except OSError as exc:
        return (f"{(exc.strerror or type(exc).__name__).lower()} (connect timeout "
                f"{jdbc.connect_timeout} s): is the database running and the address right?")


def database_address(url: str) -> str:
    """``host:port`` of a JDBC URL (the URL itself, redacted, when it has none)."""
    found = re.match(r"jdbc:[^:]+://([^/?;]+)", url)
    return found.group(1) if found else redact_text(url)


def database_message(exc: BaseException) -> str:
    """The database's own message in one line (``ERROR: relation "x" does not exist``)."""
    text = error_text(exc)
    found = re.search(r"((?:ERROR|FATAL): [^\n]+)", text) or re.search(
        r"(?:SQLException|PSQLException): ([^\n]+)", text)
    line = found.group(1) if found else one_line(exc)
    return redact_text(line.strip())[:300]


def jdbc_table_hint(spark: SparkSession, jdbc: JdbcConfig, key: str) -> str:
    """``; did you mean schema.x?`` among the database's tables (information_schema)."""
    listing = dataclasses.replace(
        jdbc, table=None, partition_column=None, lower_bound=None, upper_bound=None,
        num_partitions=None,
        query="SELECT table_schema, table_name FROM information_schema.tables "
              "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')")
    try:
        rows = jdbc_reader(spark, listing, key).load().collect()
    except Exception:  # noqa: BLE001 - a hint only: no hint when the listing fails
        return ""
    names = [f"{r[0]}.{r[1]}" for r in rows] + [str(r[1]) for r in rows]
    close = difflib.get_close_matches(str(jdbc.table), names, n=1)
    return f"; did you mean {close[0]}?" if close else ""
