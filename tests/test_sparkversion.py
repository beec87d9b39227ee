"""The version checks of segmentation.core.sparkversion, without Spark: a standalone master's
page (the header of Spark 3.5's and 4.3's master UI, served on loopback), Spark Connect on
an old client, and a model saved by a newer line. The real masters, clients and models of
every line are in tests/matrix (scripts/matrix.sh)."""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from segmentation.core.errors import ConfigError, InputDataError, SparkUnavailableError
from segmentation.core.fs import LocalFS
from segmentation.core.sparkversion import (
    check_master,
    check_model_line,
    master_version,
    require_connect_client,
    spark_line,
)

# The lines around the version in the master pages of Spark 3.5.9 and 4.3.0 (seen here).
PAGES = {
    "3.5.9": '<span class="version" style="margin-right: 15px;">3.5.9</span>\n'
             "                </a>\n                Spark Master at spark://127.0.0.1:7077",
    "4.3.0": '<span class="version me-3">4.3.0</span>\n                </a>\n'
             "                Spark Master at spark://127.0.0.1:7077",
}


@contextmanager
def serve(page: str) -> Iterator[int]:
    """A web server on loopback whose every page holds ``page``; yields its port."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            body = f"<html><body><h3>{page}</h3></body></html>".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(params=sorted(PAGES))
def master_ui(request: pytest.FixtureRequest) -> Iterator[tuple[str, int]]:
    """A fake master web UI: (its version, its port)."""
    with serve(PAGES[request.param]) as port:
        yield request.param, port


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_lines() -> None:
    assert spark_line("3.5.9") == (3, 5) < spark_line("4.0.5") < spark_line("4.10.0-rc1")


def test_the_master_page_tells_its_version(master_ui: tuple[str, int]) -> None:
    version, port = master_ui
    assert master_version("spark://127.0.0.1:7077", port) == version


def test_a_master_of_another_line_is_refused_naming_both(master_ui: tuple[str, int]) -> None:
    version, port = master_ui
    other = "4.2.1" if version.startswith("3") else "3.5.9"
    with pytest.raises(ConfigError) as refused:
        check_master("spark://127.0.0.1:7077", port, client=other)
    message = str(refused.value)
    assert f"runs Spark {version}" in message and f"client's pyspark is {other}" in message
    wanted = ".".join(version.split(".")[:2])
    assert f"scripts/setup.sh --spark {wanted}" in message and "\n" not in message
    check_master("spark://127.0.0.1:7077", port, client=version[:4] + "99")  # same line


def test_a_master_that_cannot_tell_is_not_checked() -> None:
    assert master_version("spark://127.0.0.1:7077", closed_port()) is None
    assert master_version("spark://a:7077,b:7077", 8080) is None  # several masters
    with serve("no version here") as port:
        assert master_version("spark://127.0.0.1:7077", port) is None
    with serve(PAGES["3.5.9"]) as port:  # the page of another master on that host
        assert master_version("spark://127.0.0.1:7078", port) is None
    check_master("local[2]", "not even a port")
    with pytest.raises(ConfigError, match="spark.master.ui.port must be a port number"):
        check_master("spark://127.0.0.1:7077", "eighty")


def test_a_master_that_does_not_answer_at_all_is_refused_in_seconds() -> None:
    """No page and nothing at the master's port: one line naming the address, exit 6 (a
    service), instead of Spark's minute of retries; of several masters one answering is
    enough."""
    down, ui = closed_port(), closed_port()
    with pytest.raises(SparkUnavailableError, match=rf"cannot reach the standalone master "
                       rf"spark://127.0.0.1:{down}: 127.0.0.1:{down} \(connection refused\)"
                       ) as refused:
        check_master(f"spark://127.0.0.1:{down}", ui)
    assert refused.value.exit_code == 6
    with socket.create_server(("127.0.0.1", 0)) as listening:
        alive = listening.getsockname()[1]
        check_master(f"spark://127.0.0.1:{down},127.0.0.1:{alive}", ui)
    with pytest.raises(ConfigError, match="is not HOST:PORT"):
        check_master("spark://127.0.0.1:port", ui)


def test_connect_needs_4_0() -> None:
    with pytest.raises(ConfigError, match=r"needs pyspark 4\.0 or newer.* has pyspark 3\.5\.9"):
        require_connect_client("3.5.9")
    require_connect_client("4.0.5")


def saved_model(path: Path, version: str) -> Path:
    (path / "metadata").mkdir(parents=True)
    meta = {"class": "pyspark.ml.pipeline.PipelineModel", "sparkVersion": version}
    (path / "metadata" / "part-00000").write_text(json.dumps(meta) + "\n")
    return path


def test_a_model_of_a_newer_line_is_refused(tmp_path: Path) -> None:
    model = saved_model(tmp_path / "model", "4.3.0")
    with pytest.raises(InputDataError) as refused:
        check_model_line(LocalFS(), str(model), key="runs/x", client="3.5.9")
    assert str(refused.value).startswith("runs/x: its model was saved by Spark 4.3.0, a newer "
                                         "line than this client's pyspark 3.5.9")
    check_model_line(LocalFS(), str(model), key="runs/x", client="4.3.1")
    old = saved_model(tmp_path / "old", "3.5.9")
    check_model_line(LocalFS(), str(old), key="runs/x", client="4.3.0")
    check_model_line(LocalFS(), str(tmp_path / "none"), key="runs/x", client="3.5.9")
