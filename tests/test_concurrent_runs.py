"""One run per output path, with real `segment run` processes: of two concurrent runs on one
output exactly one succeeds and the other is refused at once naming the holder; a holder
killed with SIGKILL leaves a lock the next run takes over (cleaning the dead run's staging)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from segmentation.synthetic.customers import NUMERIC_COLUMNS

CUSTOMERS = 2000
OUTPUT_ERROR = 4


@pytest.fixture
def config(make_customers, tmp_path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({
        "input": {"path": str(make_customers(CUSTOMERS, seed=4)), "partitions": 2},
        "features": {"numeric": NUMERIC_COLUMNS[:4]},
        "model": {"k_min": 2, "k_max": 4, "restarts": 2},
        "evaluation": {"sample_size": 500},
        "output": {"path": str(tmp_path / "out"), "mode": "overwrite", "pca_sample_size": 100},
    }))
    return path


def start_run(config: Path) -> subprocess.Popen:
    """``segment run`` in its own process group (so that it can be killed with its JVM)."""
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable}
    env.pop("SPARK_REMOTE", None)
    return subprocess.Popen(
        [sys.executable, "-m", "segmentation.cli", "run", "--config", str(config),
         "--master", "local[1]"],
        stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)


def assert_complete_run(out: Path) -> dict:
    manifest = json.loads((out / "manifest.json").read_text())
    assert (out / "_SUCCESS").exists()
    assert pq.read_table(out / "labels").num_rows == CUSTOMERS
    leftovers = [p.name for p in out.parent.iterdir()
                 if p.name.startswith(".out.") and ".run-" not in p.name]
    assert not leftovers, leftovers  # no lock, no staging left behind
    return manifest


@pytest.mark.slow
def test_two_concurrent_runs_one_wins_one_is_refused(config, tmp_path):
    runs = [start_run(config), start_run(config)]
    stderr = [run.communicate(timeout=600)[1] for run in runs]
    codes = sorted(run.returncode for run in runs)
    assert codes == [0, OUTPUT_ERROR], stderr
    winner, loser = (0, 1) if runs[0].returncode == 0 else (1, 0)
    errors = [line for line in stderr[loser].splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr[loser]
    assert f"output.path {tmp_path / 'out'} is being written by another run " in errors[0]
    assert f"on host {socket.gethostname()}, pid {runs[winner].pid}, started at " in errors[0]
    assert "Traceback" not in stderr[loser]
    assert "chosen k=" not in stderr[loser]  # refused before any work
    assert_complete_run(tmp_path / "out")


@pytest.mark.slow
def test_lock_of_a_killed_run_is_taken_over(config, tmp_path):
    victim = start_run(config)
    assert victim.stderr is not None
    for line in victim.stderr:  # the staging directory exists once features are prepared
        if "prepare_features:" in line:
            break
    else:
        pytest.fail("the run ended before preparing features")
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait(timeout=60)
    lock = json.loads((tmp_path / ".out.lock").read_text())
    assert lock["pid"] == victim.pid and lock["host"] == socket.gethostname()
    assert list(tmp_path.glob(".out.staging-*"))

    started = time.monotonic()
    successor = start_run(config)
    _, err = successor.communicate(timeout=600)
    assert successor.returncode == 0, err
    assert f"taking over the lock of run {lock['run_id']}" in err
    assert f"pid {victim.pid} on this host is gone" in err
    assert_complete_run(tmp_path / "out")
    assert time.monotonic() - started < 300  # no waiting for the lease
