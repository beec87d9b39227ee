"""Start and stop the project's loopback servers from Python, through their shell helpers.

``scripts/connect.sh``, ``mlflow.sh``, ``postgres.sh``, ``s3.sh`` and ``cluster.sh`` (see
``daemons.sh``) print the server's URL last on ``start`` and end what ``start`` started on
``stop``; each keeps its state in the folder its ``SEGMENT_*_DIR`` variable names. The
benchmark's Connect server and the tests' servers all come from here, so how a helper is
called is written once.

Importable as ``daemons`` with ``scripts/`` on ``sys.path`` (the benchmark's entry folder;
pytest's ``pythonpath``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
#: Each helper's state-folder variable and the pid file(s) of its server in that folder.
HELPERS = {"connect.sh": ("SEGMENT_CONNECT_DIR", "pids/*.pid"),
           "mlflow.sh": ("SEGMENT_MLFLOW_DIR", "pid"),
           "postgres.sh": ("SEGMENT_POSTGRES_DIR", "data/postmaster.pid"),
           "cluster.sh": ("SEGMENT_CLUSTER_DIR", "master.pid"),
           "s3.sh": ("SEGMENT_S3_DIR", "pid")}


class ServerError(RuntimeError):
    """A helper's ``start`` failed; the message ends with its stderr."""


@dataclass(frozen=True)
class Server:
    """A server a helper started: its URL, state folder and the helper's environment."""

    helper: str
    url: str
    state: Path
    env: dict[str, str]

    @property
    def pid(self) -> int:
        """The server's pid, from the pid file the helper keeps in its state folder."""
        pid_file = next(self.state.glob(HELPERS[self.helper][1]))
        return int(pid_file.read_text().split()[0])


def helper_env(helper: str, state: Path, **extra: str) -> dict[str, str]:
    """This process's environment with the helper's state folder, this interpreter as its
    Python and ``extra``; never a Spark Connect URL that would redirect its Spark."""
    env = {**os.environ, HELPERS[helper][0]: str(state), "SEGMENT_PYTHON": sys.executable,
           **extra}
    env.pop("SPARK_REMOTE", None)
    return env


def start(helper: str, state: Path, *args: str, timeout: float = 300,
          **extra: str) -> Server:
    """``scripts/HELPER start ARGS`` with its state in ``state``; raises ServerError."""
    env = helper_env(helper, state, **extra)
    done = subprocess.run([str(SCRIPTS / helper), "start", *args], env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise ServerError(f"{helper} start failed:\n{done.stderr[-3000:]}")
    return Server(helper, done.stdout.strip().splitlines()[-1], state, env)


def stop(helper: str, state: Path, timeout: float = 120) -> None:
    """``scripts/HELPER stop``: ends the server started from ``state``, if any."""
    subprocess.run([str(SCRIPTS / helper), "stop"], env=helper_env(helper, state),
                   capture_output=True, timeout=timeout, check=False)
