"""Customer features from hand-built transaction lines, against values worked out by hand."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from support.retail import (
    RETAIL_EXPECTED,
    RETAIL_ROWS,
    RETAIL_SCHEMA,
    RETAIL_TX,
    UTC,
    assert_features,
)

from segmentation.core.errors import ConfigError, InputDataError
from segmentation.features.config import TransactionsConfig
from segmentation.features.customers import customer_features, customer_summary
from segmentation.features.lines import classify_lines, standard_lines
from segmentation.features.rfm import with_rfm_scores
from segmentation.features.timestamps import default_as_of, from_micros, to_micros


def features_of(
    raw: DataFrame, tx: TransactionsConfig, as_of: dt.datetime | None = None
) -> tuple[dict[int, dict], dt.datetime]:
    """Run the transforms (default as_of from the lines) and key the rows by customer id."""
    lines = standard_lines(raw, tx)
    if as_of is None:
        as_of = default_as_of(lines.agg(F.max("ts_us")).first()[0])
    rows = (
        lines.transform(classify_lines(as_of=as_of, cancellation_prefix=tx.cancellation_prefix))
        .transform(customer_summary)
        .transform(customer_features(as_of=as_of))
        .collect()
    )
    return {row["customer_id"]: row.asDict() for row in rows}, as_of


@pytest.fixture(scope="module")
def retail(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame(RETAIL_ROWS, RETAIL_SCHEMA)


def test_every_rule_on_hand_built_lines(retail: DataFrame) -> None:
    actual, as_of = features_of(retail, RETAIL_TX)
    assert as_of == dt.datetime(2024, 4, 1, tzinfo=UTC)
    assert_features(actual, RETAIL_EXPECTED)
    assert isinstance(next(iter(actual)), int)  # a double customer id is written as a long


def test_each_line_gets_one_reason_or_kind(retail: DataFrame) -> None:
    as_of = dt.datetime(2024, 4, 1, tzinfo=UTC)
    classified = standard_lines(retail, RETAIL_TX).transform(
        classify_lines(as_of=as_of, cancellation_prefix="C")
    )
    got = {
        (r["reason"], r["kind"]): r["count"]
        for r in classified.groupBy("reason", "kind").count().collect()
    }
    assert got == {
        (None, "purchase"): 7,
        (None, "return"): 3,  # C9, customer 3's C10, D3
        ("null_customer_id", None): 2,
        ("missing_value", None): 1,
        ("unparseable_timestamp", None): 1,
        ("non_positive_price", None): 2,
        ("zero_quantity", None): 1,
    }


def test_explicit_as_of_drops_later_lines(retail: DataFrame) -> None:
    actual, _ = features_of(retail, RETAIL_TX, dt.datetime(2024, 3, 15, tzinfo=UTC))
    # customer 2's only order (03-31) is after as_of: no purchase left, not written.
    assert sorted(actual) == [1, 5]
    assert actual[1]["recency_days"] == 13  # 03-01 12:00 -> 03-15 00:00 is 13.5 days
    assert actual[1]["tenure_days"] == 64  # 01-10 10:00 -> 03-15 00:00 is 65 days - 10 h
    assert actual[5]["recency_days"] == 28  # 02-15 09:00 -> 03-15 00:00 is 29 days - 9 h


def test_amount_mode_with_timestamp_column_and_zoned_as_of(spark: SparkSession) -> None:
    def at(day: int, hour: int) -> dt.datetime:
        return dt.datetime(2024, 5, day, hour, tzinfo=UTC)

    raw = spark.createDataFrame(
        [
            (1, "I1", at(1, 8), 30.0),
            (1, "I1", at(1, 8), -10.0),  # negative amount: a return
            (1, "I2", at(2, 8), 0.0),  # zero amount: ignored
            (1, "I3", at(3, 20), 20.0),
            (2, "I4", at(4, 8), -5.0),  # only a return
        ],
        "cust long, inv string, ts timestamp, amount double",
    )
    tx = TransactionsConfig(
        path="unused", customer_id="cust", invoice_id="inv", timestamp="ts", amount="amount"
    )
    as_of = dt.datetime(2024, 5, 10, tzinfo=dt.timezone(dt.timedelta(hours=2)))  # 05-09 22:00Z
    actual, _ = features_of(raw, tx, as_of)
    assert_features(
        actual,
        {
            1: dict(
                recency_days=6,  # 05-03 20:00 -> 05-09 22:00
                frequency=2,
                monetary=50.0,
                tenure_days=8,  # 05-01 08:00 -> 05-09 22:00
                avg_order_value=25.0,
                returns_value=10.0,
                return_rate=10.0 / 60.0,
                active_months=1,
                avg_days_between_orders=2.5,
            )
        },
    )
    assert "distinct_products" not in next(iter(actual.values()))


def test_timestamps_are_utc_whatever_the_session_time_zone(spark: SparkSession) -> None:
    raw = spark.createDataFrame(
        [(1, "I1", 1.0, "2024-01-01 01:30:00", "2024-01-01 01:30:00+02:00",
          dt.datetime(2024, 1, 1, 1, 30))],
        "c long, i string, a double, plain string, zoned string, ntz timestamp_ntz",
    )
    expected = {
        "plain": dt.datetime(2024, 1, 1, 1, 30, tzinfo=UTC),
        "zoned": dt.datetime(2023, 12, 31, 23, 30, tzinfo=UTC),
        "ntz": dt.datetime(2024, 1, 1, 1, 30, tzinfo=UTC),
    }
    formats = {"plain": "yyyy-MM-dd HH:mm:ss", "zoned": "yyyy-MM-dd HH:mm:ssXXX", "ntz": None}
    previous = spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.session.timeZone", "America/New_York")
    try:
        parsed = [
            standard_lines(raw, TransactionsConfig(
                path="unused", customer_id="c", invoice_id="i", timestamp=column,
                timestamp_format=pattern, amount="a",
            )).select(F.lit(column).alias("column"), "ts_us")
            for column, pattern in formats.items()
        ]
        rows = functools.reduce(DataFrame.unionByName, parsed).collect()
    finally:
        spark.conf.set("spark.sql.session.timeZone", previous)
    assert {row["column"]: from_micros(row["ts_us"]) for row in rows} == expected
    assert default_as_of(to_micros(expected["zoned"])) == dt.datetime(2024, 1, 1, tzinfo=UTC)


def test_rfm_scores_match_pandas(spark: SparkSession) -> None:
    rng = np.random.default_rng(3)
    n = 23  # not a multiple of 5: the first buckets get one customer more, as in ntile
    frame = pd.DataFrame(
        {
            "customer_id": rng.permutation(np.arange(100, 100 + n)),
            "recency_days": rng.integers(0, 6, n),  # many ties: broken by customer id
            "frequency": rng.integers(1, 4, n),
            "monetary": rng.choice([10.0, 20.0, 35.5], n),
        }
    )
    scored = with_rfm_scores(spark.createDataFrame(frame)).toPandas().set_index("customer_id")

    def ntile(order: pd.DataFrame) -> pd.Series:
        buckets = np.concatenate(
            [np.full(len(part), i + 1) for i, part in enumerate(np.array_split(order.index, 5))]
        )
        return pd.Series(buckets, index=order["customer_id"].to_numpy())

    expected = {
        "r_score": ntile(frame.sort_values(["recency_days", "customer_id"],
                                           ascending=[False, True], ignore_index=True)),
        "f_score": ntile(frame.sort_values(["frequency", "customer_id"], ignore_index=True)),
        "m_score": ntile(frame.sort_values(["monetary", "customer_id"], ignore_index=True)),
    }
    for name, series in expected.items():
        pd.testing.assert_series_equal(
            scored[name].sort_index(), series.sort_index(), check_names=False, check_dtype=False
        )
    most_recent = frame.sort_values(["recency_days", "customer_id"]).iloc[0]["customer_id"]
    assert scored.loc[most_recent, "r_score"] == 5


def test_missing_column_lists_present_ones(retail: DataFrame) -> None:
    tx = dataclasses.replace(RETAIL_TX, unit_price="Price")
    with pytest.raises(InputDataError, match=r"'Price' \(transactions.unit_price\) not found "
                                             r".*; did you mean 'UnitPrice'\?; present "
                                             r"columns: CustomerID, InvoiceNo"):
        standard_lines(retail, tx)


def test_string_quantity_is_rejected(spark: SparkSession) -> None:
    raw = spark.createDataFrame(
        [(1.0, "A1", "P1", "2", "2024-01-10 10:00:00", 5.0)],
        RETAIL_SCHEMA.replace("Quantity long", "Quantity string"),
    )
    with pytest.raises(InputDataError, match=r"'Quantity' \(transactions.quantity\) has type "
                                             r"string; expected a number"):
        standard_lines(raw, RETAIL_TX)


def test_string_timestamp_needs_a_format(retail: DataFrame) -> None:
    tx = dataclasses.replace(RETAIL_TX, timestamp_format=None)
    with pytest.raises(ConfigError, match="transactions.timestamp_format"):
        standard_lines(retail, tx)
