"""Connectors Spark needs beyond its own jars: Delta Lake, Apache Iceberg and hadoop-aws
(``s3a://``), chosen per Spark line from one table (:data:`CONNECTORS`).

Each connector is built for one Spark line (Delta Lake and Iceberg against Spark's internal
classes, hadoop-aws against the Hadoop that line ships), so the coordinate is looked up by
the line of the running Spark, never guessed. ``scripts/connectors.py`` fetches a line's
jars once with Maven into a cache outside the repository (:func:`cache_dir`); a session this
project launches itself (local mode, a master URL) adds the cached jars and the connector's
settings at start. Sessions started by others (``spark-submit``, a Spark Connect server) must
have been started with them: :func:`check_loaded` says in one line what to add.

Examples
--------
>>> coordinate("delta", "4.1")
'io.delta:delta-spark_4.1_2.13:4.4.0'
>>> coordinate("iceberg", "4.3")
Traceback (most recent call last):
...
segmentation.core.errors.ConfigError: Apache Iceberg has no release for Spark 4.3 (it has \
for Spark 3.5, 4.0, 4.1): run on one of those lines (scripts/setup.sh --spark X.Y)
>>> needed(formats=["parquet", "Delta"], paths=["s3a://bucket/customers", "/tmp/out"])
('delta', 's3a')
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from segmentation.core.errors import ConfigError
from segmentation.core.sparkversion import client_version, spark_line

if TYPE_CHECKING:  # the table is read by config validation, which loads no Spark
    from pyspark.sql import SparkSession

#: Where ``scripts/connectors.py`` keeps each line's jar list (the jars stay in Maven's cache).
CACHE_ENV = "SEGMENT_CONNECTORS_DIR"


@dataclass(frozen=True)
class Connector:
    """One connector: its Maven coordinate per Spark line and the session settings it needs."""

    name: str
    title: str
    #: Spark line ``"X.Y"`` -> Maven ``group:artifact:version`` built for that line.
    releases: Mapping[str, str]
    #: Session settings it needs; ``spark.sql.extensions`` values are joined, the others are
    #: defaults a user's own setting replaces.
    settings: Mapping[str, str] = field(default_factory=dict)

    @property
    def extension(self) -> str | None:
        """The SQL extension class the connector needs loaded (its SQL commands, time travel)."""
        return self.settings.get("spark.sql.extensions")


DELTA = Connector(
    "delta", "Delta Lake",
    {"3.5": "io.delta:delta-spark_2.12:3.3.2",
     "4.0": "io.delta:delta-spark_4.0_2.13:4.4.0",
     "4.1": "io.delta:delta-spark_4.1_2.13:4.4.0",
     "4.2": "io.delta:delta-spark_4.2_2.13:4.4.0"},
    {"spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
     "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
     # Delta replays a table's log in 50 tasks by default, sized for logs of millions of
     # files; a customer table's log is small, and on 2 cores those tasks cost about 5 s of
     # every run that reads or writes one (measured at 2M customers, BENCHMARKS.md).
     "spark.databricks.delta.snapshotPartitions": "8"},
)
ICEBERG = Connector(
    "iceberg", "Apache Iceberg",
    {"3.5": "org.apache.iceberg:iceberg-spark-runtime-3.5_2.12:1.12.0",
     "4.0": "org.apache.iceberg:iceberg-spark-runtime-4.0_2.13:1.11.0",
     "4.1": "org.apache.iceberg:iceberg-spark-runtime-4.1_2.13:1.12.0"},
    {"spark.sql.extensions":
     "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions"},
)
S3A = Connector(
    "s3a", "hadoop-aws (s3a://)",
    {"3.5": "org.apache.hadoop:hadoop-aws:3.3.4",
     "4.0": "org.apache.hadoop:hadoop-aws:3.4.1",
     "4.1": "org.apache.hadoop:hadoop-aws:3.4.2",
     "4.2": "org.apache.hadoop:hadoop-aws:3.5.0",
     "4.3": "org.apache.hadoop:hadoop-aws:3.5.0"},
    # Bounded retries: a store that is down fails a job in seconds, not after S3A's
    # minutes of backoff (measured here: 122 s with Hadoop 3.5.0's defaults, 3 s with
    # these). Plain milliseconds: Hadoop 3.3.4 reads no "5s" there.
    {"spark.hadoop.fs.s3a.attempts.maximum": "2",
     "spark.hadoop.fs.s3a.retry.limit": "2",
     "spark.hadoop.fs.s3a.retry.interval": "500ms",
     "spark.hadoop.fs.s3a.connection.establish.timeout": "5000"},
)
#: Every connector by name: the one table the set-up, the sessions and the docs read.
CONNECTORS: dict[str, Connector] = {c.name: c for c in (DELTA, ICEBERG, S3A)}
#: Input and output formats that are tables of a connector.
TABLE_FORMATS = ("delta", "iceberg")


def parse_names(text: str) -> list[str]:
    """Connector names from ``delta,iceberg`` (as ``--connectors`` takes them); one line for
    an unknown name."""
    names = [name for name in text.split(",") if name]
    unknown = [name for name in names if name not in CONNECTORS]
    if unknown:
        raise ConfigError(f"unknown connector {unknown[0]!r} (known: {', '.join(CONNECTORS)})")
    return names


def running_line(version: str | None = None) -> str:
    """``"X.Y"`` of a Spark version (by default the pyspark this process imports)."""
    return "{}.{}".format(*spark_line(version or client_version()))


def coordinate(name: str, line: str) -> str:
    """The Maven coordinate of connector ``name`` for Spark ``line``; one line when none."""
    connector = CONNECTORS[name]
    if line not in connector.releases:
        lines = ", ".join(connector.releases)
        raise ConfigError(f"{connector.title} has no release for Spark {line} (it has for "
                          f"Spark {lines}): run on one of those lines (scripts/setup.sh "
                          "--spark X.Y)")
    return connector.releases[line]


def needed(*, formats: Iterable[str | None] = (), paths: Iterable[str | None] = ()
           ) -> tuple[str, ...]:
    """The connectors a job needs for the table ``formats`` and the ``paths`` it touches."""
    names = {f.lower() for f in formats if f and f.lower() in TABLE_FORMATS}
    if any(p and p.startswith("s3a://") for p in paths):
        names.add("s3a")
    return tuple(sorted(names))


def cache_dir() -> Path:
    """Where each line's jar lists are kept (``$SEGMENT_CONNECTORS_DIR`` or the user cache)."""
    given = os.environ.get(CACHE_ENV)
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "segmentation" / "connectors"


def jar_list(name: str, line: str) -> Path:
    """The file listing connector ``name``'s jars for Spark ``line`` (one path a line)."""
    return cache_dir() / f"spark-{line}" / f"{name}.jars"


def fetched_jars(name: str, line: str) -> list[str]:
    """The cached jars of a connector; one line naming the fix when they are not there."""
    wanted = coordinate(name, line)
    listing = jar_list(name, line)
    jars = listing.read_text().split() if listing.is_file() else []
    if not jars or not all(Path(jar).is_file() for jar in jars):
        raise ConfigError(
            f"the {CONNECTORS[name].title} connector for Spark {line} is not fetched here: run "
            f"scripts/setup.sh --connectors (or set spark.jars.packages: {wanted})")
    return jars


def session_settings(names: Iterable[str], line: str, given: Mapping[str, str]
                     ) -> dict[str, str]:
    """What a session this project launches needs for connectors ``names``: their jars and
    settings, merged with the user's ``given`` ones (which win; extensions are joined)."""
    settings: dict[str, str] = {}
    jars = [j for j in given.get("spark.jars", "").split(",") if j]
    packages = given.get("spark.jars.packages", "")
    extensions = [e for e in given.get("spark.sql.extensions", "").split(",") if e]
    for name in names:
        connector = CONNECTORS[name]
        artifact = ":".join(coordinate(name, line).split(":")[:2])
        if artifact not in packages:
            jars += [jar for jar in fetched_jars(name, line) if jar not in jars]
        for key, value in connector.settings.items():
            if key == "spark.sql.extensions":
                extensions += [] if value in extensions else [value]
            elif key not in given:
                settings[key] = value
    if jars:
        settings["spark.jars"] = ",".join(jars)
    if extensions:
        settings["spark.sql.extensions"] = ",".join(extensions)
    return settings


def check_loaded(spark: SparkSession, names: Iterable[str]) -> None:
    """Refuse in one line a session started without a needed connector's SQL extension
    (``spark-submit`` or a Spark Connect server started by others), naming what to add."""
    loaded = spark.conf.get("spark.sql.extensions", "") or ""
    line = running_line(spark.version)
    for name in names:
        connector = CONNECTORS[name]
        if connector.extension and connector.extension not in loaded:
            flags = " ".join(f"--conf {key}={value}" for key, value in
                             connector.settings.items())
            raise ConfigError(
                f"{connector.title} is not loaded in this Spark session: start it with "
                f"--packages {coordinate(name, line)} {flags} (scripts/submit.sh and "
                f"scripts/connect.sh start add them with --connectors {name})")


def launch_arguments(names: Iterable[str], line: str) -> list[str]:
    """``spark-submit`` arguments that load connectors ``names`` from the cache: ``--jars``
    and ``--conf`` (for ``scripts/submit.sh`` and ``scripts/connect.sh``)."""
    arguments: list[str] = []
    for key, value in session_settings(names, line, {}).items():
        arguments += ["--jars", value] if key == "spark.jars" else ["--conf", f"{key}={value}"]
    return arguments


def main(argv: list[str]) -> int:
    """``python -m segmentation.core.connectors NAME[,NAME...]``: the launch arguments of
    those connectors for this pyspark's line, one a line; one line and exit 2 when they
    cannot be loaded (unknown name, no release for the line, not fetched)."""
    try:
        print("\n".join(launch_arguments(parse_names(",".join(argv)), running_line())))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
