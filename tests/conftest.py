"""Shared fixtures: one local SparkSession for the whole test run, kept on loopback; the
synthetic customers factory; the servers (Spark Connect, MLflow, PostgreSQL, S3) of the slow
tests."""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.class_archive import java_tool_options
from support.database import (
    JDBC_JAR,
    PASSWORD_ENV,
    Postgres,
    missing_parts,
    start_postgres,
    stop_postgres,
)
from support.s3 import S3Server, start_s3, stop_s3
from support.servers import (
    ConnectServer,
    start_mlflow,
    start_server,
    stop_mlflow,
    stop_server,
)

from segmentation.synthetic.customers import generate_customers

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ["PYSPARK_PYTHON"] = sys.executable
os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
os.environ.setdefault("TZ", "UTC")


def pytest_sessionstart(session: pytest.Session) -> None:
    """Every JVM the tests start (sessions, `segment` processes, servers, executors) gets
    ``JAVA_TOOL_OPTIONS`` unless it is set: C1 only, as the tests' JVMs are short-lived and
    their data small, so C2's slower warm-up never pays off (one run each on 2 cores:
    test_job.py 75 -> 66 s, test_kill.py 120 -> 97 s); and the environment's class archive
    (support/class_archive.py; test_kill.py 126-141 -> 78-84 s). Neither changes an
    answer: Java's arithmetic is the same in either compiler, classes are the same classes.
    Each JVM prints one "Picked up JAVA_TOOL_OPTIONS" line on stderr."""
    if "JAVA_TOOL_OPTIONS" not in os.environ and not session.config.option.collectonly:
        os.environ["JAVA_TOOL_OPTIONS"] = java_tool_options()


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:  # noqa: F821 - imported lazily below
    """A local[2] session: few shuffle partitions, no UI, UTC, all traffic on 127.0.0.1."""
    from pyspark.sql import SparkSession

    from segmentation.core.session import CONF_DIR

    session = (
        SparkSession.builder.master("local[2]")
        .appName("segmentation-tests")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.default.parallelism", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config(
            "spark.driver.extraJavaOptions",
            f"-Dlog4j2.configurationFile={(CONF_DIR / 'log4j2.properties').as_uri()}",
        )
    )
    if JDBC_JAR.is_file():  # the PostgreSQL driver, for the database tests
        session = session.config("spark.jars", str(JDBC_JAR))
    session = session.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def make_customers(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """The factory of synthetic customer tables: ``make_customers(rows, seed=S, **options)``
    writes :func:`~segmentation.synthetic.customers.generate_customers`'s Parquet files
    (``options``: its other keywords, such as ``missing_rate``) to a new temporary directory
    and returns it. The same arguments give the same rows, so assertions on them hold."""

    def make(rows: int, *, seed: int, **options: float) -> Path:
        path = tmp_path_factory.mktemp("customers") / "customers"
        generate_customers(rows, path, seed=seed, **options)
        return path

    return make


@pytest.fixture(scope="session")
def connect_server(tmp_path_factory: pytest.TempPathFactory,
                   request: pytest.FixtureRequest) -> ConnectServer:
    """A Spark Connect server (local[2]) for the whole test session; stopped at the end."""
    base = tmp_path_factory.mktemp("connect")
    # Registered before starting: a start that fails half-way is cleaned up too.
    request.addfinalizer(lambda: stop_server(base / "state"))
    return start_server(base / "state", base / "build", "--master", "local[2]",
                        "--driver-memory", "3g")


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory,
                  request: pytest.FixtureRequest) -> str:
    """A real ``mlflow server`` on loopback for the whole test session (its URL); stopped
    at the end by its pid."""
    state = tmp_path_factory.mktemp("mlflow") / "state"
    request.addfinalizer(lambda: stop_mlflow(state))  # a failed start is cleaned up too
    return start_mlflow(state)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory,
              request: pytest.FixtureRequest) -> S3Server:
    """An S3-compatible server (moto, scripts/s3.sh) on loopback for the whole test session,
    with a test user's random keys (checked, except for Spark 3.5's hadoop-aws: see
    scripts/s3.sh); stopped at the end by its pid. Skipped only where moto is not installed
    (it is part of the dev extra)."""
    from segmentation.core.connectors import running_line

    if importlib.util.find_spec("moto") is None:
        pytest.skip("s3 tests need moto[server]: pip install -e \".[dev]\"")
    state = tmp_path_factory.mktemp("s3") / "state"
    request.addfinalizer(lambda: stop_s3(state))  # a failed start is cleaned up too
    return start_s3(state, checks_keys=running_line() != "3.5")


@pytest.fixture(scope="session")
def postgres(request: pytest.FixtureRequest) -> Iterator[Postgres]:
    """A throwaway PostgreSQL on loopback for the whole test session; always stopped.

    Its password is in the environment variable the tests' configs name.
    """
    reason = missing_parts()
    if reason:
        pytest.skip(f"database tests need PostgreSQL here: {reason}")
    state = Path(tempfile.mkdtemp(prefix="segment-postgres-"))
    request.addfinalizer(lambda: stop_postgres(state))  # a failed start is cleaned up too
    server = start_postgres(state)
    previous = os.environ.get(PASSWORD_ENV)
    os.environ[PASSWORD_ENV] = server.password
    yield server
    if previous is None:
        os.environ.pop(PASSWORD_ENV, None)
    else:
        os.environ[PASSWORD_ENV] = previous
