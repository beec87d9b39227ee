"""A standalone cluster on other hosts, built on this machine with network namespaces.

Four namespaces: one holds a bridge (``segbr0``), and the master, a worker and the driver
each get one with a single address from 198.18.0.0/24 on a veth to that bridge (and ``lo``
up); no route leads anywhere else, and nothing touches this machine's own interfaces. The
master and the worker run from the pip pyspark (Spark "installed on the node") in an
environment of only ``PATH=/usr/bin:/bin`` and ``SPARK_HOME``: no project virtualenv, no
``PYSPARK_PYTHON``. The driver namespace runs ``scripts/submit.sh --env packed``: the
driver binds to the address Spark chooses there, executors get the packed environment
(``--archives``) and the package zip (``--py-files``).

The namespaces share this machine's file system: the test proves the network and the
environment, not separate disks. The packed environment is built on a Python outside the
project's virtualenv and pyenv (``/usr/bin/python3.X`` when it has the driver's minor
version), as a node would have it. Everything is torn down at the end, also on failure;
without permission to create namespaces the tests skip with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyspark
import pytest
from daemons import SCRIPTS
from support.cli import DEFAULT_CONFIG, segment
from support.cluster_runs import assert_same_labels, finish, segment_args

pytestmark = pytest.mark.cluster

ADDRESS = {"master": "198.18.0.1", "worker": "198.18.0.2", "driver": "198.18.0.3"}
MASTER_PORT = 7077
SPARK_HOME = str(Path(pyspark.__file__).parent)
NODE_PATH = "/usr/bin:/bin"
#: k 2..4 on 3000 customers: small, and the same for the cluster and the local run.
SMALL = ["--set", "model.k_max=4"]
#: What the driver's environment must not carry over from the test run.
NOT_FOR_THE_DRIVER = ("SPARK_LOCAL_IP", "PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON",
                      "SPARK_MASTER_URL", "SPARK_REMOTE")


@dataclass(frozen=True)
class Hosts:
    """The namespaces, the running master and worker, and the build the driver submits."""

    namespace: dict[str, str]
    master_url: str
    worker_dir: Path
    build: Path
    archive: Path
    driver_env: dict[str, str]


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=30)


def node_python() -> str:
    """A Python of the driver's minor version outside the project's venv, as on a node."""
    name = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    return shutil.which(name, path=NODE_PATH) or sys._base_executable


def build_network(prefix: str, created: list[str]) -> dict[str, str]:
    """The bridge namespace and one namespace per host; ``created`` lists them for teardown."""
    bridge = f"{prefix}-net"
    ip("netns", "add", bridge)
    created.append(bridge)
    ip("-n", bridge, "link", "set", "lo", "up")
    ip("-n", bridge, "link", "add", "segbr0", "type", "bridge")
    ip("-n", bridge, "link", "set", "segbr0", "up")
    namespace = {}
    for role, address in ADDRESS.items():
        ns = namespace[role] = f"{prefix}-{role}"
        ip("netns", "add", ns)
        created.append(ns)
        # Both ends are created inside namespaces: the host's interfaces stay as they are.
        ip("-n", bridge, "link", "add", f"veth-{role}", "type", "veth", "peer", "name", "eth0",
           "netns", ns)
        ip("-n", bridge, "link", "set", f"veth-{role}", "master", "segbr0", "up")
        ip("-n", ns, "link", "set", "lo", "up")
        ip("-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
        ip("-n", ns, "link", "set", "eth0", "up")
    return namespace


def start_daemon(ns: str, role: str, args: Sequence[str], logs: Path,
                 procs: list[subprocess.Popen[bytes]]) -> Path:
    """A Spark daemon of the pip pyspark in namespace ``ns``, with only a node's environment."""
    env = {"PATH": NODE_PATH, "HOME": str(logs), "SPARK_HOME": SPARK_HOME,
           "SPARK_LOCAL_IP": ADDRESS[role], "SPARK_DAEMON_MEMORY": "512m",
           "SPARK_MASTER_OPTS": "-Dspark.master.rest.enabled=false"}
    log = logs / f"{role}.log"
    with open(log, "wb") as sink:
        procs.append(subprocess.Popen(
            ["ip", "netns", "exec", ns, "env", "-i", *(f"{k}={v}" for k, v in env.items()),
             f"{SPARK_HOME}/bin/spark-class", *args],
            stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True))
    return log


def wait_for_log(proc: subprocess.Popen[bytes], log: Path, needle: str,
                 timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            break
        time.sleep(0.5)
    pytest.fail(f"no {needle!r} in {log.name} (exit {proc.poll()}):\n"
                f"{log.read_text(errors='replace')[-3000:]}")


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """TERM, then KILL, the process group this test started (a daemon and its children)."""
    for sig, grace in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            proc.poll()  # reap the leader: a zombie would keep its group "alive"
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)
    proc.poll()


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
          ) -> Iterator[Hosts]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("network namespaces need root and iproute2's `ip` (not available here)")
    base = tmp_path_factory.mktemp("hosts")
    prefix = f"segtest-{os.getpid()}"
    created: list[str] = []
    procs: list[subprocess.Popen[bytes]] = []

    def teardown() -> None:
        for proc in reversed(procs):
            stop_group(proc)
        for ns in reversed(created):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)
        left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
        assert prefix not in left.stdout, f"namespaces left behind: {left.stdout}"

    request.addfinalizer(teardown)  # before anything exists: a half-built set-up goes too
    try:
        namespace = build_network(prefix, created)
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"cannot build network namespaces here: {' '.join(exc.cmd)}: "
                    f"{exc.stderr.strip()}")

    # What the submitting machine builds: the zip, its own python-env, the packed env.
    build = base / "build"
    env = {k: v for k, v in os.environ.items() if k not in NOT_FOR_THE_DRIVER}
    env.update(SEGMENT_BUILD_DIR=str(build), SEGMENT_PYTHON=sys.executable,
               SEGMENT_ENV_PYTHON=node_python())
    packaged = subprocess.run([str(SCRIPTS / "package.sh")], env=env, capture_output=True,
                              text=True, timeout=300)
    assert packaged.returncode == 0, packaged.stderr
    started = time.monotonic()
    packed = subprocess.run([sys.executable, str(SCRIPTS / "pack_env.py")], env=env,
                            capture_output=True, text=True, timeout=900)
    assert packed.returncode == 0, packed.stderr
    print(f"packed environment: {packed.stderr.strip()} (wall {time.monotonic() - started:.0f} s)")

    logs, worker_dir = base / "logs", base / "worker"
    logs.mkdir()
    worker_dir.mkdir()
    url = f"spark://{ADDRESS['master']}:{MASTER_PORT}"
    log = start_daemon(namespace["master"], "master",
                       ["org.apache.spark.deploy.master.Master", "--host", ADDRESS["master"],
                        "--port", str(MASTER_PORT), "--webui-port", "8080"], logs, procs)
    wait_for_log(procs[-1], log, f"Starting Spark master at {url}")
    log = start_daemon(namespace["worker"], "worker",
                       ["org.apache.spark.deploy.worker.Worker", url,
                        "--host", ADDRESS["worker"], "--cores", "1", "--memory", "2g",
                        "--work-dir", str(worker_dir)], logs, procs)
    wait_for_log(procs[-1], log, f"Successfully registered with master {url}")
    yield Hosts(namespace=namespace, master_url=url, worker_dir=worker_dir, build=build,
                archive=Path(packed.stdout.strip()), driver_env=env)


def submit(hosts: Hosts, job: str, args: Sequence[str], cwd: Path, name: str) -> str:
    """scripts/submit.sh --env packed, run in the driver's namespace; the driver's output."""
    log = cwd / f"{name}.log"
    with open(log, "wb") as sink:
        proc = subprocess.Popen(
            ["ip", "netns", "exec", hosts.namespace["driver"], str(SCRIPTS / "submit.sh"),
             "--master", hosts.master_url, "--env", "packed", "--no-package",
             "--conf", "spark.ui.enabled=false", job, *args],
            cwd=cwd, env=hosts.driver_env, stdout=sink, stderr=subprocess.STDOUT,
            start_new_session=True)
    return finish(proc, log)


PROBE = """
import json, os, sys
from pyspark.sql import SparkSession

def where(_):
    import numpy, pandas, pyarrow, pyspark  # what the mapInArrow code needs, and Spark's own
    import segmentation.model.metrics
    yield json.dumps({"executable": sys.executable, "cwd": os.getcwd(),
                      "numpy": numpy.__file__, "pyspark": pyspark.__file__,
                      "segmentation": segmentation.model.metrics.__file__,
                      "path": os.environ.get("PATH", "")})

spark = SparkSession.builder.appName("probe").getOrCreate()
rows = spark.sparkContext.parallelize(range(4), 4).mapPartitions(where).collect()
print("PROBE " + json.dumps({"driver_host": spark.conf.get("spark.driver.host"),
                             "executors": sorted(set(rows))}))
spark.stop()
"""


def test_executors_run_the_unpacked_environment(hosts: Hosts, tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    text = submit(hosts, str(probe), [], tmp_path, "probe")
    assert "--archives" in text and f"{hosts.archive}#environment" in text
    found = json.loads(next(line for line in text.splitlines()
                            if line.startswith("PROBE "))[len("PROBE "):])
    assert found["driver_host"] == ADDRESS["driver"]  # Spark's choice, not loopback
    assert found["executors"]
    for row in map(json.loads, found["executors"]):
        cwd = row["cwd"]
        assert cwd.startswith(str(hosts.worker_dir) + os.sep), cwd  # the worker's executor
        environment = os.path.join(cwd, "environment", "")
        assert os.path.normpath(row["executable"]) == os.path.join(environment, "bin",
                                                                   "python"), row
        assert row["numpy"].startswith(environment), row
        assert row["pyspark"].startswith(os.path.join(SPARK_HOME, "python", "lib",
                                                      "pyspark.zip")), row
        assert os.path.normpath(os.path.join(cwd, row["segmentation"])).startswith(
            os.path.join(cwd, "segmentation.zip", "")), row
        assert ".venv" not in row["path"] and "pyenv" not in row["path"], row


def test_segment_job_on_other_hosts_gives_the_local_labels(hosts: Hosts, make_customers,
                                                           tmp_path: Path) -> None:
    customers = make_customers(3000, seed=7)
    local = segment(["run", "--master", "local[2]", "--config", DEFAULT_CONFIG,
                     *segment_args(customers, tmp_path / "run-local"), *SMALL], cwd=tmp_path)
    assert local.returncode == 0, local.stderr[-4000:]
    submit(hosts, "jobs/segment.py",
           ["--config", DEFAULT_CONFIG, *segment_args(customers, tmp_path / "run-hosts"),
            *SMALL], tmp_path, "segment")
    assert (tmp_path / "run-hosts" / "_SUCCESS").exists()
    assert_same_labels(tmp_path / "run-hosts", tmp_path / "run-local")
