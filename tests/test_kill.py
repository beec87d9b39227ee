"""A job killed with SIGKILL at any moment leaves either the previous outputs byte for byte
as they were or, once it has committed, its own complete run; never a mix. The next run
cleans up after it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from support.files import tree_digest

from segmentation.outputs.layout import RUN_FILES
from segmentation.synthetic.customers import NUMERIC_COLUMNS

#: Kill the job this many seconds after its log shows this line (one run per point):
#: during preparation (no staging directory yet), during the evaluation (staging made,
#: nothing written), while labels/model/profiles are being written, and as the last stage
#: ends, within milliseconds of the manifest and the swap (the kill may land before or
#: after the commit: either is a whole run).
KILL_POINTS = [("read_and_validate:", 0.0), ("evaluate:", 1.5),
               ("writing labels", 0.0), ("write_outputs:", 0.0)]
#: A Connect client differs from a local run only in who writes what: the server writes
#: the staging directory, the client commits it. The points around those writes.
CONNECT_KILL_POINTS = KILL_POINTS[2:]
#: Points at which the run cannot have committed yet.
BEFORE_COMMIT = {"read_and_validate:", "sweep:", "evaluate:", "writing labels"}


@pytest.fixture(scope="module")
def setup(make_customers, tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("kill")
    cfg = {
        "input": {"path": str(make_customers(3000, seed=3)), "partitions": 2},
        "features": {"numeric": NUMERIC_COLUMNS[:4]},
        "model": {"k_min": 2, "k_max": 4, "restarts": 2},
        "evaluation": {"sample_size": 500},
        "output": {"path": str(base / "out"), "mode": "overwrite", "pca_sample_size": 200},
    }
    path = base / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert _segment(path, ["--master", "local[2]"]).wait(timeout=600) == 0  # must survive
    return base, path


def _segment(config: Path, spark: list[str]) -> subprocess.Popen:
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"}
    return subprocess.Popen(
        [sys.executable, "-m", "segmentation.cli", "run", "--config", str(config), *spark],
        stderr=subprocess.PIPE, text=True, env=env, start_new_session=True,
    )


def kill_at(setup: tuple[Path, Path], point: str, delay: float, spark: list[str]) -> None:
    base, config = setup
    out = base / "out"
    before = tree_digest(out)
    previous_start = json.loads((out / "manifest.json").read_text())["started_at"]
    job = _segment(config, spark)
    deadline = time.monotonic() + 600
    assert job.stderr is not None
    for line in job.stderr:
        if point in line or time.monotonic() > deadline:
            break
    else:
        pytest.fail(f"the job ended before logging {point!r}")
    time.sleep(delay)
    os.killpg(job.pid, signal.SIGKILL)
    job.wait(timeout=60)
    assert (out / "_SUCCESS").exists()
    if point in BEFORE_COMMIT or tree_digest(out) == before:
        assert tree_digest(out) == before
        return
    # Killed after the commit: the new run is there whole, not a mix of the two.
    assert all((out / name).exists() for name in RUN_FILES)
    assert json.loads((out / "manifest.json").read_text())["started_at"] > previous_start


@pytest.mark.slow
@pytest.mark.parametrize(("point", "delay"), KILL_POINTS)
def test_sigkill_leaves_previous_outputs(setup, point, delay):
    kill_at(setup, point, delay, ["--master", "local[2]"])


@pytest.mark.connect
@pytest.mark.parametrize(("point", "delay"), CONNECT_KILL_POINTS)
def test_sigkill_of_a_connect_client_leaves_previous_outputs(setup, connect_server, point,
                                                             delay):
    """The client commits a Connect run (the server only writes into its staging
    directory): a killed client leaves the previous outputs as they were."""
    kill_at(setup, point, delay, ["--remote", connect_server.url])


@pytest.mark.slow
def test_an_interrupt_is_exit_130_and_leaves_previous_outputs(setup):
    """Ctrl-C (SIGINT to the job's process group) during the evaluation: Spark's jobs are
    cancelled, the error is one line, the exit code 130, the previous outputs stay as they
    were and nothing but the current run is left beside them (no lock, staging directory,
    link or unlinked run: the earlier kills' ones included, which the interrupted run took
    over and cleaned up)."""
    base, config = setup
    out = base / "out"
    before, entries = tree_digest(out), sorted(p.name for p in base.iterdir())
    job = _segment(config, ["--master", "local[2]"])
    assert job.stderr is not None
    for line in job.stderr:
        if "evaluate:" in line:
            break
    else:
        pytest.fail("the job ended before its evaluation")
    time.sleep(1.5)
    os.killpg(job.pid, signal.SIGINT)
    rest = job.stderr.read()
    assert job.wait(timeout=120) == 130, rest[-3000:]
    errors = [line for line in rest.splitlines() if line.startswith("error:")]
    assert errors == ["error: interrupted"], rest[-3000:]
    assert tree_digest(out) == before
    current = os.path.basename(os.path.realpath(out))
    leftovers = tuple(f".out.{kind}" for kind in ("lock", "staging-", "link-", "run-", "previous-"))
    assert sorted(p.name for p in base.iterdir()) == [
        name for name in entries if name == current or not name.startswith(leftovers)]
