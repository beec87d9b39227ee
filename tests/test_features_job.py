"""The features job end to end: config, validation, outputs, manifest, generator, segmentation."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from pyspark.sql import SparkSession
from support.retail import RETAIL_EXPECTED, RETAIL_ROWS, RETAIL_SCHEMA, assert_features

from segmentation.core.errors import ConfigError, InputDataError, OutputError
from segmentation.features.config import (
    features_config_from_dict,
    load_features_config,
    parse_as_of,
)
from segmentation.features.job import run_features
from segmentation.synthetic.transactions import generate_transactions

RETAIL_MAPPING = {
    "customer_id": "CustomerID",
    "invoice_id": "InvoiceNo",
    "timestamp": "InvoiceDate",
    "timestamp_format": "yyyy-MM-dd HH:mm:ss",
    "quantity": "Quantity",
    "unit_price": "UnitPrice",
    "product": "StockCode",
    "cancellation_prefix": "C",
}


def job_config(source: Path | str, output: Path, **transactions: Any) -> dict[str, Any]:
    return {
        "transactions": {"path": str(source), **RETAIL_MAPPING, **transactions},
        "output": {"path": str(output)},
    }


def read_features(output: Path) -> dict[int, dict]:
    frame = pq.read_table(output / "features").to_pandas()
    frame = frame.astype(object).where(frame.notna(), None)
    return {row["customer_id"]: row for row in frame.to_dict("records")}


@pytest.fixture(scope="module")
def retail_parquet(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("retail") / "lines"
    spark.createDataFrame(RETAIL_ROWS, RETAIL_SCHEMA).coalesce(1).write.parquet(str(path))
    return path


def test_job_writes_features_and_a_manifest_that_adds_up(
    spark: SparkSession, retail_parquet: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    manifest = run_features(spark, features_config_from_dict(job_config(retail_parquet, out)))

    assert (out / "_SUCCESS").exists()
    assert json.loads((out / "manifest.json").read_text()) == json.loads(
        json.dumps(manifest, default=str)
    )
    assert_features(read_features(out), RETAIL_EXPECTED)
    assert manifest["rows_read"] == len(RETAIL_ROWS)
    assert manifest["rows_read"] == manifest["rows_used"] + sum(manifest["rows_dropped"].values())
    assert manifest["rows_used_by_kind"] == {"purchase": 7, "return": 2}
    assert {k: v for k, v in manifest["rows_dropped"].items() if v} == {
        "null_customer_id": 2,
        "missing_value": 1,
        "unparseable_timestamp": 1,
        "non_positive_price": 2,
        "zero_quantity": 1,
        "customer_without_purchases": 1,
    }
    assert manifest["customers_written"] == 3
    assert manifest["customers_without_purchases"] == 2  # only a return; only a bad price
    assert manifest["as_of"] == "2024-04-01T00:00:00+00:00"
    assert manifest["as_of_source"] == "default"
    assert manifest["config"]["transactions"]["cancellation_prefix"] == "C"
    assert {"spark", "pyspark", "python"} <= set(manifest["versions"])
    assert manifest["columns"][0] == "customer_id"

    with pytest.raises(OutputError, match="already exists"):  # output.mode defaults to error
        run_features(spark, features_config_from_dict(job_config(retail_parquet, out)))


def test_csv_input_with_schema_and_explicit_as_of(spark: SparkSession, tmp_path: Path) -> None:
    source = tmp_path / "lines.csv"
    columns = ["CustomerID", "InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "UnitPrice"]
    pd.DataFrame(RETAIL_ROWS, columns=columns).astype({"Quantity": "Int64"}).to_csv(
        source, index=False
    )
    cfg = job_config(
        source,
        tmp_path / "run",
        format="csv",
        csv_schema=RETAIL_SCHEMA,
        as_of="2024-04-01",
    )
    cfg["features"] = {"rfm_scores": True}
    manifest = run_features(spark, features_config_from_dict(cfg))

    actual = read_features(tmp_path / "run")
    assert_features(actual, RETAIL_EXPECTED)
    assert manifest["as_of_source"] == "config"
    assert manifest["rows_dropped"]["unparseable_timestamp"] == 1
    assert {actual[c]["r_score"] for c in actual} == {1, 2, 3}  # 3 customers: ntile 1..3


def test_unusable_inputs_fail_with_one_clear_message(
    spark: SparkSession, retail_parquet: Path, tmp_path: Path
) -> None:
    too_early = job_config(retail_parquet, tmp_path / "o0", as_of="2024-01-01")
    with pytest.raises(InputDataError, match=r"no customer has a valid purchase before as_of "
                                             r"2024-01-01T00:00:00\+00:00.*after_as_of=13"):
        run_features(spark, features_config_from_dict(too_early))

    bad_dates = tmp_path / "bad_dates"
    rows = [(1.0, "A1", "P1", 1, "01/02/2024", 1.0), (2.0, "A2", "P1", 1, "02/02/2024", 1.0)]
    spark.createDataFrame(rows, RETAIL_SCHEMA).write.parquet(str(bad_dates))
    with pytest.raises(InputDataError, match=r"2 of 2 cannot be parsed.*'01/02/2024'"):
        run_features(spark, features_config_from_dict(job_config(bad_dates, tmp_path / "o1")))

    empty = tmp_path / "empty"
    spark.createDataFrame([], RETAIL_SCHEMA).write.parquet(str(empty))
    with pytest.raises(InputDataError, match="holds no transaction lines"):
        run_features(spark, features_config_from_dict(job_config(empty, tmp_path / "o2")))

    missing = job_config(tmp_path / "nope", tmp_path / "o3")
    with pytest.raises(InputDataError, match="does not exist"):
        run_features(spark, features_config_from_dict(missing))

    cfg = job_config(tmp_path / "x.csv", tmp_path / "o4", format="csv", csv_schema="a INT,, b")
    with pytest.raises(ConfigError, match="transactions.schema is not a valid"):
        run_features(spark, features_config_from_dict(cfg))
    assert not any((tmp_path / f"o{i}").exists() for i in range(5))  # nothing written


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"custmer_id": "x"}, "unknown key transactions.custmer_id; did you mean "
                              "transactions.customer_id"),
        ({"amount": "Amount"}, "transactions.amount and transactions.quantity/unit_price"),
        ({"unit_price": None}, "transactions.unit_price is not set"),
        ({"format": "csv"}, "transactions.format is csv but transactions.schema is not set"),
        ({"csv_schema": "a INT", "schema": "a INT"},
         "transactions.csv_schema and transactions.schema are both set"),
        ({"table": "db.lines"}, "give exactly one of transactions.path, transactions.table"),
        ({"product": "CustomerID"}, "transactions.product and transactions.customer_id both "
                                    "name column 'CustomerID'"),
        ({"as_of": "10/12/2011"}, "transactions.as_of '10/12/2011' is not an ISO 8601"),
        ({"path": "out/inner"}, "transactions.path 'out/inner' lies inside output.path"),
    ],
)
def test_config_errors_name_the_key(change: dict[str, Any], message: str) -> None:
    cfg = job_config("tx", Path("out"))
    cfg["transactions"].update(change)
    cfg["transactions"] = {k: v for k, v in cfg["transactions"].items() if v is not None}
    with pytest.raises(ConfigError, match=message):
        features_config_from_dict(cfg)


def test_yaml_file_with_overrides_and_unquoted_date(tmp_path: Path) -> None:
    path = tmp_path / "features.yaml"
    path.write_text(
        "transactions:\n  path: tx\n  customer_id: c\n  invoice_id: i\n  timestamp: t\n"
        "  amount: a\n  as_of: 2011-12-10\nfeatures:\n  rfm_scores: true\n"
        "output:\n  path: out\nspark:\n  spark.sql.shuffle.partitions: 4\n"
    )
    cfg = load_features_config(path, ["output.mode=overwrite"])
    assert cfg.transactions.as_of == "2011-12-10"
    assert parse_as_of(cfg.transactions.as_of) == dt.datetime(2011, 12, 10, tzinfo=dt.timezone.utc)
    assert (cfg.output.mode, cfg.features.rfm_scores) == ("overwrite", True)
    assert cfg.spark == {"spark.sql.shuffle.partitions": "4"}
    with pytest.raises(ConfigError, match="unknown key featurs; did you mean features"):
        load_features_config(path, ["featurs.rfm_scores=false"])


def test_generator_is_deterministic_and_shaped_like_online_retail(tmp_path: Path) -> None:
    lines = generate_transactions(300, tmp_path / "a", seed=5, customers_per_file=120)
    assert generate_transactions(300, tmp_path / "b", seed=5, customers_per_file=120) == lines
    a, b = pq.read_table(tmp_path / "a"), pq.read_table(tmp_path / "b")
    assert a.equals(b)
    assert len(list((tmp_path / "a").glob("part-*.parquet"))) == 3
    assert [(f.name, str(f.type)) for f in a.schema] == [
        ("InvoiceNo", "string"), ("StockCode", "string"), ("Quantity", "int64"),
        ("InvoiceDate", "string"), ("UnitPrice", "double"), ("CustomerID", "double"),
    ]
    frame = a.to_pandas()
    assert len(frame) == lines and 5 <= lines / 300 <= 25
    assert frame["CustomerID"].isna().any()
    assert frame["InvoiceNo"].str.startswith("C").any()
    assert (frame.loc[frame["InvoiceNo"].str.startswith("C"), "Quantity"] <= 0).all()
    assert frame["InvoiceDate"].str.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d").all()
    assert frame.groupby("InvoiceNo")["CustomerID"].nunique(dropna=False).max() == 1
    ids = frame["CustomerID"].dropna()
    assert 280 <= ids.nunique() <= 300 and ids.between(12346, 12346 + 299).all()
    generate_transactions(300, tmp_path / "c", seed=6, customers_per_file=120)
    assert not pq.read_table(tmp_path / "c").equals(a)


ATTRIBUTE_ROWS = [
    # customer 1: one France order of three lines, two UK orders of one line: orders count.
    (1.0, "A1", "P1", 1, "2024-01-10 10:00:00", 5.0, "France", 0.5),
    (1.0, "A1", "P2", 1, "2024-01-10 10:00:00", 5.0, "France", 0.5),
    (1.0, "A1", "P3", 1, "2024-01-10 10:00:00", 5.0, "France", 0.5),
    (1.0, "A2", "P1", 1, "2024-01-11 10:00:00", 5.0, "United Kingdom", float("nan")),
    (1.0, "A3", "P1", 1, "2024-01-12 10:00:00", 5.0, "United Kingdom", float("nan")),
    # customer 2: a tie of one order each: the smaller value; a dropped zero-price line and
    # a cancellation in another country do not count.
    (2.0, "B1", "P1", 1, "2024-01-10 10:00:00", 5.0, "Spain", 2.0),
    (2.0, "B2", "P1", 1, "2024-01-11 10:00:00", 5.0, "Germany", 1.0),
    (2.0, "B3", "P1", 1, "2024-01-12 10:00:00", 0.0, "Italy", 3.0),
    (2.0, "B4", "P1", 1, "2024-01-12 10:00:00", 0.0, "Italy", 3.0),
    (2.0, "C5", "P1", -1, "2024-01-13 10:00:00", 5.0, "Italy", 3.0),
    (2.0, "C6", "P1", -1, "2024-01-13 10:00:00", 5.0, "Italy", 3.0),
    # customer 3: no value on any purchase: null.
    (3.0, "D1", "P1", 1, "2024-01-10 10:00:00", 5.0, None, None),
]
ATTRIBUTE_SCHEMA = RETAIL_SCHEMA + ", Country string, Score double"


def test_attributes_carry_each_customers_main_value(spark: SparkSession, tmp_path: Path
                                                    ) -> None:
    source = tmp_path / "lines"
    spark.createDataFrame(ATTRIBUTE_ROWS, ATTRIBUTE_SCHEMA).write.parquet(str(source))
    cfg = job_config(source, tmp_path / "run", attributes=["country", "Score"])
    cfg["features"] = {"rfm_scores": True}
    manifest = run_features(spark, features_config_from_dict(cfg))
    features = read_features(tmp_path / "run")
    assert {c: (row["country"], row["Score"]) for c, row in features.items()} == {
        1: ("United Kingdom", 0.5), 2: ("Germany", 1.0), 3: (None, None)}
    assert manifest["columns"][-5:] == ["country", "Score", "r_score", "f_score", "m_score"]


def test_attributes_match_pandas_on_generated_lines(spark: SparkSession, tmp_path: Path
                                                    ) -> None:
    generate_transactions(300, tmp_path / "tx", seed=4)
    lines = pd.read_parquet(tmp_path / "tx")
    rng = np.random.default_rng(0)
    invoices = lines["InvoiceNo"].unique()
    channel = dict(zip(invoices, rng.choice(["app", "shop", "web"], len(invoices)),
                       strict=True))
    lines["Channel"] = lines["InvoiceNo"].map(channel)
    lines.to_parquet(tmp_path / "with_channel.parquet")
    run_features(spark, features_config_from_dict(job_config(
        tmp_path / "with_channel.parquet", tmp_path / "run", attributes=["Channel"])))
    actual = pd.read_parquet(tmp_path / "run" / "features").set_index("customer_id")["Channel"]

    bought = lines[lines["CustomerID"].notna() & (lines["Quantity"] > 0)
                   & (lines["UnitPrice"] > 0) & ~lines["InvoiceNo"].str.startswith("C")]
    orders = (bought.groupby(["CustomerID", "Channel"])["InvoiceNo"].nunique()
              .rename("orders").reset_index()
              .sort_values(["CustomerID", "orders", "Channel"], ascending=[True, False, True]))
    expected = orders.groupby("CustomerID")["Channel"].first()
    expected.index = expected.index.astype("int64")
    assert len(actual) == len(expected) > 250
    pd.testing.assert_series_equal(actual.sort_index(), expected.sort_index(),
                                   check_names=False, check_index_type=False)
    assert (orders.groupby("CustomerID")["Channel"].size() > 1).mean() > 0.5  # not trivial


@pytest.mark.parametrize(("attributes", "error", "message"), [
    (["Country", "Country"], ConfigError, "transactions.attributes names 'Country' more than "
                                          "once"),
    (["Frequency"], ConfigError, "transactions.attributes names 'Frequency', a column the "
                                 "features job writes itself"),
    (["Countri"], InputDataError, "column 'Countri' \\(transactions.attributes\\) not found .*"
                                  "did you mean 'Country'"),
])
def test_bad_attributes_are_refused(spark: SparkSession, tmp_path: Path, attributes: list[str],
                                    error: type[Exception], message: str) -> None:
    source = tmp_path / "lines"
    rows = [(*row, 1) for row in ATTRIBUTE_ROWS]
    spark.createDataFrame(rows, ATTRIBUTE_SCHEMA + ", Frequency int").write.parquet(str(source))
    with pytest.raises(error, match=message):
        run_features(spark, features_config_from_dict(job_config(
            source, tmp_path / "run", attributes=attributes)))
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_features_feed_the_segmentation_job(spark: SparkSession, tmp_path: Path) -> None:
    from segmentation.run.config import config_from_dict
    from segmentation.run.job import run_segmentation

    generate_transactions(200, tmp_path / "tx", seed=11)
    features_cfg = job_config(tmp_path / "tx", tmp_path / "features")
    features_cfg["features"] = {"rfm_scores": True}
    features = run_features(spark, features_config_from_dict(features_cfg))
    assert features["rows_read"] == features["rows_used"] + sum(features["rows_dropped"].values())
    assert features["rows_dropped"]["null_customer_id"] > 0
    assert features["rows_used_by_kind"]["return"] > 0

    numeric = ["recency_days", "frequency", "monetary", "tenure_days", "avg_order_value",
               "return_rate", "active_months", "avg_days_between_orders", "distinct_products"]
    segment_cfg = config_from_dict(
        {
            "input": {"path": str(tmp_path / "features" / "features"), "partitions": 2},
            "features": {"numeric": numeric, "log1p": ["monetary", "frequency"],
                         "missing": "impute"},
            "model": {"select_by": "fixed", "k": 3, "restarts": 1, "max_iter": 10},
            "evaluation": {"sample_size": 200},
            "output": {"path": str(tmp_path / "segments"), "pca_sample_size": 0,
                       "min_segment_size": 5},
        }
    )
    manifest = run_segmentation(spark, segment_cfg)
    assert manifest["rows_read"] == features["customers_written"]
    assert (tmp_path / "segments" / "_SUCCESS").exists()


def log_without_invoices(seed: int = 3, customers: int = 300) -> pd.DataFrame:
    """A daily purchase log (CDNOW-like): customer, yyyyMMdd day, dollars; some returns."""
    rng = np.random.default_rng(seed)
    rows = []
    for customer in range(customers):
        days = rng.choice(365, size=int(rng.integers(1, 8)), replace=True)  # same-day repeats
        for day in days:
            amount = round(float(rng.lognormal(3, 0.7)), 2)
            if rng.random() < 0.08:
                amount = -amount
            date = dt.date(2023, 1, 1) + dt.timedelta(days=int(day))
            rows.append((f"{customer:05d}", date.strftime("%Y%m%d"), amount))
    return pd.DataFrame(rows, columns=["cust", "day", "dollars"])


def expected_without_invoices(lines: pd.DataFrame) -> pd.DataFrame:
    """The features, computed independently with pandas: one order per customer and day."""
    lines = lines.assign(when=pd.to_datetime(lines.day, format="%Y%m%d"))
    as_of = lines.when.max() + pd.Timedelta(days=1)
    bought, returned = lines[lines.dollars > 0], lines[lines.dollars < 0]
    orders = bought.groupby(["cust", "when"], as_index=False).dollars.sum()
    by = orders.groupby("cust")
    out = pd.DataFrame({
        "frequency": by.size(),
        "monetary": by.dollars.sum(),
        "first": by.when.min(),
        "last": by.when.max(),
        "active_months": by.when.apply(lambda w: w.dt.to_period("M").nunique()),
    })
    out["recency_days"] = (as_of - out["last"]).dt.days
    out["tenure_days"] = (as_of - out["first"]).dt.days
    out["avg_order_value"] = out.monetary / out.frequency
    returns = returned.assign(value=returned.dollars.abs()).groupby("cust").value.sum()
    out["returns_value"] = returns.reindex(out.index).fillna(0.0)
    out["return_rate"] = out.returns_value / (out.monetary + out.returns_value)
    span = (out["last"] - out["first"]).dt.days
    out["avg_days_between_orders"] = (span / (out.frequency - 1)).where(out.frequency > 1)
    return out.drop(columns=["first", "last"]).rename_axis("customer_id").sort_index()


def test_a_log_without_invoice_ids_matches_pandas(spark: SparkSession, tmp_path: Path) -> None:
    lines = log_without_invoices()
    lines.to_csv(tmp_path / "log.csv", index=False)
    cfg = {"transactions": {"path": str(tmp_path / "log.csv"), "format": "csv",
                            "options": {"header": True},
                            "schema": "cust STRING, day STRING, dollars DOUBLE",
                            "customer_id": "cust", "timestamp": "day",
                            "timestamp_format": "yyyyMMdd", "amount": "dollars"},
           "output": {"path": str(tmp_path / "out")}}
    manifest = run_features(spark, features_config_from_dict(cfg))
    actual = (pd.read_parquet(tmp_path / "out" / "features").set_index("customer_id")
              .sort_index())
    expected = expected_without_invoices(lines)
    assert manifest["rows_read"] == len(lines)
    assert list(actual.index) == list(expected.index)
    for column in expected.columns:
        np.testing.assert_allclose(actual[column].astype(float), expected[column].astype(float),
                                   rtol=1e-12, err_msg=column)
    assert (expected.frequency < lines.groupby("cust").size().reindex(expected.index)).any()
    with pytest.raises(ConfigError, match="cancellation_prefix needs transactions.invoice_id"):
        features_config_from_dict({**cfg, "transactions": {**cfg["transactions"],
                                                          "cancellation_prefix": "C"}})


def test_an_attribute_clash_is_refused_before_the_lines_are_read(spark: SparkSession,
                                                                 tmp_path: Path) -> None:
    """Checked on the plan: an input with no lines, which the scan would refuse, still
    gets the clash's message."""
    source = tmp_path / "lines"
    spark.createDataFrame([], ATTRIBUTE_SCHEMA + ", Frequency int").write.parquet(str(source))
    with pytest.raises(ConfigError, match="'Frequency', a column the features job writes"):
        run_features(spark, features_config_from_dict(job_config(
            source, tmp_path / "run", attributes=["Frequency"])))
