"""Redaction of secrets, by Spark's own rule, for everything a job writes or says.

A key is secret when it matches Spark's default ``spark.redaction.regex``,
``(?i)secret|password|token|access[.]?key``: its value is replaced by Spark's own
``*********(redacted)``. In free text (a JDBC URL, an error message) a ``key=value`` or
``key: value`` whose key matches loses its value the same way (``password=...`` inside a
JDBC URL too). The manifests' config dumps, the source descriptions and the JDBC error
messages all go through this module.

Examples
--------
>>> redact({"spark": {"spark.hadoop.fs.s3a.secret.key": "abc", "spark.jars": "x.jar"}})
{'spark': {'spark.hadoop.fs.s3a.secret.key': '*********(redacted)', 'spark.jars': 'x.jar'}}
>>> redact_text("jdbc:postgresql://db:5432/crm?user=app&password=hunter2")
'jdbc:postgresql://db:5432/crm?user=app&password=*********(redacted)'
>>> redact_text("https://app:hunter2@mlflow.example.com:5000")
'https://app:*********(redacted)@mlflow.example.com:5000'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

#: Spark's default ``spark.redaction.regex``.
REDACTION_REGEX = re.compile(r"(?i)secret|password|token|access[.]?key")
#: What Spark writes instead of a redacted value.
REDACTED = "*********(redacted)"
_KEY_VALUE = re.compile(
    r"(?P<key>[\w.\-]*(?:secret|password|token|access[.]?key)[\w.\-]*)"
    r"(?P<sep>\s*[=:]\s*)(?P<value>[^\s;&,'\"}]+)",
    re.IGNORECASE,
)
#: The password of a URL's ``user:password@`` (an MLflow server, an object store endpoint).
_URL_PASSWORD = re.compile(r"(?P<user>://[^/@\s:]+):(?P<value>[^/@\s]+)@")


def is_secret(key: str) -> bool:
    """True when a setting named ``key`` holds a secret (Spark's redaction rule)."""
    return REDACTION_REGEX.search(key) is not None


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
    return _KEY_VALUE.sub(lambda m: f"{m['key']}{m['sep']}{REDACTED}", text)
