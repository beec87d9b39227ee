"""The benchmark's customers as lakehouse tables, for variants (e) and (f): the generated
Parquet table copied once into a Delta Lake table and an Apache Iceberg table (cached beside
it), so that the same rows are read through each format's connector.

Written by a child process (``python scripts/benchmark/tables.py FORMAT PARQUET TARGET``)
so that no JVM stays in the benchmark's own process while the variants are timed. Needs a
Spark line with both connectors (``scripts/setup.sh --spark 4.1 --connectors``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

#: The Iceberg catalog the table is written through (type hadoop: a table is a folder).
CATALOG = "bench"


def ensure_table(data: Path, fmt: str) -> Path:
    """``DATA-delta`` or the Iceberg table folder of ``DATA``: written once, then reused."""
    target = table_path(data, fmt)
    if (target / ("_delta_log" if fmt == "delta" else "metadata")).is_dir():
        print(f"reusing {target}", flush=True)
        return target
    print(f"writing {data} as a {fmt} table at {target}", flush=True)
    subprocess.run([sys.executable, __file__, fmt, str(data), str(target)], check=True)
    return target


def table_path(data: Path, fmt: str) -> Path:
    """Where the ``fmt`` copy of ``data`` lives (an Iceberg hadoop catalog keeps tables at
    ``WAREHOUSE/DATABASE/TABLE``)."""
    if fmt == "delta":
        return data.with_name(f"{data.name}-delta")
    return data.with_name("iceberg-warehouse") / "db" / data.name.replace("-", "_")


def write_table(fmt: str, data: Path, target: Path) -> None:
    """Copy the Parquet table ``data`` into a new ``fmt`` table at ``target``."""
    from segmentation.core.session import build_session

    shutil.rmtree(target, ignore_errors=True)
    warehouse = target.parents[1]
    settings = {f"spark.sql.catalog.{CATALOG}": "org.apache.iceberg.spark.SparkCatalog",
                f"spark.sql.catalog.{CATALOG}.type": "hadoop",
                f"spark.sql.catalog.{CATALOG}.warehouse": warehouse.as_uri()}
    spark = build_session(app_name=f"bench-{fmt}-table", settings=settings, connectors=(fmt,))
    try:
        rows = spark.read.parquet(str(data))
        if fmt == "delta":
            rows.write.format("delta").save(str(target))
        else:
            rows.writeTo(f"{CATALOG}.{target.parent.name}.{target.name}").using("iceberg").create()
    finally:
        spark.stop()


if __name__ == "__main__":
    write_table(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))
