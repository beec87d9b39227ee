"""The Spark versions a job meets: this client's pyspark and a standalone master's.

Spark promises no compatibility between lines (major.minor) of a client and a cluster: a
driver of another line fails after the job started, with an error that names neither
version. A standalone master tells its version on its web UI's status page (the page header;
its ``/json/`` has none), so a mismatch is refused before the session starts, naming both.
Spark ML over Spark Connect starts in Spark 4.0, so ``--remote`` on an older client is
refused before any work. Spark ML loads models saved by its own line and older ones, not
newer ones (a newer line's stage has params the older one does not know, such as Spark
4.3's ``KMeans.intermediateStorageLevel``), so such a model is refused before loading,
naming both versions. The README says how to pick the client's line
(``scripts/setup.sh --spark X.Y``) for a cluster that cannot tell its version.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import sys
import urllib.request
from importlib import metadata
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from segmentation.core.errors import ConfigError, InputDataError, SparkUnavailableError

if TYPE_CHECKING:
    from segmentation.core.fs import FileSystem

log = logging.getLogger(__name__)

#: The first Spark line with Spark ML over Spark Connect.
CONNECT_SINCE = (4, 0)
#: The standalone master's web UI port when the settings name none (Spark's default).
MASTER_UI_PORT = 8080
#: Seconds to wait for the master's status page; a cluster that does not answer is not checked.
PROBE_SECONDS = 3.0
#: Seconds a standalone master has to accept a connection before the job is refused.
MASTER_CONNECT_SECONDS = 10.0
#: The standalone master's port when its URL names none (Spark's default).
MASTER_PORT = 7077

# The master page's header: <span class="version ...">4.1.4</span> ... Spark Master at spark://
VERSION_SPAN = re.compile(r'<span class="version[^"]*"[^>]*>\s*(\d+\.\d+[^<\s]*)\s*</span>')
MASTER_URL = re.compile(r"Spark Master at (spark://[^\s<]+)")


def client_version() -> str:
    """The version of the pyspark this process imports (from its metadata: no Spark loaded)."""
    try:
        return metadata.version("pyspark")
    except metadata.PackageNotFoundError:  # pyspark from a Spark distribution's python/
        from pyspark.version import __version__

        return __version__


def spark_line(version: str) -> tuple[int, int]:
    """``(major, minor)`` of a Spark version string such as ``"3.5.9"`` or ``"4.1.0-rc1"``."""
    major, minor = re.match(r"(\d+)\.(\d+)", version).groups()  # type: ignore[union-attr]
    return int(major), int(minor)


def require_connect_client(version: str | None = None) -> None:
    """Refuse Spark Connect on a client whose pyspark has no Spark ML over Connect."""
    version = version or client_version()
    if spark_line(version) < CONNECT_SINCE:
        need = ".".join(map(str, CONNECT_SINCE))
        raise ConfigError(
            f"--remote (Spark Connect) needs pyspark {need} or newer, which runs Spark ML over "
            f"Connect; this client has pyspark {version}: run in classic mode (--master, "
            f"spark-submit) or set up a {need}+ client (scripts/setup.sh --spark X.Y)")


def master_version(master: str, ui_port: int = MASTER_UI_PORT) -> str | None:
    """The Spark version a standalone master (``spark://HOST:PORT``) shows on its web UI at
    ``ui_port``, or None when it cannot tell (no page there, another page or another
    master's, several masters)."""
    parsed = urlparse(master)
    if parsed.scheme != "spark" or "," in parsed.netloc or not parsed.hostname:
        return None
    url = f"http://{parsed.hostname}:{ui_port}/"
    try:
        with urllib.request.urlopen(url, timeout=PROBE_SECONDS) as response:  # noqa: S310
            page = response.read(200_000).decode("utf-8", "replace")
    except (OSError, ValueError) as exc:
        log.debug("no version from %s: %s", url, exc)
        return None
    found, shown = VERSION_SPAN.search(page), MASTER_URL.search(page)
    if found is None or shown is None or urlparse(shown.group(1)).port != parsed.port:
        log.debug("no version of the Spark master %s on %s", master, url)
        return None
    return found.group(1)


def check_master(master: str, ui_port: int | str = MASTER_UI_PORT,
                 client: str | None = None) -> None:
    """Refuse a standalone master whose Spark line differs from this client's pyspark, or
    that does not answer at all (other masters, and a master whose page cannot be read,
    pass unchecked). ``ui_port``: the master's web UI port (``spark.master.ui.port``)."""
    if not master.startswith("spark://"):
        return
    if not str(ui_port).isdigit():
        raise ConfigError(f"spark.master.ui.port must be a port number, got {ui_port!r}")
    cluster = master_version(master, int(ui_port))
    if cluster is None:
        require_reachable_master(master)
        log.info("the Spark version of %s could not be read from its web UI (port %d; "
                 "spark.master.ui.port names another): the client's pyspark must be of its "
                 "line", master, ui_port)
        return
    client = client or client_version()
    if spark_line(cluster) != spark_line(client):
        wanted = ".".join(map(str, spark_line(cluster)))
        raise ConfigError(
            f"the standalone master {master} runs Spark {cluster} but this client's pyspark is "
            f"{client}: client and cluster must be the same Spark line (major.minor); set up "
            f"a matching client with scripts/setup.sh --spark {wanted}")
    log.info("standalone master %s runs Spark %s (client pyspark %s)", master, cluster, client)


def unreachable(host: str, port: int, timeout: float) -> str | None:
    """Why a TCP connection to ``host:port`` fails within ``timeout`` seconds, in a few
    lower-case words (``connection refused``); None when it succeeds. Asked of a service
    before any work (a Connect server, a standalone master, a database), so that an address
    that is down is one line in seconds, not a minute of retries.

    >>> unreachable("127.0.0.1", 9, 1.0)
    'connection refused'
    """
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as exc:
        return (exc.strerror or type(exc).__name__).lower()


def require_reachable_master(master: str) -> None:
    """Fail in seconds, naming the addresses, when no master of ``master`` (``spark://H:P``,
    or several for high availability) accepts a connection: Spark itself would retry for a
    minute and then report only that all masters are unresponsive."""
    reasons = []
    for address in master.removeprefix("spark://").split(","):
        parsed = urlparse(f"spark://{address}")
        try:
            host, port = parsed.hostname or address, parsed.port or MASTER_PORT
        except ValueError as exc:
            raise ConfigError(f"master {master}: {address} is not HOST:PORT") from exc
        reason = unreachable(host, port, MASTER_CONNECT_SECONDS)
        if reason is None:
            return
        reasons.append(f"{host}:{port} ({reason})")
    raise SparkUnavailableError(f"cannot reach the standalone master {master}: "
                                f"{', '.join(reasons)}: is it running? (scripts/cluster.sh "
                                "start starts one here)")


def check_model_line(fs: FileSystem, model: str, *, key: str,
                     client: str | None = None) -> None:
    """Refuse the saved Spark ML model at ``model`` (named ``key`` in the message) when a
    newer Spark line than this client's pyspark saved it (its ``metadata`` says which)."""
    files = fs.data_files(f"{model}/metadata")
    try:
        saved = json.loads(fs.read_bytes(files[0]).splitlines()[0])["sparkVersion"]
        line = spark_line(saved)
    except (IndexError, ValueError, KeyError, TypeError, AttributeError):
        return  # not a model Spark saved: its own load tells what is wrong
    client = client or client_version()
    if line > spark_line(client):
        wanted = ".".join(map(str, line))
        raise InputDataError(
            f"{key}: its model was saved by Spark {saved}, a newer line than this client's "
            f"pyspark {client}, and Spark does not load models of newer lines: score with a "
            f"Spark {wanted} client (scripts/setup.sh --spark {wanted}), or retrain on "
            f"{'.'.join(map(str, spark_line(client)))}")


def main(argv: list[str]) -> int:
    """``python -m segmentation.core.sparkversion MASTER [UI_PORT]``: scripts/submit.sh's
    check of a standalone master before spark-submit; its one line and exit 2 on a mismatch."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        check_master(*argv[:2])
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
