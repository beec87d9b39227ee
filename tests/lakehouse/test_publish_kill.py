"""A ``segment run`` killed with SIGKILL during its table commit leaves the Delta or Iceberg
table at its previous version, readable and unchanged, and the run directory as it was (as
``tests/test_kill.py`` does for the files), or, when the commit had landed, the killed
run's whole labels: never a mix.

The first run is in-process on the shared session, the killed one a process of its own:
the Delta table is named by its path (a session catalog without a metastore forgets names
between processes), the Iceberg table lives in the ``lake`` hadoop catalog, which both
sessions read.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from pyspark.sql import SparkSession
from support.files import tree_digest
from support.runs import fixed_k_config

from lakehouse.conftest import iceberg_catalog
from segmentation.run.config import config_from_dict
from segmentation.run.job import run_segmentation

pytestmark = [pytest.mark.lakehouse, pytest.mark.slow]

#: The log line to kill at: the job frame's as it starts the commit (the kill lands during
#: it, or just after it). A kill before the commit is tests/test_kill.py's: the table is
#: not touched until then.
KILL_POINT = "committing labels"


def segment(config: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"}
    env.pop("SPARK_REMOTE", None)
    return subprocess.Popen(
        [sys.executable, "-m", "segmentation.cli", "run", "--config", str(config),
         "--master", "local[2]"],
        stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)


def labels_of(spark: SparkSession, table: str) -> pd.DataFrame:
    """The table's rows as this session reads them now (Iceberg's catalog caches tables)."""
    if table.startswith("lake."):
        spark.catalog.refreshTable(table)
    return spark.table(table).toPandas().sort_values("customer_id", ignore_index=True)


@pytest.mark.parametrize("table_format", ["delta", "iceberg"])
def test_a_killed_run_leaves_the_previous_table_version(
    lake_spark: SparkSession, make_customers, warehouse: Path, tmp_path: Path,
    table_format: str,
) -> None:
    if table_format == "delta":
        table = f"delta.`{tmp_path / 'labels-table'}`"
    else:
        lake_spark.sql("CREATE NAMESPACE IF NOT EXISTS lake.killed")
        table = "lake.killed.labels"
    out = tmp_path / "out"
    cfg = fixed_k_config(make_customers(2000, seed=13), out, 3, restarts=1)
    cfg["evaluation"].update(stability_resamples=0, sample_size=500)
    cfg["output"].update(table=table, table_format=table_format)
    cfg["spark"] = {"spark.sql.shuffle.partitions": "4", **iceberg_catalog(warehouse)}
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(cfg))
    run_segmentation(lake_spark, config_from_dict(cfg))
    before, digest = labels_of(lake_spark, table), tree_digest(out)

    cfg["model"]["k"] = 4
    config.write_text(yaml.safe_dump(cfg))
    job = segment(config)
    assert job.stderr is not None
    deadline = time.monotonic() + 900
    for line in job.stderr:
        if KILL_POINT in line or time.monotonic() > deadline:
            break
    else:
        pytest.fail(f"the job ended before logging {KILL_POINT!r}")
    os.killpg(job.pid, signal.SIGKILL)
    job.wait(timeout=60)
    after = labels_of(lake_spark, table)
    if after.equals(before):
        assert tree_digest(out) == digest
        return
    # The kill landed after the commit: the table holds the killed run's whole labels.
    staged = next(tmp_path.glob(".out.staging-*/labels"), None) or out / "labels"
    pd.testing.assert_frame_equal(after, pd.read_parquet(staged).sort_values(
        "customer_id", ignore_index=True), check_exact=True)
