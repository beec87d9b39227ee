"""The driver's own S3 client (pyarrow), set up from the same S3A settings Spark is given.

Spark reads and writes ``s3a://`` through Hadoop's S3A connector; the driver (or the Spark
Connect client, or the report) handles a run's small files, its lock and its directory swap
with pyarrow, which knows nothing of Hadoop. So that both reach the same store the same way,
the pyarrow client takes its endpoint, region, TLS choice and any keys from the
``spark.hadoop.fs.s3a.*`` settings (a per-bucket ``fs.s3a.bucket.NAME.*`` first, as S3A
does). Without them, the endpoint comes from ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``
(the AWS SDKs' variables; pyarrow itself does not read them) and keys from the usual chain
(``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``, ``~/.aws``, an instance profile).

Examples
--------
>>> settings = {"spark.hadoop.fs.s3a.endpoint": "127.0.0.1:9000",
...             "spark.hadoop.fs.s3a.connection.ssl.enabled": "false",
...             "spark.hadoop.fs.s3a.bucket.lake.endpoint.region": "eu-west-1"}
>>> sorted(s3_options("lake", settings.get).items())  # doctest: +NORMALIZE_WHITESPACE
[('connect_timeout', 5.0), ('endpoint_override', '127.0.0.1:9000'), ('region', 'eu-west-1'),
 ('scheme', 'http')]
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pyarrow.fs as pafs

#: Seconds the driver's client waits for a connection: an endpoint that is down or does
#: not answer is reported in seconds (pyarrow's default retries: 3 attempts).
CONNECT_TIMEOUT_SECONDS = 5.0
#: S3A setting (after ``fs.s3a.``) -> pyarrow ``S3FileSystem`` option.
_OPTIONS = {"endpoint": "endpoint_override", "endpoint.region": "region",
            "access.key": "access_key", "secret.key": "secret_key",
            "session.token": "session_token"}
_PREFIX = "spark.hadoop.fs.s3a."

#: Looks a Spark setting up by its full name (``spark.hadoop.fs.s3a.endpoint``).
Lookup = Callable[[str], "str | None"]


def s3a_setting(bucket: str, name: str, lookup: Lookup) -> str | None:
    """S3A setting ``fs.s3a.NAME`` for ``bucket``: its per-bucket value, else the global one."""
    return lookup(f"{_PREFIX}bucket.{bucket}.{name}") or lookup(f"{_PREFIX}{name}") or None


def s3_options(bucket: str, lookup: Lookup) -> dict[str, Any]:
    """pyarrow ``S3FileSystem`` options for ``bucket`` from the S3A settings ``lookup`` finds
    (and the AWS endpoint variables when none names an endpoint)."""
    options: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    for name, option in _OPTIONS.items():
        value = s3a_setting(bucket, name, lookup)
        if value:
            options[option] = value
    endpoint = options.get("endpoint_override") or os.environ.get(
        "AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        options["endpoint_override"] = endpoint
        ssl = s3a_setting(bucket, "connection.ssl.enabled", lookup)
        if "://" not in endpoint and ssl is not None:
            options["scheme"] = "https" if ssl.strip().lower() == "true" else "http"
    return options


def s3_filesystem(bucket: str, lookup: Lookup) -> pafs.S3FileSystem:
    """A pyarrow S3 client for ``bucket`` (see :func:`s3_options`)."""
    return pafs.S3FileSystem(**s3_options(bucket, lookup))
