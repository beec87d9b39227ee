"""A Spark Connect server in front of the standalone cluster of scripts/cluster.sh: the
client talks to the server, the server's executors run on the cluster's workers, and the
labels are those of a local-mode run of the same config."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support.cli import DEFAULT_CONFIG, segment
from support.servers import ConnectServer, start_server, stop_server

from segmentation.synthetic.customers import generate_customers

from .conftest import Cluster

pytestmark = [pytest.mark.cluster, pytest.mark.connect]

SWEEP = ["--set", "model.k_min=2", "--set", "model.k_max=5", "--set", "model.restarts=2",
         "--set", "input.partitions=4", "--set", "evaluation.sample_size=500",
         "--set", "output.pca_sample_size=0", "--set", "spark.spark.sql.shuffle.partitions=4"]


@pytest.fixture(scope="module")
def server_on_cluster(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
                      ) -> Iterator[ConnectServer]:
    base = tmp_path_factory.mktemp("connect-cluster")
    try:
        yield start_server(base / "state", cluster.build, "--master", cluster.url,
                           "--driver-memory", "1g")
    finally:
        stop_server(base / "state")


def test_connect_server_on_the_cluster_gives_the_local_labels(
        server_on_cluster: ConnectServer, tmp_path: Path) -> None:
    customers = tmp_path / "customers"
    generate_customers(2000, customers, seed=4)

    def run(out: str, *spark: str) -> pd.DataFrame:
        done = segment(["run", "--config", DEFAULT_CONFIG, "--set", f"input.path={customers}",
                        "--set", f"output.path={tmp_path / out}", *SWEEP, *spark],
                       cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-4000:]
        return pd.read_parquet(tmp_path / out / "labels").sort_values("customer_id",
                                                                      ignore_index=True)

    local = run("local", "--master", "local[2]")
    remote = run("remote", "--remote", server_on_cluster.url)
    assert remote["customer_id"].tolist() == local["customer_id"].tolist()
    assert (remote["segment"] == local["segment"]).all()
    # Sums merge in the order tasks finish on a cluster: distances agree to rounding only
    # (docs/cluster.md, "Determinism").
    np.testing.assert_allclose(remote["distance"], local["distance"], rtol=0, atol=1e-9)
