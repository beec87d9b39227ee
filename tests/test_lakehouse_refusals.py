"""What the lakehouse read side refuses on any Spark line, the primary suite's 4.3 included:
the pin keys where they do not apply, a table format the line has no connector for (one
line, exit 2, nothing written), and the folder of a Delta or Iceberg table read as plain
Parquet or ORC (found from the folder alone, so no connector is needed to refuse it)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from pyspark.sql import SparkSession
from support.cli import error_lines, segment

from segmentation.core.connectors import CONNECTORS, running_line
from segmentation.core.errors import ConfigError
from segmentation.run.config import config_from_dict
from segmentation.run.job import run_segmentation

LINE = running_line()


def config(source: dict, out: Path) -> dict:
    return {"input": source, "features": {"numeric": ["spend"]},
            "output": {"path": str(out)}}


CONFIG_CASES = [
    ({"path": "in", "version": 3},
     "input.version applies to a Delta Lake or Iceberg table (input.format delta or iceberg), "
     "not to parquet"),
    ({"path": "in", "format": "orc", "timestamp": "2026-12-01"},
     "input.timestamp applies to a Delta Lake or Iceberg table (input.format delta or "
     "iceberg), not to orc"),
    ({"path": "in", "format": "delta", "version": 3, "timestamp": "2026-12-01"},
     "give at most one of input.version and input.timestamp (both name the point to read the "
     "table at)"),
    ({"table": "db.t", "format": "iceberg", "timestamp": "yesterday"},
     "input.timestamp 'yesterday' is not an ISO 8601 date or date-time"),
    ({"table": "db.t", "format": "orc"},
     "input.format orc applies to input.path only; with input.table it is delta or iceberg "
     "(or left out)"),
    ({"path": "in", "format": "delta", "version": -1}, "input.version=-1 must be >= 0"),
]


@pytest.mark.parametrize(("source", "message"), CONFIG_CASES)
def test_pin_keys_are_refused_where_they_do_not_apply(source: dict, message: str,
                                                      tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_dict(config(source, tmp_path / "out"))
    assert str(caught.value).startswith(message)


def test_a_table_given_with_its_format_and_an_unquoted_yaml_timestamp_are_accepted(
        tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("input: {table: lake.db.c, format: delta, "
                                     "timestamp: 2026-12-04T18:00:00Z}\n"
                                     "features: {numeric: [spend]}\noutput: {path: out}\n")
    from segmentation.run.config import load_config

    source = load_config(tmp_path / "c.yaml").input
    assert (source.table, source.format, source.timestamp) == (
        "lake.db.c", "delta", "2026-12-04T18:00:00+00:00")


@pytest.mark.parametrize("fmt", ["delta", "iceberg"])
def test_a_table_format_without_a_release_for_this_line_is_one_line(
        fmt: str, tmp_path: Path) -> None:
    connector = CONNECTORS[fmt]
    if LINE in connector.releases:
        pytest.skip(f"Spark {LINE} has {connector.title} (tests/lakehouse read it)")
    source = {"path": str(tmp_path / "t"), "format": fmt} if fmt == "delta" else {
        "table": "lake.db.customers", "format": fmt, "version": 1}
    (tmp_path / "c.yaml").write_text(json.dumps(config(source, tmp_path / "out")))
    done = segment(["run", "--config", str(tmp_path / "c.yaml")], cwd=tmp_path, timeout=120)
    lines = ", ".join(connector.releases)
    assert done.returncode == 2, done.stderr[-3000:]
    assert error_lines(done.stderr) == [
        f"error: {connector.title} has no release for Spark {LINE} (it has for Spark "
        f"{lines}): run on one of those lines (scripts/setup.sh --spark X.Y)"]
    assert "Traceback" not in done.stderr and not (tmp_path / "out").exists()


@pytest.mark.parametrize(("marker", "title", "fmt"), [
    ("_delta_log/00000000000000000000.json", "a Delta Lake", "delta"),
    ("metadata/v1.metadata.json", "an Apache Iceberg", "iceberg"),
])
def test_a_table_folder_read_as_files_is_refused_before_any_work(
        spark: SparkSession, tmp_path: Path, marker: str, title: str, fmt: str) -> None:
    folder = tmp_path / "customers"
    folder.mkdir()
    pd.DataFrame({"customer_id": [1, 2, 3], "spend": [1.0, 2.0, 3.0]}).to_parquet(
        folder / "part-0.parquet")
    (folder / marker).parent.mkdir()
    (folder / marker).write_text("{}")
    out = tmp_path / "out"
    for given in ({}, {"format": "orc"}):
        read = given.get("format", "parquet")
        cfg = config_from_dict(config({"path": str(folder), **given}, out))
        with pytest.raises(ConfigError) as caught:
            run_segmentation(spark, cfg)
        assert str(caught.value) == (
            f"input.path {folder} is {title} table: set input.format: {fmt} (a {read} read "
            f"would include files its {'log' if fmt == 'delta' else 'metadata'} has removed)")
        assert not out.exists()
