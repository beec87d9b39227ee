"""``segment sql``: Spark SQL statements run in a session that has the connectors and catalogs
of a lakehouse, for what users do around a run without a Spark distribution of their own:
create a Delta Lake or Iceberg table from files, read a published labels table, look at its
history, time travel, roll back.

Results are printed as plain text tables (at most ``max_rows`` rows each); a statement
Spark refuses is one line naming it, and the statements after it do not run.

Examples
--------
>>> spark_settings({"spark": {"spark.sql.catalog.lake.type": "hadoop"}, "input": {}},
...                ["spark.sql.shuffle.partitions=4"])
{'spark.sql.catalog.lake.type': 'hadoop', 'spark.sql.shuffle.partitions': '4'}
>>> spark_settings({}, ["shuffle"])
Traceback (most recent call last):
...
segmentation.core.errors.ConfigError: --conf 'shuffle' must look like KEY=VALUE
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from pyspark.sql import SparkSession

from segmentation.core.configfile import build_dataclass
from segmentation.core.errors import ConfigError, InputDataError, one_line
from segmentation.core.failures import is_spark_error


@dataclass(frozen=True)
class SparkSection:
    """The ``spark`` section of any job's config: settings of the session."""

    spark: dict[str, str] = field(default_factory=dict)


def spark_settings(config: Mapping[str, Any], confs: Sequence[str]) -> dict[str, str]:
    """The session settings of a config's ``spark`` section (its other sections ignored),
    with ``--conf KEY=VALUE`` items over them."""
    settings = build_dataclass(SparkSection, {"spark": config.get("spark", {})}, "").spark
    for item in confs:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--conf {item!r} must look like KEY=VALUE")
        settings[key] = value
    return settings


def run_statements(spark: SparkSession, statements: Sequence[str], out: TextIO, *,
                   max_rows: int = 1000) -> None:
    """Run ``statements`` in order, printing the rows each one returns to ``out``."""
    for number, statement in enumerate(statements, 1):
        try:
            result = spark.sql(statement)
            table = result.limit(max_rows).toPandas() if result.columns else None
        except Exception as exc:
            if not is_spark_error(exc):
                raise
            raise InputDataError(f"SQL statement {number} failed: {one_line(exc)}") from exc
        if table is not None:
            print(table.to_string(index=False), file=out, flush=True)
