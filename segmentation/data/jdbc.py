"""Reading a database table or query over JDBC, and the one-line messages of a failed
connection; the labels' write-back (:func:`segmentation.data.sinks.write_jdbc_table`)
connects the same way.

A database is read once: the JDBC read is materialised (``localCheckpoint``, kept in
memory and on local disk, lineage cut) before anything counts or fits, since each JDBC
partition is its own transaction and a recomputed partition of a live table could give
other rows to a later stage. Only the columns the job uses are read: the schema comes
first (Spark asks for no rows), the job checks and selects its columns, and the query
that reads rows names those columns only (a table's other columns, personal data the run
never uses among them, stay in the database).

Failures are one line: a :class:`ConfigError` (exit 2) for a JDBC driver missing from
Spark's classpath or a partition column Spark cannot split on, a :class:`ServiceError`
(exit 6) for a database that cannot be reached or refuses the login, an
:class:`InputDataError` (exit 3) for one that rejects the query (its own message, with a
did-you-mean for a missing table). Passwords never reach a
message: they come from an environment variable and every message goes through
:func:`segmentation.core.secrets.redact_text`.

Examples
--------
>>> database_address("jdbc:postgresql://db.example:5432/crm?sslmode=require")
'db.example:5432'
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
from collections.abc import Callable

from pyspark.sql import DataFrame, DataFrameReader, SparkSession

from segmentation.core.errors import ConfigError, InputDataError, ServiceError, one_line
from segmentation.core.failures import is_spark_error
from segmentation.core.secrets import redact_text
from segmentation.core.sparkversion import unreachable
from segmentation.data.config import JdbcConfig

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
#: Rows per round trip when ``fetch_size`` is not set: PostgreSQL's driver otherwise
#: buffers each partition's whole result in the executor's memory. Also the write's batch.
DEFAULT_FETCH_SIZE = 10_000


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
    if jdbc.fetch_size is not None or jdbc.url.startswith("jdbc:postgresql:"):
        reader = reader.option("fetchsize", str(jdbc.fetch_size or DEFAULT_FETCH_SIZE))
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


def read_jdbc(spark: SparkSession, jdbc: JdbcConfig, key: str,
              keep: Callable[[DataFrame], DataFrame]) -> DataFrame:
    """A database table or query over JDBC, its schema checked and the columns ``keep``
    keeps selected before any row is read, then read once and materialised."""
    reader = jdbc_reader(spark, jdbc, key)
    try:
        df = reader.load()
        df.schema  # noqa: B018 - connects now: a wrong URL or login fails here
        return keep(df).localCheckpoint(eager=True)
    except Exception as exc:
        if not is_spark_error(exc):
            raise
        raise jdbc_error(spark, exc, jdbc, key) from exc


def jdbc_error(spark: SparkSession, exc: BaseException, jdbc: JdbcConfig, key: str
               ) -> ConfigError | InputDataError | ServiceError:
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
            return ServiceError(f"cannot reach the database at {where} ({key}.url): "
                                f"{unreachable}")
        if "authentication failed" in text or "Access denied" in text:
            return ServiceError(
                f"the database at {where} refused the login of user {jdbc.user!r}: wrong "
                f"password (from the environment variable {jdbc.password_env}) or user")
        return ServiceError(
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
    reason = unreachable(host, port, jdbc.connect_timeout)
    if reason is None:
        return None
    return (f"{reason} (connect timeout {jdbc.connect_timeout} s): is the database running "
            "and the address right?")


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
