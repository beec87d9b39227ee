"""Redaction of secrets, by Spark's own rule and a little more, for everything a job writes
or says.

A key is secret when it matches Spark's default ``spark.redaction.regex``,
``(?i)secret|password|token|access[.]?key``, or names a key of the object-store connectors
that Spark's rule misses (:data:`STORE_KEYS`: S3A's ``fs.s3a.encryption.key`` and
``fs.s3a.server-side-encryption.key``, Azure's ``fs.azure.account.key.ACCOUNT``, a
``private.key``): its value is replaced by Spark's own ``*********(redacted)``. Every
S3A key of a secret (``fs.s3a.access.key``, ``secret.key``, ``session.token``, their
per-bucket ``fs.s3a.bucket.NAME.*`` and ``spark.hadoop.``-prefixed forms) is covered.
In free text (a JDBC URL, an error message) a ``key=value`` or ``key: value`` whose key
matches loses its value the same way (``password=...`` inside a JDBC URL too), quoted and
JSON forms (``'password': 'x'``, ``"token": "x"``) as well. The manifests' config dumps, the
source descriptions, the error messages, every log line (:class:`RedactingFormatter`) and
the MLflow parameters all go through this module.

Examples
--------
>>> redact({"spark": {"spark.hadoop.fs.s3a.secret.key": "abc", "spark.jars": "x.jar"}})
{'spark': {'spark.hadoop.fs.s3a.secret.key': '*********(redacted)', 'spark.jars': 'x.jar'}}
>>> redact_text("--conf spark.hadoop.fs.s3a.bucket.lake.encryption.key=c2VjcmV0")
'--conf spark.hadoop.fs.s3a.bucket.lake.encryption.key=*********(redacted)'
>>> redact_text("jdbc:postgresql://db:5432/crm?user=app&password=hunter2")
'jdbc:postgresql://db:5432/crm?user=app&password=*********(redacted)'
>>> redact_text("https://app:hunter2@mlflow.example.com:5000")
'https://app:*********(redacted)@mlflow.example.com:5000'
>>> redact_text("{'user': 'app', 'password': 'hunter 2'}")
"{'user': 'app', 'password': '*********(redacted)'}"
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

#: Spark's default ``spark.redaction.regex`` (without its ``(?i)``).
SPARK_RULE = r"secret|password|token|access[.]?key"
#: Keys of secrets Spark's rule misses: encryption keys (S3A's SSE-C key), Azure storage
#: account keys, private keys.
STORE_KEYS = r"encryption[.-]key|account[.]key|private[.-]?key"
_SECRET = re.compile(f"(?i){SPARK_RULE}|{STORE_KEYS}")
#: What Spark writes instead of a redacted value.
REDACTED = "*********(redacted)"
_KEY_VALUE = re.compile(
    rf"(?P<key>[\w.\-]*(?:{SPARK_RULE}|{STORE_KEYS})[\w.\-]*)(?P<close>['\"]?)"
    r"(?P<sep>\s*[=:]\s*)"
    r"(?:(?P<quote>['\"])(?:\\.|(?!(?P=quote)).)*(?P=quote)|[^\s;&,'\"}]+)",
    re.IGNORECASE,
)
#: The password of a URL's ``user:password@`` (an MLflow server, an object store endpoint).
_URL_PASSWORD = re.compile(r"(?P<user>://[^/@\s:]+):(?P<value>[^/@\s]+)@")


def is_secret(key: str) -> bool:
    """True when a setting named ``key`` holds a secret (Spark's redaction rule, and the
    store keys it misses)."""
    return _SECRET.search(key) is not None


def redact(data: Any) -> Any:
    """``data`` (plain mappings, lists, strings) with every secret value redacted."""
    if isinstance(data, Mapping):
        return {key: REDACTED if is_secret(str(key)) and value is not None else redact(value)
                for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [redact(item) for item in data]
    if isinstance(data, str):
        return redact_text(data)
    return data


def redact_text(text: str) -> str:
    """``text`` with the value of every secret ``key=value`` / ``key: value`` and every
    password of a ``scheme://user:password@host`` URL redacted."""
    text = _URL_PASSWORD.sub(lambda m: f"{m['user']}:{REDACTED}@", text)
    return _KEY_VALUE.sub(_redacted_value, text)


def _redacted_value(match: re.Match[str]) -> str:
    """A matched ``key=value`` with its value redacted, quotes kept (``'password': '...'``)."""
    quote = match["quote"] or ""
    return f"{match['key']}{match['close']}{match['sep']}{quote}{REDACTED}{quote}"


class RedactingFormatter(logging.Formatter):
    """A log formatter whose lines, tracebacks (chained ones too) and stacks are redacted:
    every log line the commands print goes through it (``--debug`` included)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record))
