"""Both jobs on a real 2-worker Spark standalone cluster (scripts/cluster.sh + scripts/submit.sh).

Checks: executors import ``segmentation`` from the shipped zip with the pinned Python;
labels and features equal those of a local-mode run of the same config, also through a
Spark Connect server whose executors run on the cluster; a worker killed mid-sweep and a
driver killed mid-run. One cluster for the whole file; tests run in file order, and the
worker-kill test comes last because it leaves the cluster with one worker.

    pytest -m cluster tests/cluster
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pandas as pd
import pytest
from daemons import SCRIPTS
from support.cli import ROOT, SEGMENT, segment
from support.cluster import Cluster
from support.cluster_runs import (
    RUN_TIMEOUT,
    assert_same_labels,
    finish,
    segment_args,
)
from support.servers import ConnectServer, start_server, stop_server

pytestmark = pytest.mark.cluster

# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working directory outside the repository: every job runs with this cwd."""
    return tmp_path_factory.mktemp("work")


@pytest.fixture(scope="module")
def customers(make_customers) -> Path:
    return make_customers(3000, seed=7)


@pytest.fixture(scope="module")
def local_run(work: Path, customers: Path) -> Path:
    """The reference: the same config run in local mode (local[2]) with the `segment` CLI."""
    out = work / "run-local"
    done = subprocess.run(
        [SEGMENT, "run", "--master", "local[2]", "--config", str(ROOT / "conf/default.yaml"),
         *segment_args(customers, out)],
        cwd=work, capture_output=True, text=True, timeout=RUN_TIMEOUT,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return out


@pytest.fixture(scope="module")
def cluster_run(cluster: Cluster, work: Path, customers: Path) -> Path:
    """An undisturbed cluster run of the reference config."""
    out = work / "run-cluster"
    proc, log = submit(cluster, "jobs/segment.py", segment_args(customers, out), work, "run")
    finish(proc, log)
    return out


@pytest.fixture
def server_on_cluster(cluster: Cluster, tmp_path: Path) -> Iterator[ConnectServer]:
    """A Spark Connect server whose executors run on the cluster's workers; stopped (and its
    application ended) after its test, since it holds every core of the cluster."""
    try:
        yield start_server(tmp_path / "state", cluster.build, "--master", cluster.url,
                           "--driver-memory", "1g")
    finally:
        stop_server(tmp_path / "state")
        wait_until_no_active_app(cluster)


# --------------------------------------------------------------------------- helpers


def submit(cluster: Cluster, job: str, args: Sequence[str], cwd: Path,
           name: str) -> tuple[subprocess.Popen[bytes], Path]:
    """Start scripts/submit.sh in its own process group; driver output goes to a log file."""
    log = cwd / f"{name}.log"
    cmd = [str(SCRIPTS / "submit.sh"), "--no-package", "--conf", "spark.ui.enabled=false",
           job, *(["--config", str(ROOT / "conf/default.yaml")]
                  if job.endswith("segment.py") else []), *args]
    with open(log, "wb") as sink:
        proc = subprocess.Popen(cmd, cwd=cwd, env=cluster.env, stdout=sink,
                                stderr=subprocess.STDOUT, start_new_session=True)
    return proc, log


def wait_for(proc: subprocess.Popen[bytes], log: Path, ready: Callable[[], bool], what: str,
             timeout: float = RUN_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if proc.poll() is not None:
            pytest.fail(f"job ended (exit {proc.returncode}) before {what}:\n"
                        f"{log.read_text()[-4000:]}")
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the job must not outlive its test
    proc.wait()
    pytest.fail(f"no {what} after {timeout}s:\n{log.read_text()[-4000:]}")


def wait_for_line(proc: subprocess.Popen[bytes], log: Path, needle: str) -> None:
    wait_for(proc, log, lambda: needle in log.read_text(errors="replace"),
             f"{needle!r} in the driver log")


def tree_digest(path: Path) -> dict[str, str]:
    return {
        str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.rglob("*")) if p.is_file()
    }


def master_status(cluster: Cluster) -> dict:
    webui = (cluster.state / "webui-port").read_text().strip()
    with urllib.request.urlopen(f"http://127.0.0.1:{webui}/json/", timeout=5) as response:
        return json.load(response)


def wait_until_no_active_app(cluster: Cluster, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not master_status(cluster).get("activeapps"):
            return
        time.sleep(0.5)
    pytest.fail("the killed driver's application is still active on the master")


# --------------------------------------------------------------------------- tests


def test_cluster_is_up_on_loopback(cluster: Cluster) -> None:
    status = master_status(cluster)
    alive = [w for w in status["workers"] if w["state"] == "ALIVE"]
    assert len(alive) == 2
    assert all(w["host"] == "127.0.0.1" for w in alive)
    assert status["url"] == cluster.url


def test_executors_import_segmentation_from_the_shipped_zip(cluster: Cluster,
                                                            work: Path) -> None:
    python_env = cluster.build / "python-env" / "bin" / "python"
    # Negative control: the pinned Python cannot import the project on its own (without
    # the PYTHONPATH this test may run under).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    bare = subprocess.run([str(python_env), "-c", "import segmentation"], cwd=work, env=env,
                          capture_output=True, text=True, timeout=60)
    assert bare.returncode != 0 and "No module named 'segmentation'" in bare.stderr
    probe = work / "probe.py"
    probe.write_text(PROBE)
    proc, log = submit(cluster, str(probe), [], work, "probe")
    text = finish(proc, log, timeout=300)
    found = json.loads(next(line for line in text.splitlines()
                            if line.startswith("PROBE "))[len("PROBE "):])
    # The driver imports the zip from its SparkFiles copy, executors from their work dir's.
    assert "/segmentation.zip/segmentation/" in found["driver"], found["driver"]
    assert not found["driver"].startswith(str(ROOT))
    assert found["driver_python"] == str(python_env)
    for module_file, cwd, executable in found["executors"]:
        path = os.path.normpath(os.path.join(cwd, module_file))
        assert path.startswith(os.path.join(cwd, "segmentation.zip", "segmentation", "")), path
        assert cwd.startswith(str(cluster.state / "workdirs")), cwd  # an executor's work dir
        assert executable == str(python_env)


PROBE = """
import json, os, sys
from pyspark.sql import SparkSession

def where(_):
    import numpy, pandas, pyarrow  # the dependencies the mapInArrow code needs
    import segmentation.model.metrics
    yield (segmentation.model.metrics.__file__, os.getcwd(), sys.executable)

spark = SparkSession.builder.appName("probe").getOrCreate()
rows = spark.sparkContext.parallelize(range(8), 8).mapPartitions(where).collect()
import segmentation
print("PROBE " + json.dumps({"driver": segmentation.__file__, "driver_python": sys.executable,
                             "executors": sorted(set(map(tuple, rows)))}))
spark.stop()
"""


def test_segment_job_on_cluster_gives_the_local_labels(cluster_run: Path,
                                                       local_run: Path) -> None:
    assert (cluster_run / "_SUCCESS").exists()
    assert_same_labels(cluster_run, local_run)


def test_features_job_on_cluster_matches_local(cluster: Cluster, work: Path) -> None:
    transactions = work / "transactions"
    done = subprocess.run([SEGMENT, "generate-transactions", "--customers", "500",
                           "--output", str(transactions), "--seed", "3"],
                          cwd=work, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    config = str(ROOT / "conf/features-demo.yaml")

    def args(out: Path) -> list[str]:
        return ["--config", config, "--set", f"transactions.path={transactions}",
                "--set", f"output.path={out}", "--set", "spark.spark.sql.shuffle.partitions=4",
                "--set", "spark.spark.ui.enabled=false"]

    local = subprocess.run([SEGMENT, "features", "--master", "local[2]", *args(work / "f-local")],
                           cwd=work, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert local.returncode == 0, local.stderr[-4000:]
    proc, log = submit(cluster, "jobs/build_features.py", args(work / "f-cluster"), work,
                       "features")
    finish(proc, log)
    got = pd.read_parquet(work / "f-cluster" / "features")
    want = pd.read_parquet(work / "f-local" / "features")
    key = got.columns[0]
    assert list(got.columns) == list(want.columns)
    got = got.sort_values(key).reset_index(drop=True)
    want = want.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12, atol=1e-12)


def test_driver_killed_mid_run_leaves_previous_outputs(cluster: Cluster, work: Path,
                                                       customers: Path,
                                                       local_run: Path) -> None:
    parent = work / "killed"
    parent.mkdir()
    target = parent / "run"
    shutil.copytree(local_run, target)  # "the previous run's outputs"
    before = tree_digest(target)
    proc, log = submit(cluster, "jobs/segment.py", segment_args(customers, target), work,
                       "driver-kill")
    # Mid-run: the run has opened its staging directory and is preparing / sweeping.
    wait_for(proc, log, lambda: any(p.name.startswith(".run.staging-")
                                    for p in parent.iterdir()), "a staging directory")
    time.sleep(5)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)  # spark-submit, its JVM and the Python driver
    proc.wait(timeout=60)
    wait_until_no_active_app(cluster)
    assert tree_digest(target) == before
    visible = sorted(p.name for p in parent.iterdir() if not p.name.startswith((".", "_")))
    assert visible == ["run"]
    for name in os.listdir(parent):  # a killed run's leftovers are hidden and unfinished
        if name.startswith(".run.staging-"):
            assert not (parent / name / "_SUCCESS").exists()


@pytest.mark.connect
def test_connect_server_on_the_cluster_gives_the_local_labels(
        server_on_cluster: ConnectServer, work: Path, customers: Path, local_run: Path) -> None:
    out = work / "run-connect-cluster"
    done = segment(["run", "--remote", server_on_cluster.url, "--config",
                    str(ROOT / "conf/default.yaml"), *segment_args(customers, out)], cwd=work)
    assert done.returncode == 0, done.stderr[-4000:]
    assert_same_labels(out, local_run)


def test_worker_killed_mid_sweep_gives_the_same_labels(cluster: Cluster, work: Path,
                                                       customers: Path,
                                                       local_run: Path) -> None:
    out = work / "run-worker-killed"
    proc, log = submit(cluster, "jobs/segment.py", segment_args(customers, out), work,
                       "worker-kill")
    # The sweep starts right after the prepare_features stage; its progress lines have
    # changed format more than once, so the stage timer's line is the trigger.
    wait_for_line(proc, log, "prepare_features:")
    victim = cluster.worker_pid(1)
    os.kill(victim, signal.SIGKILL)
    killed_at = log.read_text()
    assert "chosen k=" not in killed_at and proc.poll() is None, "killed too late"
    text = finish(proc, log)
    assert "Lost executor" in text or "ExecutorLost" in text or "worker lost" in text.lower(), \
        "the driver never noticed the lost executor"
    alive = [w for w in master_status(cluster)["workers"] if w["state"] == "ALIVE"]
    assert len(alive) == 1
    assert_same_labels(out, local_run)
