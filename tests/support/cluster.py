"""A real Spark standalone cluster on loopback, started and stopped with scripts/cluster.sh
through scripts/daemons.py (as the other servers of the tests are).

The ``cluster`` fixture of tests/cluster/conftest.py starts one per test module; the submit
build (the segmentation zip and the executor Python of scripts/package.sh) is made once
with it, so the tests submit with ``--no-package``.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import daemons


@dataclass(frozen=True)
class Cluster(daemons.Server):
    """A running standalone cluster and the build (zip, executor Python) its jobs ship."""

    build: Path

    def worker_pid(self, n: int) -> int:
        return int((self.state / f"worker-{n}.pid").read_text())

    def status(self) -> str:
        done = subprocess.run([str(daemons.SCRIPTS / "cluster.sh"), "status"], env=self.env,
                              capture_output=True, text=True, timeout=30)
        return done.stdout + done.stderr


def start_cluster(state: Path, build: Path, workers: int) -> Cluster:
    """Start a master and ``workers`` one-core workers, then build the submit package."""
    server = daemons.start("cluster.sh", state, "--workers", str(workers), "--cores", "1",
                           "--memory", "1g", timeout=240, SEGMENT_BUILD_DIR=str(build),
                           SPARK_LOCAL_IP="127.0.0.1")
    assert server.url.startswith("spark://127.0.0.1:"), server.url
    packaged = subprocess.run([str(daemons.SCRIPTS / "package.sh")], env=server.env,
                              capture_output=True, text=True, timeout=120)
    assert packaged.returncode == 0, packaged.stderr
    return Cluster(server.helper, server.url, state, server.env, build)


def stop_cluster(state: Path) -> None:
    """Stop the cluster's daemons by their pids (a no-op if none is running)."""
    daemons.stop("cluster.sh", state)
