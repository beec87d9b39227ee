"""A job started by spark-submit keeps the settings the user gave spark-submit: our session
defaults apply only to keys nobody set (a real spark-submit in local mode)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from segmentation.core.session import DEFAULT_SETTINGS

pytestmark = pytest.mark.slow

SPARK_SUBMIT = str(Path(sys.executable).parent / "spark-submit")
KEYS = ("spark.sql.shuffle.partitions", "spark.sql.session.timeZone",
        "spark.sql.debug.maxToStringFields")
PROBE = f"""
from segmentation.core.session import classic_session
spark = classic_session("probe", None, {{"spark.sql.debug.maxToStringFields": "77"}})
print("SETTINGS", *[spark.conf.get(key) for key in {KEYS!r}])
spark.stop()
"""


def submitted_settings(tmp_path: Path, *conf: str) -> list[str]:
    """The three settings a session built by our code has under ``spark-submit CONF...``."""
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable}
    done = subprocess.run([SPARK_SUBMIT, "--master", "local[1]", *conf, str(probe)],
                          capture_output=True, text=True, timeout=300, env=env, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("SETTINGS"))
    return line.split()[1:]


def test_spark_submit_conf_wins_over_our_defaults(tmp_path: Path) -> None:
    assert submitted_settings(
        tmp_path, "--conf", "spark.sql.shuffle.partitions=7",
        "--conf", "spark.sql.session.timeZone=Europe/Paris") == ["7", "Europe/Paris", "77"]


def test_our_defaults_where_spark_submit_sets_nothing(tmp_path: Path) -> None:
    assert submitted_settings(tmp_path) == [
        DEFAULT_SETTINGS["spark.sql.shuffle.partitions"],
        DEFAULT_SETTINGS["spark.sql.session.timeZone"], "77"]
