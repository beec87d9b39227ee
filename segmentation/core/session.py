"""The SparkSession this project's jobs and CLI run in.

Local mode by default, with half of the machine's RAM for the driver unless chosen; a
master chosen by ``spark-submit`` (``spark.master`` already set) is always respected.
Python workers are pinned to the driver's own interpreter so that a virtual environment's
numpy/pyarrow are what the workers import.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"

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
            if "spark.driver.memory" not in (settings or {}) and not driver_memory_given():
                builder = builder.config("spark.driver.memory", local_driver_memory())
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
        "Spark %s session on %s (%s cores, driver memory %s)",
        spark.version,
        spark.sparkContext.master,
        spark.sparkContext.defaultParallelism,
        spark.sparkContext.getConf().get("spark.driver.memory", "1g"),
    )
    return spark


def local_driver_memory() -> str:
    """Half of this machine's RAM, in whole GB (at least 1g), for a local-mode driver.

    In local mode the driver JVM is also the only executor: Spark's default heap of 1g runs
    out of memory sorting 20 million customers, while the machine has far more to give.
    """
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not a POSIX system: Spark's default
        return "1g"
    return f"{max(1, total // 2 // 2**30)}g"


def driver_memory_given() -> bool:
    """True when the user chose the driver memory outside the config (spark-submit style)."""
    return ("--driver-memory" in os.environ.get("PYSPARK_SUBMIT_ARGS", "")
            or "SPARK_DRIVER_MEMORY" in os.environ)


def pin_python_workers() -> None:
    """Make Spark's Python workers run this interpreter unless the user chose one."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)


def launched_by_spark_submit() -> bool:
    """True when spark-submit started this Python driver (its JVM gateway already exists)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ
