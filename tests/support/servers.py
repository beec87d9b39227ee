"""Real servers the tests start from what the project's set-up installs, on loopback.

A Spark Connect server is started with scripts/connect.sh from the installed pyspark (once
per test session, by the ``connect_server`` fixture of tests/conftest.py) and stopped by its
pid at the end.

Its Python workers run a Python environment that has the dependencies but not this
project (scripts/package.sh's python-env), so the jobs' code reaches them only as the
artifact the client uploads. Creating a Connect session switches PySpark's ML wrappers to
remote mode for the whole process, so everything that talks to the server runs in a
subprocess (the CLI, or a short script), never in the classic test session.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"


@dataclass(frozen=True)
class ConnectServer:
    url: str
    state: Path
    build: Path
    env: dict[str, str]

    @property
    def python_env(self) -> Path:
        """The interpreter of the server's Python workers."""
        return self.build / "python-env" / "bin" / "python"


def start_server(state: Path, build: Path, *args: str) -> ConnectServer:
    env = {**os.environ, "SEGMENT_CONNECT_DIR": str(state), "SEGMENT_BUILD_DIR": str(build),
           "SEGMENT_PYTHON": sys.executable, "SPARK_LOCAL_IP": "127.0.0.1"}
    env.pop("SPARK_REMOTE", None)
    started = subprocess.run([str(SCRIPTS / "connect.sh"), "start", *args], env=env,
                             capture_output=True, text=True, timeout=300)
    assert started.returncode == 0, f"connect.sh start failed:\n{started.stderr}"
    url = started.stdout.strip().splitlines()[-1]
    assert url.startswith("sc://127.0.0.1:"), started.stdout
    return ConnectServer(url, state, build, env)


def stop_server(state: Path) -> None:
    subprocess.run([str(SCRIPTS / "connect.sh"), "stop"], timeout=120, capture_output=True,
                   env={**os.environ, "SEGMENT_CONNECT_DIR": str(state),
                        "SEGMENT_PYTHON": sys.executable})


def start_mlflow(state: Path) -> str:
    """A real ``mlflow server`` (scripts/mlflow.sh: sqlite store, artifacts in ``state``);
    returns its ``http://127.0.0.1:PORT``."""
    env = {**os.environ, "SEGMENT_MLFLOW_DIR": str(state), "SEGMENT_PYTHON": sys.executable}
    started = subprocess.run([str(SCRIPTS / "mlflow.sh"), "start"], env=env,
                             capture_output=True, text=True, timeout=180)
    assert started.returncode == 0, f"mlflow.sh start failed:\n{started.stderr}"
    url = started.stdout.strip().splitlines()[-1]
    assert url.startswith("http://127.0.0.1:"), started.stdout
    return url


def stop_mlflow(state: Path) -> None:
    subprocess.run([str(SCRIPTS / "mlflow.sh"), "stop"], timeout=60, capture_output=True,
                   env={**os.environ, "SEGMENT_MLFLOW_DIR": str(state),
                        "SEGMENT_PYTHON": sys.executable})
