"""Jobs reading Delta Lake and Iceberg tables: the same labels as the same rows in Parquet
(a Delta path, an Iceberg path and the Iceberg catalog name through ``segment run``), each
manifest recording the exact version read, time travel that reproduces a run after the table
changed, the refusal of a Parquet read of a Delta folder (with the rows it would have got
wrong), one-line errors that leave ``output.path`` as it was, and score and features jobs
reading Delta."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from support.cli import error_lines, segment
from support.retail import RETAIL_EXPECTED, RETAIL_ROWS, RETAIL_SCHEMA, assert_features
from support.runs import fixed_k_config

from segmentation.core.connectors import coordinate, running_line
from segmentation.core.errors import ConfigError, InputDataError
from segmentation.data.config import SourceConfig
from segmentation.data.sources import read_source
from segmentation.features.config import features_config_from_dict
from segmentation.features.job import run_features
from segmentation.run.config import config_from_dict
from segmentation.run.job import run_segmentation
from segmentation.scoring.job import score_customers

from .conftest import iceberg_catalog

pytestmark = [pytest.mark.lakehouse, pytest.mark.slow]

ROWS, K = 2500, 4


@dataclass(frozen=True)
class Tables:
    """Customers in Parquet, the same rows as a Delta table and as the Iceberg table
    ``lake.db.customers``, and a run of the Parquet."""

    parquet: Path
    delta: Path
    iceberg: Path
    reference: Path


def labels(run: Path) -> pd.DataFrame:
    return pd.read_parquet(run / "labels").sort_values("customer_id", ignore_index=True)


def manifest(run: Path) -> dict:
    return json.loads((run / "manifest.json").read_text())


def run_config(source: dict, out: Path, data: Path) -> dict:
    cfg = fixed_k_config(data, out, K)
    cfg["input"] = {**{k: v for k, v in cfg["input"].items() if k != "path"}, **source}
    return cfg


def same_labels(run: Path, reference: Path) -> None:
    pd.testing.assert_frame_equal(labels(run), labels(reference), check_exact=False, rtol=1e-9)


@pytest.fixture(scope="module")
def tables(lake_spark: SparkSession, make_customers,
           tmp_path_factory: pytest.TempPathFactory, warehouse: Path) -> Tables:
    base = tmp_path_factory.mktemp("lake-read")
    parquet = make_customers(ROWS, seed=26)
    rows = lake_spark.read.parquet(str(parquet))
    rows.write.format("delta").save(str(base / "delta"))
    lake_spark.sql("CREATE DATABASE IF NOT EXISTS lake.db")
    rows.writeTo("lake.db.customers").using("iceberg").create()
    reference = base / "parquet-run"
    run_segmentation(lake_spark, config_from_dict(fixed_k_config(parquet, reference, K)))
    return Tables(parquet, base / "delta", warehouse / "db" / "customers", reference)


def test_delta_and_iceberg_give_the_labels_of_the_same_rows_in_parquet(
        lake_spark: SparkSession, tables: Tables, warehouse: Path, tmp_path: Path) -> None:
    for fmt, path in (("delta", tables.delta), ("iceberg", tables.iceberg)):
        out = tmp_path / fmt
        run_segmentation(lake_spark, config_from_dict(run_config(
            {"path": str(path), "format": fmt}, out, tables.parquet)))
        same_labels(out, tables.reference)
        recorded = manifest(out)["input"]
        assert recorded["path"] == str(path) and recorded["format"] == fmt
    assert manifest(tmp_path / "delta")["input"]["version"] == 0
    current = lake_spark.sql("SELECT snapshot_id FROM lake.db.customers.refs "
                             "WHERE name = 'main'").first()[0]
    assert manifest(tmp_path / "iceberg")["input"]["snapshot_id"] == current
    # The catalog name through the command, its catalog in the config's spark: section.
    cfg = run_config({"table": "lake.db.customers", "format": "iceberg"}, tmp_path / "named",
                     tables.parquet)
    cfg["spark"] = iceberg_catalog(warehouse)
    (tmp_path / "named.yaml").write_text(json.dumps(cfg))
    done = segment(["run", "--config", str(tmp_path / "named.yaml")], cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-4000:]
    same_labels(tmp_path / "named", tables.reference)
    assert manifest(tmp_path / "named")["input"] == {
        "table": "lake.db.customers", "format": "iceberg", "snapshot_id": current,
        "id_column": "customer_id", "partitions": 4}


def change_rows(spark: SparkSession, fmt: str, name: str, parquet: Path) -> None:
    """Append new customers, delete some and update others: three commits."""
    new = (spark.read.parquet(str(parquet)).where("customer_id < 200")
           .withColumn("customer_id", F.col("customer_id") + 1_000_000))
    if fmt == "delta":
        new.write.format("delta").mode("append").save(name.split("`")[1])
    else:
        new.writeTo(name).append()
    spark.sql(f"DELETE FROM {name} WHERE customer_id % 10 = 1")
    spark.sql(f"UPDATE {name} SET spend_12m = spend_12m * 3 WHERE customer_id % 10 = 2")


@pytest.mark.parametrize("fmt", ["delta", "iceberg"])
def test_a_pinned_version_reproduces_a_run_after_the_table_changed(
        lake_spark: SparkSession, tables: Tables, tmp_path: Path, fmt: str) -> None:
    rows = lake_spark.read.parquet(str(tables.parquet))
    if fmt == "delta":
        path = tmp_path / "table"
        rows.write.format("delta").save(str(path))
        name = f"delta.`{path}`"
    else:
        name = "lake.db.travel"
        rows.writeTo(name).using("iceberg").createOrReplace()
        path = tables.iceberg.parent / "travel"
    key = "version" if fmt == "delta" else "snapshot_id"
    first = tmp_path / "first"
    run_segmentation(lake_spark, config_from_dict(run_config(
        {"path": str(path), "format": fmt}, first, tables.parquet)))
    pinned = manifest(first)["input"][key]
    committed = dt.datetime.now(dt.timezone.utc)
    change_rows(lake_spark, fmt, name, tables.parquet)
    latest = read_source(lake_spark, SourceConfig(path=str(path), format=fmt), "input")
    assert latest.summary[key] != pinned and latest.frame.count() != ROWS
    again = tmp_path / "again"
    run_segmentation(lake_spark, config_from_dict(run_config(
        {"path": str(path), "format": fmt, "version": pinned}, again, tables.parquet)))
    same_labels(again, first)
    assert manifest(again)["input"][key] == pinned and manifest(again)["rows_read"] == ROWS
    at = read_source(lake_spark, SourceConfig(path=str(path), format=fmt,
                                              timestamp=committed.isoformat()), "input")
    assert at.summary[key] == pinned and at.frame.count() == ROWS


def test_a_parquet_read_of_a_delta_folder_is_refused_before_any_work(
        lake_spark: SparkSession, tables: Tables, tmp_path: Path) -> None:
    path = tmp_path / "deleted"
    lake_spark.read.parquet(str(tables.parquet)).write.format("delta").save(str(path))
    lake_spark.sql(f"DELETE FROM delta.`{path}` WHERE customer_id % 10 = 7")
    as_table = lake_spark.read.format("delta").load(str(path)).count()
    as_files = lake_spark.read.parquet(str(path)).count()
    assert as_files > as_table  # the evidence: a Parquet read would keep the deleted rows
    for given in ({}, {"format": "parquet"}, {"format": "orc"}):
        cfg = run_config({"path": str(path), **given}, tmp_path / "out", tables.parquet)
        fmt = given.get("format", "parquet")
        with pytest.raises(ConfigError, match=rf"^input.path {path} is a Delta Lake table: set "
                           rf"input.format: delta \(a {fmt} read would include files its log "
                           r"has removed\)$"):
            run_segmentation(lake_spark, config_from_dict(cfg))
        assert not (tmp_path / "out").exists()


def test_errors_are_one_line_and_leave_the_output_as_it_was(
        lake_spark: SparkSession, tables: Tables, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "kept.txt").write_text("previous run")
    cases = [
        ({"path": str(tables.parquet), "format": "delta"}, InputDataError,
         rf"^input.path {tables.parquet} is not a Delta Lake table \(no _delta_log/ in it\)$"),
        ({"path": str(tables.iceberg), "format": "delta"}, InputDataError,
         r"is not a Delta Lake table \(no _delta_log/ in it\); it is an Apache Iceberg table: "
         r"set input.format: iceberg$"),
        ({"path": str(tables.delta), "format": "delta", "version": 7}, InputDataError,
         rf"^input.version 7 is not a version of input.path {tables.delta} \(it has versions "
         r"0 to 0\)$"),
        ({"table": "lake.db.customers", "format": "iceberg", "version": 12}, InputDataError,
         r"^input.version 12 is not a version of input.table lake.db.customers \(it has "
         r"snapshots \d+\)$"),
        ({"path": str(tables.delta), "format": "delta", "timestamp": "2001-01-01"},
         InputDataError, r"^input.timestamp 2001-01-01T00:00:00\+00:00 is before input.path"),
        ({"path": str(tmp_path / "nowhere"), "format": "iceberg"}, InputDataError,
         r"^input.path .*nowhere does not exist$"),
    ]
    for source, error, message in cases:
        cfg = run_config(source, out, tables.parquet)
        cfg["output"]["mode"] = "overwrite"
        with pytest.raises(error, match=message):
            run_segmentation(lake_spark, config_from_dict(cfg))
        assert [p.name for p in out.iterdir()] == ["kept.txt"]


def test_score_and_features_read_delta_and_record_the_version(
        lake_spark: SparkSession, tables: Tables, tmp_path: Path) -> None:
    scored = score_customers(lake_spark, model_run=str(tables.reference),
                             source=SourceConfig(path=str(tables.delta), format="delta"),
                             output_path=str(tmp_path / "scored"))
    same_labels(tmp_path / "scored", tables.reference)
    assert scored["input"]["version"] == 0 and scored["input"]["format"] == "delta"
    lake_spark.sql(f"CREATE TABLE IF NOT EXISTS default.read_customers USING delta "
                   f"LOCATION '{tables.delta}'")
    named = read_source(lake_spark, SourceConfig(table="default.read_customers",
                                                 format="delta"), "input")
    assert named.summary == {"table": "default.read_customers", "format": "delta",
                             "version": 0} and named.frame.count() == ROWS
    lines = tmp_path / "lines"
    lake_spark.createDataFrame(RETAIL_ROWS, RETAIL_SCHEMA).write.format("delta").save(str(lines))
    mapping = {"customer_id": "CustomerID", "invoice_id": "InvoiceNo",
               "timestamp": "InvoiceDate", "timestamp_format": "yyyy-MM-dd HH:mm:ss",
               "quantity": "Quantity", "unit_price": "UnitPrice", "product": "StockCode",
               "cancellation_prefix": "C"}
    built = run_features(lake_spark, features_config_from_dict({
        "transactions": {"path": str(lines), "format": "delta", "version": 0, **mapping},
        "output": {"path": str(tmp_path / "features")}}))
    frame = pd.read_parquet(tmp_path / "features" / "features")
    frame = frame.astype(object).where(frame.notna(), None)
    assert_features({r["customer_id"]: r for r in frame.to_dict("records")}, RETAIL_EXPECTED)
    assert built["input"] == {"path": str(lines), "format": "delta", "version": 0}


def test_a_command_without_the_connector_at_hand_is_one_line(
        tables: Tables, tmp_path: Path) -> None:
    """``segment run`` reading Delta where the connector was never fetched: exit 2, one
    line naming the coordinate of this line, no output."""
    cfg = run_config({"path": str(tables.delta), "format": "delta"}, tmp_path / "out",
                     tables.parquet)
    (tmp_path / "c.yaml").write_text(json.dumps(cfg))
    done = segment(["run", "--config", str(tmp_path / "c.yaml")], cwd=tmp_path,
                   env={"SEGMENT_CONNECTORS_DIR": str(tmp_path / "empty")})
    assert done.returncode == 2, done.stderr[-3000:]
    line = running_line()
    assert error_lines(done.stderr) == [
        f"error: the Delta Lake connector for Spark {line} is not fetched here: run "
        f"scripts/setup.sh --connectors (or set spark.jars.packages: "
        f"{coordinate('delta', line)})"]
    assert not (tmp_path / "out").exists()
