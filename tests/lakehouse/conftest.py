"""Fixtures of the lakehouse tests: a local session with the Delta Lake and Apache Iceberg
connectors of this Spark line (fetched by ``scripts/setup.sh dev``) and an Iceberg catalog
``lake`` of type ``hadoop`` in a temporary warehouse.

They run where this line has both connectors (``segmentation.core.connectors``; CI runs
them in ``scripts/matrix.sh`` on such a line) and are skipped, saying why, elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from support.servers import ConnectServer, start_server, stop_server

from segmentation.core.connectors import CONNECTORS, running_line
from segmentation.core.sparkversion import CONNECT_SINCE, spark_line

LINE = running_line()
#: Why this line cannot run the lakehouse tests (None: it can).
MISSING = next((f"{c.title} has no release for Spark {LINE}" for c in
                (CONNECTORS["delta"], CONNECTORS["iceberg"]) if LINE not in c.releases), None)


def iceberg_catalog(warehouse: Path, name: str = "lake") -> dict[str, str]:
    """Spark settings of an Iceberg catalog ``name`` of type ``hadoop`` at ``warehouse``."""
    prefix = f"spark.sql.catalog.{name}"
    return {prefix: "org.apache.iceberg.spark.SparkCatalog", f"{prefix}.type": "hadoop",
            f"{prefix}.warehouse": warehouse.as_uri()}


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Iceberg catalog ``lake``'s warehouse directory."""
    return tmp_path_factory.mktemp("warehouse")


@pytest.fixture(scope="session")
def lake_spark(warehouse: Path) -> Iterator[SparkSession]:
    """A local[2] session with Delta Lake (in the session catalog) and the Iceberg catalog
    ``lake``; skipped on a line without both connectors."""
    if MISSING:
        pytest.skip(f"lakehouse tests: {MISSING} (CI runs them on a line that has both)")
    from segmentation.core.session import build_session

    settings = {"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "4",
                **iceberg_catalog(warehouse)}
    session = build_session(app_name="lakehouse-tests", master="local[2]", settings=settings,
                            connectors=("delta", "iceberg"))
    yield session
    session.stop()


@pytest.fixture(scope="session")
def delta_server(lake_spark: SparkSession, tmp_path_factory: pytest.TempPathFactory,
                 request: pytest.FixtureRequest) -> ConnectServer:
    """A Spark Connect server of this line started with the Delta Lake connector only
    (``scripts/connect.sh start --connectors delta``), for the whole session; stopped by pid."""
    if spark_line(LINE) < CONNECT_SINCE:
        pytest.skip(f"Spark Connect needs Spark 4.0 or newer (this line is {LINE})")
    base = tmp_path_factory.mktemp("connect-delta")
    request.addfinalizer(lambda: stop_server(base / "state"))  # a failed start too
    return start_server(base / "state", base / "build", "--master", "local[2]",
                        "--driver-memory", "2g", "--connectors", "delta")
