"""Redaction by Spark's rule (spark.redaction.regex) and the object stores' keys it misses,
in config dumps and free text."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.cli import segment

from segmentation.core.secrets import REDACTED, is_secret, redact, redact_text
from segmentation.run.config import config_from_dict


@pytest.mark.parametrize(("key", "secret"), [
    ("spark.hadoop.fs.s3a.secret.key", True), ("spark.hadoop.fs.s3a.access.key", True),
    ("fs.azure.account.accesskey", True), ("PASSWORD_ENV", True), ("api_token", True),
    ("spark.jars", False), ("input.path", False), ("key", False),
])
def test_secret_keys_follow_sparks_default_regex(key: str, secret: bool) -> None:
    assert is_secret(key) is secret


@pytest.mark.parametrize("key", [
    "fs.s3a.access.key", "fs.s3a.secret.key", "fs.s3a.session.token",
    "fs.s3a.bucket.lake.secret.key", "fs.s3a.bucket.lake.access.key",
    "fs.s3a.bucket.lake.session.token", "fs.s3a.encryption.key",
    "fs.s3a.server-side-encryption.key", "fs.s3a.bucket.lake.encryption.key",
    "fs.azure.account.key.lake.dfs.core.windows.net", "fs.gs.auth.service.account.private.key",
])
@pytest.mark.parametrize("prefix", ["", "spark.hadoop."])
def test_object_store_secrets_are_redacted_as_keys_and_in_text(prefix: str, key: str) -> None:
    name = prefix + key
    assert is_secret(name)
    assert redact({"spark": {name: "c2VjcmV0"}}) == {"spark": {name: REDACTED}}
    for text in (f"--conf {name}=c2VjcmV0 --conf x=1", f"{name}: c2VjcmV0"):
        assert "c2VjcmV0" not in redact_text(text) and REDACTED in redact_text(text)


@pytest.mark.parametrize("key", ["fs.s3a.endpoint", "fs.s3a.path.style.access",
                                 "fs.s3a.endpoint.region", "fs.s3a.encryption.algorithm",
                                 "fs.s3a.bucket.lake.endpoint"])
def test_object_store_settings_that_are_not_secret_are_kept(key: str) -> None:
    assert not is_secret(key) and redact({key: "v"}) == {key: "v"}


def test_nested_config_values_are_redacted_and_the_rest_kept() -> None:
    data = {"spark": {"spark.hadoop.fs.s3a.secret.key": "s3cr3t", "spark.jars": "a.jar"},
            "input": {"jdbc": {"url": "jdbc:postgresql://h:5/db?password=pw1", "user": "u",
                               "password_env": "PGPASS"}},
            "list": ["token=abc", 3, None]}
    assert redact(data) == {
        "spark": {"spark.hadoop.fs.s3a.secret.key": REDACTED, "spark.jars": "a.jar"},
        "input": {"jdbc": {"url": f"jdbc:postgresql://h:5/db?password={REDACTED}",
                           "user": "u", "password_env": REDACTED}},
        "list": [f"token={REDACTED}", 3, None]}


@pytest.mark.parametrize(("text", "expected"), [
    ("jdbc:postgresql://db/crm;password=x;ssl=true", f"jdbc:postgresql://db/crm;password={REDACTED};ssl=true"),
    ("--conf spark.hadoop.fs.s3a.secret.key=abc --conf spark.jars=x.jar",
     f"--conf spark.hadoop.fs.s3a.secret.key={REDACTED} --conf spark.jars=x.jar"),
    ("Password: hunter2", f"Password: {REDACTED}"),
    ("https://app:hunter2@mlflow:5000/x", f"https://app:{REDACTED}@mlflow:5000/x"),
    ("sc://host:15002", "sc://host:15002"),
    ("{'user': 'app', 'password': 'hunter 2'}", f"{{'user': 'app', 'password': '{REDACTED}'}}"),
    ('{"token": "a\\"b", "n": 1}', f'{{"token": "{REDACTED}", "n": 1}}'),
    ("Token='abc' rest", f"Token='{REDACTED}' rest"),
    ("nothing secret here: 42", "nothing secret here: 42"),
])
def test_secret_values_in_text_are_redacted(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_the_manifests_config_dump_is_redacted() -> None:
    cfg = config_from_dict({"input": {"path": "in"}, "features": {"numeric": ["a"]},
                            "output": {"path": "out"},
                            "spark": {"spark.hadoop.fs.s3a.secret.key": "s3cr3t"}})
    assert cfg.spark["spark.hadoop.fs.s3a.secret.key"] == "s3cr3t"  # Spark still gets it
    assert cfg.to_dict()["spark"] == {"spark.hadoop.fs.s3a.secret.key": REDACTED}


def test_errors_never_carry_a_secret() -> None:
    from segmentation.core.errors import ConfigError, one_line

    error = ConfigError("cannot reach jdbc:postgresql://db/crm?password=hunter2")
    assert "hunter2" not in str(error) and REDACTED in str(error)
    assert "hunter2" not in one_line(RuntimeError("spark.hadoop.fs.s3a.secret.key=hunter2"))


def test_debug_tracebacks_are_redacted_chained_causes_too(tmp_path: Path) -> None:
    # YAML's own error (the cause of the ConfigError) quotes the secret's line
    config = tmp_path / "broken.yaml"
    config.write_text("spark: {spark.hadoop.fs.s3a.secret.key: hunter2, x: [}\n")
    done = segment(["run", "--config", str(config), "--debug"], cwd=tmp_path)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "direct cause" in done.stderr and REDACTED in done.stderr
    assert "hunter2" not in done.stderr + done.stdout
