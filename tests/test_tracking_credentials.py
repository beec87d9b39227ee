"""A tracking server behind credentials: the reachability check sends what MLflow's own
client sends (a ``https://user:password@host`` URI, or MLflow's variables), and no message
names them.

The server is a small HTTP server on loopback that records the ``Authorization`` header of
every request; MLflow's client, asked to list experiments, is the oracle of what should be
sent for each form of credentials.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

import pytest

from segmentation.core.errors import ServiceError
from segmentation.tracking import reach

mlflow = pytest.importorskip("mlflow", reason="mlflow is not installed")

USER, PASSWORD = "app", "p@ss:w/rd"
#: The URI form of the credentials: the password percent-encoded, as a URL needs it.
USERINFO = f"{USER}:{quote(PASSWORD, safe='')}"
#: MLflow's documented credential variables (cleared: the machine's own must not count).
MLFLOW_VARIABLES = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD",
                    "MLFLOW_TRACKING_TOKEN")


class Server(ThreadingHTTPServer):
    """Answers ``/health`` and MLflow's experiment search; 401 unless ``accepted``."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.accepted: set[str] = set()
        self.seen: list[tuple[str, str | None]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: Server

    def answer(self) -> None:
        header = self.headers.get("Authorization")
        self.server.seen.append((self.path.split("?")[0], header))
        ok = not self.server.accepted or header in self.server.accepted
        body = json.dumps({"experiments": []} if "experiments" in self.path else {}).encode()
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = answer

    def log_message(self, *args: object) -> None:  # quiet
        pass


@pytest.fixture()
def server() -> Iterator[Server]:
    running = Server()
    thread = threading.Thread(target=running.serve_forever, daemon=True)
    thread.start()
    yield running
    running.shutdown()
    running.server_close()


@pytest.mark.parametrize("form", ["uri", "variables", "token"])
def test_the_check_sends_the_credentials_mlflow_sends(server: Server, form: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    for name in MLFLOW_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    uri = server.url
    if form == "uri":
        uri = server.url.replace("://", f"://{USERINFO}@")
    elif form == "variables":
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", USER)
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", PASSWORD)
    else:
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "t0ken")
    from mlflow.tracking import MlflowClient

    MlflowClient(tracking_uri=uri).search_experiments(max_results=1)
    sent_by_mlflow = [h for path, h in server.seen if "experiments" in path][-1]
    assert sent_by_mlflow is not None
    server.accepted = {sent_by_mlflow}
    reach.check_reachable(uri)  # accepted: no error
    assert [h for path, h in server.seen if path == "/health"] == [sent_by_mlflow]


def test_refused_or_unreachable_credentials_are_one_line_without_them(
        server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in MLFLOW_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    server.accepted = {"Basic nobody"}
    with pytest.raises(ServiceError, match="refused the credentials") as refused:
        reach.check_reachable(server.url.replace("://", f"://{USERINFO}@"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    with pytest.raises(ServiceError, match="cannot be reached") as unreachable:
        reach.check_reachable(f"http://{USERINFO}@127.0.0.1:{closed}")
    for error in (refused, unreachable):
        message = str(error.value)
        assert error.value.exit_code == 6 and "\n" not in message
        assert "p@ss" not in message and quote(PASSWORD, safe="") not in message
        assert f"{USER}:" not in message
