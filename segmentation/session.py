"""The SparkSession this project's jobs and CLI run in.

Local mode by default; a master chosen by ``spark-submit`` (``spark.master`` already set) is
always respected. Python workers are pinned to the driver's own interpreter so that a
virtual environment's numpy/pyarrow are what the workers import.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"

#: Settings every session gets unless the caller (or spark-submit) sets them.
DEFAULT_SETTINGS: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.shuffle.partitions": "16",
    "spark.sql.debug.maxToStringFields": "1000",
}


def build_session(
    *,
    app_name: str = "segmentation",
    master: str | None = None,
    settings: Mapping[str, str] | None = None,
) -> SparkSession:
    """Get or create the SparkSession for a job.

    ``master`` applies only when no master was set by ``spark-submit``; without either,
    the session runs in local mode on all cores (``local[*]``). ``settings`` are extra
    ``spark.*`` options (the config's ``spark:`` section).
    """
    pin_python_workers()
    builder = SparkSession.builder.appName(app_name)
    if not launched_by_spark_submit():
        builder = builder.master(master or "local[*]")
        if (master or "local").startswith("local"):
            # Keep local mode on loopback (this machine's hostname resolves to loopback,
            # and Spark would otherwise pick another interface's address).
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
            builder = builder.config("spark.driver.host", "127.0.0.1").config(
                "spark.driver.bindAddress", "127.0.0.1"
            )
    log4j = CONF_DIR / "log4j2.properties"
    if log4j.is_file():
        builder = builder.config(
            "spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={log4j.as_uri()}"
        )
    defaults = dict(DEFAULT_SETTINGS)
    if launched_by_spark_submit():  # spark-submit --conf values win over our defaults
        from pyspark import SparkConf

        for key, _ in SparkConf().getAll():
            defaults.pop(key, None)
    for key, value in {**defaults, **(settings or {})}.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    log.info(
        "Spark %s session on %s (%s cores)",
        spark.version,
        spark.sparkContext.master,
        spark.sparkContext.defaultParallelism,
    )
    return spark


def pin_python_workers() -> None:
    """Make Spark's Python workers run this interpreter unless the user chose one."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)


def launched_by_spark_submit() -> bool:
    """True when spark-submit started this Python driver (its JVM gateway already exists)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ
