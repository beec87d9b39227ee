"""Delta Lake tables through the launchers that start Spark for the jobs: a Spark Connect
server started with the connector (``scripts/connect.sh start --connectors delta``) and
``scripts/submit.sh --connectors delta`` serve the same reads as a local session; a job that
needs a connector the server lacks is refused in one line naming what to add."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from daemons import SCRIPTS
from pyspark.sql import SparkSession
from support.cli import error_lines, segment
from support.runs import fixed_k_config
from support.servers import ConnectServer

from segmentation.core.connectors import coordinate, running_line

pytestmark = [pytest.mark.lakehouse, pytest.mark.connect, pytest.mark.slow]


@dataclass(frozen=True)
class DeltaRun:
    """Customers in Parquet and the same rows in a Delta table (made with ``segment sql``);
    a local run of the Parquet (``lake_spark``: skipped where this line lacks Delta)."""

    customers: Path
    table: Path
    config: Path
    run: Path


@pytest.fixture(scope="module")
def delta_run(lake_spark: SparkSession, make_customers,
              tmp_path_factory: pytest.TempPathFactory) -> DeltaRun:
    base = tmp_path_factory.mktemp("delta-run")
    customers = make_customers(2000, seed=11)
    table = base / "customers-delta"
    # as the README makes one: `segment sql` with the connector
    made = segment(["sql", "--connectors", "delta", f"CREATE TABLE delta.`{table}` USING delta "
                    f"AS SELECT * FROM parquet.`{customers}`"], cwd=base)
    assert made.returncode == 0, made.stderr[-4000:]
    config = base / "run.yaml"
    config.write_text(json.dumps(fixed_k_config(customers, base / "local", 4)))
    local = segment(["run", "--config", str(config)], cwd=base)
    assert local.returncode == 0, local.stderr[-4000:]
    return DeltaRun(customers, table, config, base / "local")


def labels(run: Path) -> pd.DataFrame:
    frame = pd.read_parquet(run / "labels")
    return frame.sort_values("customer_id", ignore_index=True)


def test_a_delta_table_over_connect_gives_the_local_labels(
        delta_server: ConnectServer, delta_run: DeltaRun, tmp_path: Path) -> None:
    remote = segment(["run", "--config", str(delta_run.config), "--remote", delta_server.url,
                      "--set", "input.format=delta", "--set", f"input.path={delta_run.table}",
                      "--set", f"output.path={tmp_path / 'remote'}"], cwd=tmp_path)
    assert remote.returncode == 0, remote.stderr[-4000:]
    pd.testing.assert_frame_equal(labels(tmp_path / "remote"), labels(delta_run.run),
                                  check_exact=False, rtol=1e-9)


def test_spark_submit_with_the_connector_scores_a_delta_table(delta_run: DeltaRun,
                                                               tmp_path: Path) -> None:
    done = subprocess.run(
        [str(SCRIPTS / "submit.sh"), "--master", "local[2]", "--connectors", "delta",
         "--conf", "spark.ui.enabled=false", "jobs/score.py", "--model", str(delta_run.run),
         "--input", str(delta_run.table), "--input-format", "delta",
         "--output", str(tmp_path / "scored")],
        cwd=SCRIPTS.parent, capture_output=True, text=True, timeout=600,
        env={**os.environ, "SEGMENT_PYTHON": sys.executable,
             "SEGMENT_BUILD_DIR": str(tmp_path / "build")})
    assert done.returncode == 0, done.stderr[-6000:]
    pd.testing.assert_frame_equal(labels(tmp_path / "scored"), labels(delta_run.run),
                                  check_exact=False, rtol=1e-9)


def test_a_connector_the_server_lacks_is_one_line(delta_server: ConnectServer,
                                                  make_customers, tmp_path: Path) -> None:
    out = tmp_path / "scored"
    done = segment(["score", "--model", "unused", "--input", str(make_customers(50, seed=1)),
                    "--input-format", "iceberg", "--output", str(out),
                    "--remote", delta_server.url], cwd=tmp_path)
    assert done.returncode == 2, done.stderr[-4000:]
    assert error_lines(done.stderr) == [
        "error: Apache Iceberg is not loaded in this Spark session: start it with --packages "
        f"{coordinate('iceberg', running_line())} --conf spark.sql.extensions=org.apache."
        "iceberg.spark.extensions.IcebergSparkSessionExtensions (scripts/submit.sh and "
        "scripts/connect.sh start add them with --connectors iceberg)"]
    assert not out.exists()
