"""The SparkSession a job runs in: classic (local mode, spark-submit) or Spark Connect.

Classic: local mode by default, with half of the machine's RAM for the driver unless
chosen; a master chosen by ``spark-submit`` (``spark.master`` already set) is always
respected, and so are its ``--conf`` values. Python workers are pinned to the driver's own
interpreter so that a virtual environment's numpy/pyarrow are what the workers import.

Spark Connect (``--remote sc://HOST:PORT`` or ``SPARK_REMOTE``, as PySpark itself reads
it): the server is probed first, so that an unreachable address fails in seconds, naming
it, instead of after the client's retries; the client's own retries are bounded; the
``segmentation`` package is uploaded as an artifact for the server's Python workers; and
only the settings a Connect session may change at run time are applied.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

from pyspark.sql import SparkSession

from segmentation.core.class_archive import archive_options
from segmentation.core.compiler import CLIENT_COMPILER_ONLY, compiler_options
from segmentation.core.connectors import check_loaded, running_line, session_settings
from segmentation.core.errors import ConfigError, SparkUnavailableError
from segmentation.core.memory import usable_memory
from segmentation.core.sparkversion import (
    MASTER_UI_PORT,
    check_master,
    require_connect_client,
    unreachable,
)

log = logging.getLogger(__name__)

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"
#: Spark Connect's port when the URL gives none.
CONNECT_PORT = 15002
#: Seconds to wait for the Connect server's port to answer.
PROBE_SECONDS = 10.0
#: Retries of a failed Connect call (about 15 s of backoff in all, not Spark's 10 minutes).
CONNECT_RETRIES = 5

#: Settings every session gets unless the caller (or spark-submit) sets them; under
#: spark-submit only the ``spark.sql.*`` ones (set once the session exists, see
#: :func:`apply_unset_defaults`), the console progress bar keeping Spark's default (off).
DEFAULT_SETTINGS: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.shuffle.partitions": "16",
    "spark.sql.debug.maxToStringFields": "1000",
}


def build_session(
    *,
    app_name: str = "segmentation",
    master: str | None = None,
    remote: str | None = None,
    settings: Mapping[str, str] | None = None,
    connectors: Sequence[str] = (),
    small_input: bool = False,
) -> SparkSession:
    """Get or create the SparkSession for a job.

    ``remote`` (or the ``SPARK_REMOTE`` environment variable) selects Spark Connect;
    otherwise ``master`` applies when no master was set by ``spark-submit``, and without
    either the session runs in local mode on all cores (``local[*]``). ``settings`` are
    extra ``spark.*`` options (the config's ``spark:`` section); ``connectors`` names those
    of :mod:`segmentation.core.connectors` the job needs (``delta``, ``iceberg``, ``s3a``):
    a session launched here loads them, one started by others must have them.
    ``small_input``: the job reads a few MB of local files (:mod:`segmentation.core.compiler`).
    """
    quiet_query_context_logs()
    remote = remote or os.environ.get("SPARK_REMOTE")
    if remote:
        if master:
            raise ConfigError(f"--master {master} and a Spark Connect server ({remote}) are "
                              "both given: the server chooses its master; drop one")
        spark = connect_session(remote, settings or {})
    else:
        spark = classic_session(app_name, master, settings or {}, connectors, small_input)
    check_loaded(spark, connectors)
    return spark


@contextmanager
def job_session(app_name: str, *, master: str | None, remote: str | None,
                settings: Mapping[str, str], connectors: Sequence[str] = (),
                small_input: bool = False) -> Iterator[SparkSession]:
    """A job's session (:func:`build_session`), stopped when the job ends if the job started
    it (a Spark Connect client that is not stopped can hang at exit, releasing server-side
    models of a session already gone); a session the caller already had is left running."""
    existing = SparkSession.getActiveSession()
    spark = build_session(app_name=app_name, master=master, remote=remote, settings=settings,
                          connectors=connectors, small_input=small_input)
    try:
        yield spark
    finally:
        if spark is not existing:
            spark.stop()


def classic_session(app_name: str, master: str | None, settings: Mapping[str, str],
                    connectors: Sequence[str] = (), small_input: bool = False) -> SparkSession:
    """A session with its own JVM: local mode, or what spark-submit set up (which chose the
    jars: ``connectors`` are added only to a session launched here)."""
    pin_python_workers()
    builder = SparkSession.builder.appName(app_name)
    if not launched_by_spark_submit():
        settings = {**settings, **session_settings(connectors, running_line(), settings)}
        builder = builder.master(master or "local[*]")
        if (master or "local").startswith("local"):
            # Keep local mode on loopback (this machine's hostname resolves to loopback,
            # and Spark would otherwise pick another interface's address).
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
            builder = builder.config("spark.driver.host", "127.0.0.1").config(
                "spark.driver.bindAddress", "127.0.0.1"
            )
            if "spark.driver.memory" not in settings and not driver_memory_given():
                builder = builder.config("spark.driver.memory", local_driver_memory())
    if java_options := driver_java_options(small_input):
        builder = builder.config("spark.driver.extraJavaOptions", java_options)
    submitted = launched_by_spark_submit()
    for key, value in ({**settings} if submitted else {**DEFAULT_SETTINGS, **settings}).items():
        builder = builder.config(key, value)
    if not submitted:  # scripts/submit.sh checks before spark-submit
        check_master(settings.get("spark.master") or master or "",
                     settings.get("spark.master.ui.port", MASTER_UI_PORT))
    spark = builder.getOrCreate()
    if submitted:
        apply_unset_defaults(spark, settings)
    # Said only where it holds: a spark.driver.extraJavaOptions of the config replaces ours.
    client_only = small_input and not submitted and CLIENT_COMPILER_ONLY in str(
        spark.conf.get("spark.driver.extraJavaOptions", ""))
    log.info("Spark %s session on %s (driver memory %s%s)", spark.version,
             spark.conf.get("spark.master", "?"), spark.conf.get("spark.driver.memory", "1g"),
             "; client compiler only, for small local input" if client_only else "")
    return spark


def driver_java_options(small_input: bool = False) -> str:
    """The options of a driver JVM launched here: this project's log4j settings, this
    environment's class archive where set-up made one (start-up several seconds faster), and
    for a job on small input (``small_input``) the client compiler alone."""
    log4j = [CONF_DIR / "log4j2.properties", CONF_DIR / "log4j2-driver.properties"]
    options = []
    if all(path.is_file() for path in log4j):
        files = ",".join(path.as_uri() for path in log4j)  # log4j2 merges them, later wins
        options.append(f"-Dlog4j2.configurationFile={files}")
    options += [archive_options(), compiler_options(small_input)]
    return " ".join(option for option in options if option)


def quiet_query_context_logs() -> None:
    """Keep pyspark 4's query-context loggers (a JSON stack trace on stderr for every SQL
    analysis error) quiet unless debugging: the job reports the error in one line."""
    try:
        from pyspark.logger import PySparkLogger
    except ImportError:  # pyspark 3.5 has no such loggers
        return
    level = logging.DEBUG if log.isEnabledFor(logging.DEBUG) else logging.CRITICAL
    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(name).setLevel(level)


def apply_unset_defaults(spark: SparkSession, settings: Mapping[str, str]) -> None:
    """Our SQL defaults, where neither ``settings`` nor spark-submit (``--conf``,
    ``spark-defaults.conf``) set the key: spark-submit's values are readable only once the
    session exists (``SparkConf`` then loads them from the driver), so ours come after."""
    from pyspark import SparkConf

    given = {key for key, _ in SparkConf().getAll()} | set(settings)
    for key, value in DEFAULT_SETTINGS.items():
        if key.startswith("spark.sql.") and key not in given:
            spark.conf.set(key, value)


def is_connect(spark: SparkSession) -> bool:
    """Whether ``spark`` is a Spark Connect session (the client has no JVM)."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


def connect_session(url: str, settings: Mapping[str, str]) -> SparkSession:
    """A Spark Connect session to ``url``, with this package uploaded for its workers."""
    from pyspark.sql.connect.client.retries import DefaultPolicy

    from segmentation.core.package import package_zip

    require_connect_client()
    probe_connect_server(url)
    spark = SparkSession.builder.remote(url).getOrCreate()
    spark.client.set_retry_policies([DefaultPolicy(max_retries=CONNECT_RETRIES)])
    for key, value in {**DEFAULT_SETTINGS, **settings}.items():
        if spark.conf.isModifiable(key):
            spark.conf.set(key, value)
        elif key in settings:
            log.warning("%s cannot be set from a Spark Connect client; set it on the server",
                        key)
    spark.addArtifacts(str(package_zip()), pyfile=True)
    log.info("Spark %s session over Spark Connect at %s", spark.version, redact_url(url))
    return spark


def probe_connect_server(url: str) -> None:
    """Fail in seconds, naming the address, when nothing answers at a Connect URL."""
    parsed = urlparse(url.split(";", 1)[0])
    if parsed.scheme != "sc" or not parsed.hostname:
        raise ConfigError(f"Spark Connect address {redact_url(url)!r} must look like "
                          "sc://HOST:PORT")
    port = parsed.port or CONNECT_PORT
    reason = unreachable(parsed.hostname, port, PROBE_SECONDS)
    if reason is not None:
        raise SparkUnavailableError(
            f"cannot reach the Spark Connect server at {parsed.hostname}:{port} "
            f"({reason}): is it running? (scripts/connect.sh start starts one here)")


def redact_url(url: str) -> str:
    """A Connect URL without the values of its parameters (``;token=...`` and the like)."""
    base, _, params = url.partition(";")
    names = [p.split("=", 1)[0] for p in params.split(";") if p]
    return base + "".join(f";{name}=..." for name in names)


def local_driver_memory() -> str:
    """Half of the memory this process may use (the machine's RAM, or a container's cgroup
    limit when smaller), in whole GB (at least 1g), for a local-mode driver.

    In local mode the driver JVM is also the only executor: Spark's default heap of 1g runs
    out of memory sorting 20 million customers, while the machine has far more to give;
    half of the machine inside a smaller container gets the JVM killed instead.
    """
    total = usable_memory()
    if total is None:  # the system does not say: Spark's default
        return "1g"
    return f"{max(1, total // 2 // 2**30)}g"


def driver_memory_given() -> bool:
    """True when the user chose the driver memory outside the config (spark-submit style)."""
    return ("--driver-memory" in os.environ.get("PYSPARK_SUBMIT_ARGS", "")
            or "SPARK_DRIVER_MEMORY" in os.environ)


def pin_python_workers() -> None:
    """Make Spark's Python workers run this interpreter unless the user chose one."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)


def launched_by_spark_submit() -> bool:
    """True when spark-submit started this Python driver (its JVM gateway already exists)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ
