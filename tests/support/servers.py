"""Real servers the tests start from what the project's set-up installs, on loopback.

Each starts and stops through scripts/daemons.py (as the benchmark's server does). A Spark
Connect server is started with scripts/connect.sh from the installed pyspark (once per
test session, by the ``connect_server`` fixture of tests/conftest.py) and stopped by its
pid at the end.

Its Python workers run a Python environment that has the dependencies but not this
project (scripts/package.sh's python-env), so the jobs' code reaches them only as the
artifact the client uploads. Creating a Connect session switches PySpark's ML wrappers to
remote mode for the whole process, so everything that talks to the server runs in a
subprocess (the CLI, or a short script), never in the classic test session.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import daemons


@dataclass(frozen=True)
class ConnectServer(daemons.Server):
    """The tests' Connect server and the build (zip, python-env) its workers run."""

    build: Path

    @property
    def python_env(self) -> Path:
        """The interpreter of the server's Python workers."""
        return self.build / "python-env" / "bin" / "python"


def start_server(state: Path, build: Path, *args: str) -> ConnectServer:
    server = daemons.start("connect.sh", state, *args, SEGMENT_BUILD_DIR=str(build),
                           SPARK_LOCAL_IP="127.0.0.1")
    assert server.url.startswith("sc://127.0.0.1:"), server.url
    return ConnectServer(server.helper, server.url, state, server.env, build)


def stop_server(state: Path) -> None:
    daemons.stop("connect.sh", state)


def start_mlflow(state: Path) -> str:
    """A real ``mlflow server`` (scripts/mlflow.sh: sqlite store, artifacts in ``state``);
    returns its ``http://127.0.0.1:PORT``."""
    url = daemons.start("mlflow.sh", state, timeout=180).url
    assert url.startswith("http://127.0.0.1:"), url
    return url


def stop_mlflow(state: Path) -> None:
    daemons.stop("mlflow.sh", state, timeout=60)
