"""A real 2-worker Spark standalone cluster on loopback, started with scripts/cluster.sh.

The cluster (and the submit build: the segmentation zip and the executor Python) lives in
this module's temporary directories; the finalizer stops the cluster whatever happens.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"
WORKERS = 2


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
    return {
        **os.environ,
        "SEGMENT_CLUSTER_DIR": str(state),
        "SEGMENT_BUILD_DIR": str(build),
        "SEGMENT_PYTHON": sys.executable,
        "SPARK_LOCAL_IP": "127.0.0.1",
    }


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory,
            request: pytest.FixtureRequest) -> Iterator[Cluster]:
    base = tmp_path_factory.mktemp("cluster")
    state, build = base / "state", base / "build"
    env = script_env(state, build)

    def stop() -> None:
        subprocess.run([str(SCRIPTS / "cluster.sh"), "stop"], env=env, timeout=120,
                       capture_output=True)

    # Registered before starting: a start that fails half-way is cleaned up too.
    request.addfinalizer(stop)
    started = subprocess.run(
        [str(SCRIPTS / "cluster.sh"), "start", "--workers", str(WORKERS), "--cores", "1",
         "--memory", "1g"],
        env=env, capture_output=True, text=True, timeout=240,
    )
    assert started.returncode == 0, f"cluster.sh start failed:\n{started.stderr}"
    url = started.stdout.strip().splitlines()[-1]
    assert url.startswith("spark://127.0.0.1:"), started.stdout
    # Build the zip and the executor Python once; the tests submit with --no-package.
    packaged = subprocess.run([str(SCRIPTS / "package.sh")], env=env, capture_output=True,
                              text=True, timeout=120)
    assert packaged.returncode == 0, packaged.stderr
    yield Cluster(url=url, state=state, build=build, env=env)
