"""Customers and transactions from any source: ORC, CSV, JSON and catalog tables give the
same labels (and features) as the same data from Parquet; bad sources fail in one line.

Catalog tables live in Spark's built-in (in-memory) catalog of the shared test session,
in a database whose location is a temporary directory (no ``spark-warehouse`` in the
working directory).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from pyspark.sql import SparkSession
from support.retail import RETAIL_EXPECTED, RETAIL_ROWS, RETAIL_SCHEMA, assert_features
from support.runs import fixed_k_config

from segmentation.cli import main
from segmentation.core.errors import ConfigError, InputDataError, OutputError
from segmentation.features.config import features_config_from_dict
from segmentation.features.job import run_features
from segmentation.run.config import config_from_dict
from segmentation.run.job import run_segmentation

CONFIG, INPUT = 2, 3
DATABASE = "sources_test"


def labels(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path / "labels").sort_values("customer_id", ignore_index=True)


def ddl(spark: SparkSession, path: Path) -> str:
    """The Spark DDL schema of the Parquet data at ``path``."""
    return ", ".join(f"{f.name} {f.dataType.simpleString()}"
                     for f in spark.read.parquet(str(path)).schema.fields)


@pytest.fixture(scope="module")
def customers(make_customers) -> Path:
    return make_customers(3000, seed=5, missing_rate=0.01)


@pytest.fixture(scope="module")
def database(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database of the built-in catalog, located in a temporary directory."""
    location = tmp_path_factory.mktemp("warehouse") / f"{DATABASE}.db"
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {DATABASE} LOCATION '{location}'")
    yield DATABASE
    spark.sql(f"DROP DATABASE IF EXISTS {DATABASE} CASCADE")


@pytest.fixture(scope="module")
def parquet_run(spark: SparkSession, customers: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run") / "parquet"
    run_segmentation(spark, config_from_dict(fixed_k_config(customers, out, 5)))
    return out


def run_from(spark: SparkSession, source: dict, out: Path, customers: Path) -> dict:
    cfg = fixed_k_config(customers, out, 5)
    cfg["input"] = {"partitions": cfg["input"]["partitions"], **source}
    return run_segmentation(spark, config_from_dict(cfg))


def test_orc_csv_json_and_catalog_table_give_the_parquet_labels(
    spark: SparkSession, customers: Path, parquet_run: Path, database: str, tmp_path: Path
) -> None:
    frame = spark.read.parquet(str(customers))
    frame.write.orc(str(tmp_path / "orc"))
    frame.write.json(str(tmp_path / "json"))
    frame.write.csv(str(tmp_path / "customers.csv"), header=True, sep=";")
    frame.write.parquet(str(tmp_path / "table"))
    spark.sql(f"CREATE TABLE {database}.customers USING parquet "
              f"LOCATION '{tmp_path / 'table'}'")
    schema = ddl(spark, customers)
    sources = {
        "orc": {"path": str(tmp_path / "orc"), "format": "orc"},
        "csv": {"path": str(tmp_path / "customers.csv"), "format": "csv", "schema": schema,
                "options": {"header": True, "sep": ";"}},
        "json": {"path": str(tmp_path / "json"), "format": "json", "schema": schema},
        "table": {"table": f"{database}.customers"},
    }
    expected = labels(parquet_run)
    for name, source in sources.items():
        manifest = run_from(spark, source, tmp_path / "runs" / name, customers)
        pd.testing.assert_frame_equal(labels(tmp_path / "runs" / name), expected,
                                      check_exact=True, obj=name)
        assert manifest["rows_read"] == 3000
    assert manifest["input"] == {"table": f"{database}.customers", "id_column": "customer_id",
                                 "partitions": 4}


def test_score_reads_a_table_or_another_format(
    spark: SparkSession, customers: Path, parquet_run: Path, database: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    spark.read.parquet(str(customers)).write.orc(str(tmp_path / "orc"))
    spark.read.parquet(str(customers)).createOrReplaceTempView("customers_to_score")
    (tmp_path / "score.yaml").write_text(yaml.safe_dump(
        {"input": {"path": str(tmp_path / "orc"), "format": "orc"}}))
    runs = {
        "table": ["--input-table", "customers_to_score"],
        "format": ["--input", str(tmp_path / "orc"), "--input-format", "orc"],
        "config": ["--config", str(tmp_path / "score.yaml")],
    }
    for name, args in runs.items():
        code = main(["score", "--model", str(parquet_run), *args,
                     "--output", str(tmp_path / name)])
        assert code == 0, capsys.readouterr().err
        pd.testing.assert_frame_equal(labels(tmp_path / name), labels(parquet_run),
                                      check_exact=True, obj=name)


def test_features_from_a_table_and_with_the_old_csv_keys(
    spark: SparkSession, database: str, tmp_path: Path
) -> None:
    lines = spark.createDataFrame(RETAIL_ROWS, RETAIL_SCHEMA)
    lines.write.parquet(str(tmp_path / "lines"))
    spark.sql(f"CREATE TABLE {database}.lines USING parquet LOCATION '{tmp_path / 'lines'}'")
    mapping = {"customer_id": "CustomerID", "invoice_id": "InvoiceNo",
               "timestamp": "InvoiceDate", "timestamp_format": "yyyy-MM-dd HH:mm:ss",
               "quantity": "Quantity", "unit_price": "UnitPrice", "product": "StockCode",
               "cancellation_prefix": "C"}
    columns = ["CustomerID", "InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "UnitPrice"]
    pd.DataFrame(RETAIL_ROWS, columns=columns).astype({"Quantity": "Int64"}).to_csv(
        tmp_path / "lines.csv", index=False)
    sources = {
        "table": {"table": f"{database}.lines"},
        "csv": {"path": str(tmp_path / "lines.csv"), "format": "csv", "schema": RETAIL_SCHEMA,
                "options": {"header": True}},
        "legacy": {"path": str(tmp_path / "lines.csv"), "format": "csv",
                   "csv_schema": RETAIL_SCHEMA},
    }
    for name, source in sources.items():
        out = tmp_path / name
        manifest = run_features(spark, features_config_from_dict(
            {"transactions": {**source, **mapping}, "output": {"path": str(out)}}))
        frame = pd.read_parquet(out / "features")
        frame = frame.astype(object).where(frame.notna(), None)
        assert_features({r["customer_id"]: r for r in frame.to_dict("records")},
                        RETAIL_EXPECTED)
        assert manifest["rows_read"] == len(RETAIL_ROWS)
    assert manifest["config"]["transactions"]["schema"] == RETAIL_SCHEMA


def test_missing_table_gets_a_did_you_mean(spark: SparkSession, database: str,
                                           tmp_path: Path) -> None:
    spark.range(3).write.parquet(str(tmp_path / "t"))
    spark.sql(f"CREATE TABLE {database}.customer_2024 USING parquet LOCATION '{tmp_path / 't'}'")
    cfg = config_from_dict({"input": {"table": f"{database}.customers_2024"},
                            "features": {"numeric": ["id"]},
                            "output": {"path": str(tmp_path / "out")}})
    with pytest.raises(InputDataError, match=rf"input.table {database}.customers_2024 does not "
                                             rf"exist; did you mean {database}.customer_2024\?"):
        run_segmentation(spark, cfg)
    cfg = config_from_dict({"input": {"table": "sources_tset.customers"},
                            "features": {"numeric": ["id"]},
                            "output": {"path": str(tmp_path / "out")}})
    with pytest.raises(InputDataError, match=rf"database sources_tset does not exist; did you "
                                             rf"mean {database}\?"):
        run_segmentation(spark, cfg)


def source_case(source: dict) -> dict:
    return {"input": source, "features": {"numeric": ["spend"]}, "output": {"path": "OUT"}}


CASES = [
    ("both path and table", {"path": "IN", "table": "db.t"}, CONFIG,
     "give exactly one of input.path, input.table and input.jdbc (given: input.path and "
     "input.table)"),
    ("unknown format", {"path": "IN", "format": "parquett"}, CONFIG,
     "input.format 'parquett' is not a Spark data source; did you mean parquet?"),
    ("csv without a schema", {"path": "IN", "format": "csv"}, CONFIG,
     "input.format is csv but input.schema is not set"),
    ("invalid schema", {"path": "IN", "format": "csv", "schema": "a INT,, b"}, CONFIG,
     "input.schema is not a valid Spark DDL schema"),
    ("orc path missing", {"path": "NOWHERE", "format": "orc"}, INPUT,
     "input.path NOWHERE does not exist"),
    ("table missing", {"table": "no_such_table_here"}, INPUT,
     "input.table no_such_table_here does not exist"),
]


@pytest.mark.parametrize(("name", "source", "code", "fragment"), CASES,
                         ids=[c[0] for c in CASES])
def test_bad_sources_fail_in_one_line(
    spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str,
    source: dict, code: int, fragment: str,
) -> None:
    pd.DataFrame({"customer_id": [1, 2], "spend": [1.0, 2.0]}).to_parquet(tmp_path / "in.pq")
    text = yaml.safe_dump(source_case(source)).replace("IN", str(tmp_path / "in.pq"))
    text = text.replace("NOWHERE", str(tmp_path / "nowhere")).replace("OUT", str(tmp_path / "o"))
    fragment = fragment.replace("NOWHERE", str(tmp_path / "nowhere"))
    (tmp_path / "c.yaml").write_text(text)
    assert main(["run", "--config", str(tmp_path / "c.yaml")]) == code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and fragment in lines[0], err
    assert "Traceback" not in err and not (tmp_path / "o").exists()


def test_score_refuses_two_inputs(tmp_path: Path) -> None:
    from segmentation.scoring.config import scoring_input

    with pytest.raises(ConfigError, match="input.path and input.table"):
        scoring_input(path="x", table="db.t")
    (tmp_path / "s.yaml").write_text("input: {table: db.t}\n")
    with pytest.raises(ConfigError, match="--config .* and --input/--input-\\* options"):
        scoring_input(path="x", config=tmp_path / "s.yaml")


def test_output_table_shows_the_latest_complete_run(
    spark: SparkSession, customers: Path, database: str, tmp_path: Path
) -> None:
    table, out = f"{database}.segments", tmp_path / "run"
    cfg = fixed_k_config(customers, out, 4)
    cfg["output"]["table"] = table
    run_segmentation(spark, config_from_dict(cfg))
    first = labels(out)
    shown = spark.table(table).toPandas().sort_values("customer_id", ignore_index=True)
    pd.testing.assert_frame_equal(shown, first, check_exact=True)
    spark.read.parquet(str(customers)).createOrReplaceTempView("customers_sql")
    joined = spark.sql(f"SELECT l.segment, count(*) AS n, avg(c.spend_12m) AS spend FROM "
                       f"{table} l JOIN customers_sql c USING (customer_id) GROUP BY l.segment")
    assert sorted(r["n"] for r in joined.collect()) == sorted(first.segment.value_counts())

    failing = fixed_k_config(tmp_path / "nowhere", out, 3)
    failing["output"]["table"] = table
    with pytest.raises(InputDataError, match="does not exist"):
        run_segmentation(spark, config_from_dict(failing))
    shown = spark.table(table).toPandas().sort_values("customer_id", ignore_index=True)
    pd.testing.assert_frame_equal(shown, first, check_exact=True)  # still the first run

    again = fixed_k_config(customers, out, 3)
    again["output"]["table"] = table
    run_segmentation(spark, config_from_dict(again))
    assert spark.table(table).select("segment").distinct().count() == 3

    elsewhere = fixed_k_config(customers, tmp_path / "other", 3)
    elsewhere["output"]["table"] = table
    with pytest.raises(OutputError, match=f"output.table {table} already exists and shows"):
        run_segmentation(spark, config_from_dict(elsewhere))
    assert not (tmp_path / "other").exists()


def test_features_and_scores_as_tables(
    spark: SparkSession, customers: Path, parquet_run: Path, database: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    spark.createDataFrame(RETAIL_ROWS, RETAIL_SCHEMA).write.parquet(str(tmp_path / "lines"))
    cfg = {"transactions": {"path": str(tmp_path / "lines"), "customer_id": "CustomerID",
                            "invoice_id": "InvoiceNo", "timestamp": "InvoiceDate",
                            "timestamp_format": "yyyy-MM-dd HH:mm:ss", "amount": "UnitPrice"},
           "output": {"path": str(tmp_path / "features"), "table": f"{database}.features"}}
    manifest = run_features(spark, features_config_from_dict(cfg))
    assert spark.table(f"{database}.features").count() == manifest["customers_written"]
    code = main(["score", "--model", str(parquet_run), "--input", str(customers),
                 "--output", str(tmp_path / "scored"), "--output-table", f"{database}.scored"])
    assert code == 0, capsys.readouterr().err
    shown = spark.table(f"{database}.scored").toPandas().sort_values("customer_id",
                                                                     ignore_index=True)
    pd.testing.assert_frame_equal(shown, labels(parquet_run), check_exact=True)
