"""A real Spark standalone cluster on loopback, started and stopped with scripts/cluster.sh.

The ``cluster`` fixture of tests/cluster/conftest.py starts one per test module; the submit
build (the segmentation zip and the executor Python of scripts/package.sh) is made once
with it, so the tests submit with ``--no-package``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from support.cli import ROOT

SCRIPTS = ROOT / "scripts"


@dataclass(frozen=True)
class Cluster:
    """A running standalone cluster and the environment the scripts need to reach it."""

    url: str
    state: Path
    build: Path
    env: dict[str, str]

    def worker_pid(self, n: int) -> int:
        return int((self.state / f"worker-{n}.pid").read_text())

    def status(self) -> str:
        done = subprocess.run([str(SCRIPTS / "cluster.sh"), "status"], env=self.env,
                              capture_output=True, text=True, timeout=30)
        return done.stdout + done.stderr


def script_env(state: Path, build: Path) -> dict[str, str]:
    """The environment of scripts/cluster.sh, package.sh and submit.sh for this cluster."""
    return {
        **os.environ,
        "SEGMENT_CLUSTER_DIR": str(state),
        "SEGMENT_BUILD_DIR": str(build),
        "SEGMENT_PYTHON": sys.executable,
        "SPARK_LOCAL_IP": "127.0.0.1",
    }


def start_cluster(state: Path, build: Path, workers: int) -> Cluster:
    """Start a master and ``workers`` one-core workers, then build the submit package."""
    env = script_env(state, build)
    started = subprocess.run(
        [str(SCRIPTS / "cluster.sh"), "start", "--workers", str(workers), "--cores", "1",
         "--memory", "1g"],
        env=env, capture_output=True, text=True, timeout=240,
    )
    assert started.returncode == 0, f"cluster.sh start failed:\n{started.stderr}"
    url = started.stdout.strip().splitlines()[-1]
    assert url.startswith("spark://127.0.0.1:"), started.stdout
    packaged = subprocess.run([str(SCRIPTS / "package.sh")], env=env, capture_output=True,
                              text=True, timeout=120)
    assert packaged.returncode == 0, packaged.stderr
    return Cluster(url=url, state=state, build=build, env=env)


def stop_cluster(state: Path, build: Path) -> None:
    """Stop the cluster's daemons by their pids (a no-op if none is running)."""
    subprocess.run([str(SCRIPTS / "cluster.sh"), "stop"], env=script_env(state, build),
                   timeout=120, capture_output=True)
