"""Customers from a real PostgreSQL over JDBC (scripts/postgres.sh, Debian's server and
JDBC driver): the labels equal those of the same data from Parquet; every bad database
input is one line with its exit code; no password or secret setting reaches any output.

100,000 generated customers with missing values, a ``numeric(12,2)`` column and text ids
are loaded once per module (psql for the DDL, Spark's JDBC writer for the rows).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import yaml
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from support.cli import segment
from support.database import JDBC_JAR, PASSWORD_ENV, Postgres
from support.retail import RETAIL_EXPECTED, RETAIL_ROWS, RETAIL_SCHEMA, assert_features
from support.runs import fixed_k_config

from segmentation.cli import main
from segmentation.core.configfile import build_dataclass
from segmentation.core.errors import OutputError
from segmentation.data.config import JdbcConfig, SourceConfig
from segmentation.data.sinks import write_jdbc_table
from segmentation.features.config import features_config_from_dict
from segmentation.features.job import run_features
from segmentation.run.config import config_from_dict
from segmentation.run.job import run_segmentation
from segmentation.scoring.job import score_customers

pytestmark = pytest.mark.database

CONFIG, INPUT, SERVICE = 2, 3, 6
CUSTOMERS = 100_000


def customer_frame(spark: SparkSession, make_customers: Callable[..., Path],
                   rows: int) -> DataFrame:
    """Generated customers with text ids, a decimal(12,2) income and an account number."""
    path = make_customers(rows, seed=11, missing_rate=0.01)
    raw = spark.read.parquet(str(path)).drop("true_segment")
    return raw.select(
        F.format_string("C%07d", "customer_id").alias("customer_id"),
        F.col("customer_id").alias("account_no"),
        *[F.col(c).cast("decimal(12,2)").alias(c) if c == "annual_income" else F.col(c)
          for c in raw.columns if c != "customer_id"])


@pytest.fixture(scope="module")
def data(spark: SparkSession, postgres: Postgres, make_customers, tmp_path_factory) -> Path:
    """The customers as Parquet, and the same rows in PostgreSQL table ``customers``."""
    base = tmp_path_factory.mktemp("database")
    frame = customer_frame(spark, make_customers, CUSTOMERS)
    frame.write.parquet(str(base / "customers"))
    postgres.load(spark.read.parquet(str(base / "customers")), "customers")
    assert postgres.psql("SELECT count(*) FROM customers") == str(CUSTOMERS)
    return base / "customers"


@pytest.fixture(scope="module")
def parquet_run(spark: SparkSession, data: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pq") / "run"
    run_segmentation(spark, config_from_dict(fixed_k_config(data, out, 5)))
    return out


def labels(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path / "labels").sort_values("customer_id", ignore_index=True)


def jdbc_config(postgres: Postgres, data: Path, out: Path, **jdbc: object) -> dict:
    cfg = fixed_k_config(data, out, 5)
    cfg["input"] = {"partitions": 4, "jdbc": postgres.jdbc(**jdbc)}
    return cfg


def test_partitioned_jdbc_read_gives_the_parquet_labels(
    spark: SparkSession, postgres: Postgres, data: Path, parquet_run: Path, tmp_path: Path
) -> None:
    cfg = jdbc_config(postgres, data, tmp_path / "run", table="public.customers",
                      partition_column="account_no", lower_bound=0, upper_bound=CUSTOMERS,
                      num_partitions=4, fetch_size=5000)
    manifest = run_segmentation(spark, config_from_dict(cfg))
    pd.testing.assert_frame_equal(labels(tmp_path / "run"), labels(parquet_run),
                                  check_exact=True)
    assert manifest["rows_read"] == CUSTOMERS
    assert manifest["input"]["jdbc"] == {"url": postgres.url, "table": "public.customers",
                                         "query": None, "user": "segment"}
    assert manifest["missing_values"]["annual_income"]["null"] > 0
    assert postgres.password not in (tmp_path / "run" / "manifest.json").read_text()


def test_query_and_partitioned_subquery_score_like_parquet(
    spark: SparkSession, postgres: Postgres, parquet_run: Path, tmp_path: Path
) -> None:
    postgres.psql("DROP TABLE IF EXISTS accounts; CREATE TABLE accounts AS "
                  "SELECT account_no, account_no % 3 = 0 AS premium FROM customers")
    sources = {
        "query": {"query": "SELECT c.* FROM customers c JOIN accounts a "
                           "ON a.account_no = c.account_no"},
        "subquery": {"table": "(SELECT * FROM customers WHERE account_no >= 0) AS t",
                     "partition_column": "account_no", "lower_bound": 0,
                     "upper_bound": CUSTOMERS, "num_partitions": 4},
    }
    for name, jdbc in sources.items():
        source = build_dataclass(SourceConfig, {"jdbc": postgres.jdbc(**jdbc)}, "input.")
        manifest = score_customers(spark, model_run=str(parquet_run), source=source,
                                   output_path=str(tmp_path / name))
        assert manifest["rows_read"] == CUSTOMERS
        pd.testing.assert_frame_equal(labels(tmp_path / name), labels(parquet_run),
                                      check_exact=True, obj=name)


def test_a_table_spelling_its_columns_in_capitals_scores_by_the_models_names(
    spark: SparkSession, postgres: Postgres, data: Path, parquet_run: Path, tmp_path: Path
) -> None:
    """Spark resolves column names ignoring case; the model's spelling names the outputs."""
    capitals = ", ".join(f'"{c}" AS "{c.upper()}"' for c in spark.read.parquet(str(data)).columns)
    postgres.psql(f"DROP VIEW IF EXISTS shouting; CREATE VIEW shouting AS "
                  f"SELECT {capitals} FROM customers")
    source = build_dataclass(SourceConfig, {"jdbc": postgres.jdbc(table="shouting")}, "input.")
    score_customers(spark, model_run=str(parquet_run), source=source,
                    output_path=str(tmp_path / "scored"))
    pd.testing.assert_frame_equal(labels(tmp_path / "scored"), labels(parquet_run),
                                  check_exact=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CASES = [
    ("unreachable", {"url": "jdbc:postgresql://127.0.0.1:PORT/segment"}, SERVICE,
     "cannot reach the database at 127.0.0.1:PORT (input.jdbc.url)"),
    ("wrong password", {"password_env": "WRONG_PASSWORD"}, SERVICE,
     "refused the login of user 'segment': wrong password (from the environment variable "
     "WRONG_PASSWORD)"),
    ("password variable not set", {"password_env": "NO_SUCH_VARIABLE_HERE"}, CONFIG,
     "input.jdbc.password_env names NO_SUCH_VARIABLE_HERE, but that environment variable "
     "is not set"),
    ("table missing", {"table": "public.customer"}, INPUT,
     'refused input.jdbc.table public.customer: ERROR: relation "public.customer" does not '
     "exist"),
    ("invalid query", {"table": None, "query": "SELEC * FROM customers"}, INPUT,
     'refused input.jdbc.query: ERROR: syntax error at or near'),
    ("text partition column", {"partition_column": "customer_id", "lower_bound": 0,
                               "upper_bound": 10, "num_partitions": 2}, CONFIG,
     "input.jdbc.partition_column 'customer_id' cannot split the read"),
    ("bounds missing", {"partition_column": "account_no"}, CONFIG,
     "input.jdbc.partition_column is set but input.jdbc.lower_bound, input.jdbc.upper_bound, "
     "input.jdbc.num_partitions not"),
]


@pytest.mark.parametrize(("name", "jdbc", "code", "fragment"), CASES, ids=[c[0] for c in CASES])
def test_bad_database_input_is_one_line(
    spark: SparkSession, postgres: Postgres, data: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, name: str,
    jdbc: dict, code: int, fragment: str,
) -> None:
    port = str(free_port())
    monkeypatch.setenv("WRONG_PASSWORD", "not-" + postgres.password)
    cfg = jdbc_config(postgres, data, tmp_path / "out", table="customers")
    cfg["input"]["jdbc"].update({k: v.replace("PORT", port) if isinstance(v, str) else v
                                 for k, v in jdbc.items()})
    cfg["input"]["jdbc"] = {k: v for k, v in cfg["input"]["jdbc"].items() if v is not None}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["run", "--config", str(tmp_path / "c.yaml")]) == code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and fragment.replace("PORT", port) in lines[0], err
    assert postgres.password not in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_missing_table_gets_a_did_you_mean(
    spark: SparkSession, postgres: Postgres, data: Path, tmp_path: Path
) -> None:
    cfg = config_from_dict(jdbc_config(postgres, data, tmp_path / "out", table="custmers"))
    with pytest.raises(ValueError, match="did you mean (public.)?customers"):
        run_segmentation(spark, cfg)


def small_table(spark: SparkSession, postgres: Postgres,
                make_customers: Callable[..., Path]) -> None:
    frame = customer_frame(spark, make_customers, 400)
    postgres.load(frame, "small_customers")


def test_no_driver_and_no_secret_anywhere(
    spark: SparkSession, postgres: Postgres, make_customers, tmp_path: Path
) -> None:
    """As users run it (its own process, Spark's own logs on stderr too)."""
    small_table(spark, postgres, make_customers)
    secret = "S3SECRETvalue-" + os.urandom(6).hex()
    cfg = jdbc_config(postgres, tmp_path / "small", tmp_path / "run", table="small_customers")
    cfg["model"]["k"] = 3
    cfg["spark"] = {"spark.hadoop.fs.s3a.secret.key": secret}
    (tmp_path / "nodriver.yaml").write_text(yaml.safe_dump(cfg))
    env = {PASSWORD_ENV: postgres.password}
    done = segment(["run", "--config", str(tmp_path / "nodriver.yaml")], cwd=tmp_path, env=env,
                   timeout=300)
    assert done.returncode == CONFIG, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "no JDBC driver for jdbc:postgresql://" in errors[0]
    assert "spark.jars" in errors[0] and "--jars" in errors[0]

    cfg["spark"]["spark.jars"] = str(JDBC_JAR)
    cfg["output"]["jdbc"] = postgres.jdbc(table="small_labels")
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(cfg))
    done = segment(["--debug", "run", "--config", str(tmp_path / "run.yaml"), "--report"],
                   cwd=tmp_path, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    outputs = [done.stdout, done.stderr]
    for file in (tmp_path / "run").resolve().rglob("*"):
        if file.is_file() and file.suffix in (".json", ".csv", ".html", ".txt", ""):
            outputs.append(file.read_text(errors="replace"))
    assert len(outputs) > 5
    for text in outputs:
        assert postgres.password not in text and secret not in text
    assert postgres.psql("SELECT count(*) FROM small_labels") == "400"  # output.jdbc
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["config"]["spark"]["spark.hadoop.fs.s3a.secret.key"] == "*********(redacted)"


def test_output_jdbc_swaps_labels_in_one_transaction(
    spark: SparkSession, postgres: Postgres, parquet_run: Path, tmp_path: Path
) -> None:
    """A reader querying all the time sees run A's labels or run B's, never a mix."""
    run_a = str(parquet_run / "labels")
    run_b = tmp_path / "b"
    (pd.read_parquet(run_a).assign(segment=lambda d: d.segment + 10)
     .to_parquet(run_b, index=False))
    target = build_dataclass(JdbcConfig, postgres.jdbc(table="public.crm_segments"),
                             "output.jdbc.")
    write_jdbc_table(spark, run_a, target, "customer_id", "output.jdbc")
    seen: list[str] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            seen.append(subprocess.run(
                ["psql", "-X", "-A", "-t", "-h", "127.0.0.1", "-p", str(postgres.port), "-U",
                 "segment", "-d", "segment", "-c",
                 "SELECT count(*), min(segment), max(segment) FROM public.crm_segments"],
                env={**os.environ, "PGPASSWORD": postgres.password}, capture_output=True,
                text=True, check=False).stdout.strip())

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for path in (str(run_b), run_a, str(run_b)):
            write_jdbc_table(spark, path, target, "customer_id", "output.jdbc")
    finally:
        stop.set()
        reader.join()
    assert set(seen) <= {f"{CUSTOMERS}|0|4", f"{CUSTOMERS}|10|14"}, set(seen)
    assert len(seen) > 3
    assert postgres.psql("SELECT min(segment) FROM public.crm_segments") == "10"
    leftovers = postgres.psql("SELECT count(*) FROM pg_tables WHERE tablename LIKE "
                              "'crm_segments_staging%'")
    assert leftovers == "0"


def test_only_the_used_columns_leave_the_database(
    spark: SparkSession, postgres: Postgres, parquet_run: Path, tmp_path: Path
) -> None:
    """A column the run does not use (personal notes) is in no query that reads rows, and
    rows come in batches through a cursor (PostgreSQL's driver otherwise buffers each
    partition's whole result); the server logs this run's statements
    (``-c log_statement=all``)."""
    postgres.psql("DROP TABLE IF EXISTS customers_pii; CREATE TABLE customers_pii AS "
                  "SELECT *, 'private note ' || account_no AS private_notes FROM customers")
    log = postgres.state / "server" / "log"
    start = log.stat().st_size
    cfg = jdbc_config(postgres, Path(), tmp_path / "run", table="customers_pii",
                      options={"options": "-c log_statement=all"})
    run_segmentation(spark, config_from_dict(cfg))
    pd.testing.assert_frame_equal(labels(tmp_path / "run"), labels(parquet_run),
                                  check_exact=True)
    with log.open() as text:
        text.seek(start)
        reads = [line for line in text if "customers_pii" in line and "LOG:" in line]
    rows = [line for line in reads if "WHERE 1=0" not in line]
    assert rows and all("private_notes" not in line and "account_no" not in line
                        for line in rows), rows
    assert any("execute fetch from" in line for line in rows)  # a cursor: default fetch_size


def crm_table(postgres: Postgres, name: str, columns: str) -> JdbcConfig:
    postgres.psql(f"DROP TABLE IF EXISTS {name}; CREATE TABLE {name} ({columns})")
    return build_dataclass(JdbcConfig, postgres.jdbc(table=name), "output.jdbc.")


def table_labels(postgres: Postgres, name: str) -> pd.DataFrame:
    rows = postgres.psql(f'SELECT "Customer_Id", segment, distance FROM {name}').splitlines()
    frame = pd.DataFrame([r.split("|") for r in rows],
                         columns=["customer_id", "segment", "distance"])
    return frame.astype({"segment": "int32", "distance": "float64"}).sort_values(
        "customer_id", ignore_index=True)


def test_output_jdbc_fills_an_existing_table_by_column_name(
    spark: SparkSession, postgres: Postgres, parquet_run: Path
) -> None:
    """Columns in another order and spelling, and one the labels do not fill: each value
    lands in its own column (a positional insert put distances into segment, rounded)."""
    target = crm_table(postgres, "crm_by_name", 'note text DEFAULT \'kept\', '
                       '"Customer_Id" text, distance double precision, segment integer')
    write_jdbc_table(spark, str(parquet_run / "labels"), target, "customer_id", "output.jdbc")
    pd.testing.assert_frame_equal(table_labels(postgres, "crm_by_name"), labels(parquet_run),
                                  check_exact=True)
    assert postgres.psql("SELECT DISTINCT note FROM crm_by_name") == "kept"


@pytest.mark.parametrize(("columns", "fragment"), [
    ("customer_id text, segment text, distance double precision",
     "column 'segment' has type text; the labels' segment needs one of smallint"),
    ("customer_id text, segment integer", "has no column 'distance' for the labels"),
    ("customer_id text, segment integer, distance real, owner text NOT NULL",
     "columns the labels do not fill, without a default and NOT NULL: owner"),
], ids=["wrong type", "missing column", "unfilled column"])
def test_output_jdbc_refuses_a_table_it_cannot_fill_before_any_work(
    spark: SparkSession, postgres: Postgres, data: Path, tmp_path: Path, columns: str,
    fragment: str
) -> None:
    target = postgres.jdbc(table="crm_unfit")
    crm_table(postgres, "crm_unfit", columns)
    cfg = fixed_k_config(data, tmp_path / "run", 5)
    cfg["output"]["jdbc"] = target
    with pytest.raises(OutputError, match=fragment):
        run_segmentation(spark, config_from_dict(cfg))
    assert not (tmp_path / "run").exists()


def test_output_jdbc_waits_for_another_writer_and_leaves_only_its_own_rows(
    spark: SparkSession, postgres: Postgres, parquet_run: Path
) -> None:
    """Another run's swap is under way (rows deleted and inserted, not committed) when this
    one swaps: without a table lock its DELETE missed the other's new rows and the table
    held both runs' labels."""
    target = crm_table(postgres, "crm_locked",
                       "customer_id text, segment integer, distance double precision")
    other = subprocess.Popen(
        ["psql", "-X", "-q", "-A", "-t", "-h", "127.0.0.1", "-p", str(postgres.port),
         "-U", "segment", "-d", "segment"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PGPASSWORD": postgres.password})
    try:
        assert other.stdin is not None and other.stdout is not None
        other.stdin.write("BEGIN; DELETE FROM crm_locked; INSERT INTO crm_locked "
                          "SELECT 'other-' || g, 99, 0 FROM generate_series(1, 10) g; "
                          "SELECT 'inserted';\n")
        other.stdin.flush()
        assert other.stdout.readline().strip() == "inserted"
        writer = threading.Thread(target=write_jdbc_table, args=(
            spark, str(parquet_run / "labels"), target, "customer_id", "output.jdbc"))
        writer.start()
        writer.join(timeout=20)
        assert writer.is_alive()  # waiting for the other transaction's table lock
        other.stdin.write("COMMIT;\n")
        other.stdin.close()
        other.wait(timeout=60)
        writer.join(timeout=300)
    finally:
        other.kill()
    assert postgres.psql("SELECT count(*), max(segment) FROM crm_locked") == f"{CUSTOMERS}|4"


def test_features_from_a_database_table_equal_those_from_parquet(
    spark: SparkSession, postgres: Postgres, tmp_path: Path
) -> None:
    lines = spark.createDataFrame(RETAIL_ROWS, RETAIL_SCHEMA)
    lines.write.parquet(str(tmp_path / "lines"))
    postgres.load(lines, "invoice_lines")
    mapping = {"customer_id": "CustomerID", "invoice_id": "InvoiceNo",
               "timestamp": "InvoiceDate", "timestamp_format": "yyyy-MM-dd HH:mm:ss",
               "quantity": "Quantity", "unit_price": "UnitPrice", "product": "StockCode",
               "cancellation_prefix": "C"}
    features = {}
    for name, source in {"parquet": {"path": str(tmp_path / "lines")},
                         "jdbc": {"jdbc": postgres.jdbc(table="invoice_lines")}}.items():
        run_features(spark, features_config_from_dict(
            {"transactions": {**source, **mapping}, "output": {"path": str(tmp_path / name)}}))
        frame = pd.read_parquet(tmp_path / name / "features").sort_values("customer_id")
        features[name] = frame.reset_index(drop=True)
    pd.testing.assert_frame_equal(features["jdbc"], features["parquet"], check_exact=True)
    frame = features["jdbc"].astype(object).where(features["jdbc"].notna(), None)
    assert_features({r["customer_id"]: r for r in frame.to_dict("records")}, RETAIL_EXPECTED)
