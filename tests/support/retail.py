"""Hand-built Online-Retail-like transaction lines with every rule of the features job
exercised, and the features they must give (computed by hand)."""

from __future__ import annotations

import datetime as dt

import pytest

from segmentation.features.config import TransactionsConfig

UTC = dt.timezone.utc
RETAIL_SCHEMA = (
    "CustomerID double, InvoiceNo string, StockCode string, Quantity long, "
    "InvoiceDate string, UnitPrice double"
)
#: Online-Retail-shaped lines covering every rule (see the expected values below).
RETAIL_ROWS = [
    # customer 1: invoice A1 (three lines, one stamped 5 minutes later), A2 (one purchase,
    # one zero quantity, one zero price), a cancellation C9.
    (1.0, "A1", "P1", 2, "2024-01-10 10:00:00", 5.0),
    (1.0, "A1", "P2", 1, "2024-01-10 10:00:00", 3.0),
    (1.0, "A1", "P3", 1, "2024-01-10 10:05:00", 2.0),
    (1.0, "A2", "P1", 4, "2024-03-01 12:00:00", 5.0),
    (1.0, "A2", "P4", 0, "2024-03-01 12:00:00", 1.0),
    (1.0, "A2", "P5", 3, "2024-03-01 12:00:00", 0.0),
    (1.0, "C9", "P1", -1, "2024-03-05 09:00:00", 5.0),
    # customer 2: a single order one second before the default as_of (2024-04-01 00:00 UTC).
    (2.0, "B1", "P2", 1, "2024-03-31 23:59:59", 10.0),
    # customer 3: only a return; customer 4: only a line with a negative price.
    (3.0, "C10", "P1", -2, "2024-02-01 10:00:00", 5.0),
    (4.0, "E1", "P1", 1, "2024-02-02 10:00:00", -1.0),
    # guest lines (no customer id).
    (None, "G1", "P1", 1, "2024-02-03 10:00:00", 5.0),
    (None, "G1", "P2", 1, "2024-02-03 10:00:00", 3.0),
    # customer 5: two invoices in the same second, a negative quantity outside a cancellation,
    # an unparseable timestamp and a missing quantity.
    (5.0, "D1", "P1", 1, "2024-02-15 09:00:00", 5.0),
    (5.0, "D2", "P2", 2, "2024-02-15 09:00:00", 3.0),
    (5.0, "D3", "P1", -1, "2024-02-20 09:00:00", 5.0),
    (5.0, "D4", "P1", 1, "15/02/2024 09:00", 5.0),
    (5.0, "D5", "P1", None, "2024-02-21 09:00:00", 5.0),
]
RETAIL_TX = TransactionsConfig(
    path="unused",
    customer_id="CustomerID",
    invoice_id="InvoiceNo",
    timestamp="InvoiceDate",
    timestamp_format="yyyy-MM-dd HH:mm:ss",
    quantity="Quantity",
    unit_price="UnitPrice",
    product="StockCode",
    cancellation_prefix="C",
)
#: Features of RETAIL_ROWS with the default as_of 2024-04-01 00:00 UTC, worked out by hand.
RETAIL_EXPECTED = {
    1: dict(
        recency_days=30,  # 2024-03-01 12:00 -> 04-01 00:00 is 30.5 days
        frequency=2,
        monetary=35.0,  # 10 + 3 + 2 + 20
        tenure_days=81,  # 2024-01-10 10:00 -> 04-01 00:00 is 82 days - 10 h (2024 is leap)
        avg_order_value=17.5,
        returns_value=5.0,
        return_rate=5.0 / 40.0,
        active_months=2,
        avg_days_between_orders=51 + 2 / 24,  # A1 counts at its earliest line, 10:00
        distinct_products=3,
    ),
    2: dict(
        recency_days=0, frequency=1, monetary=10.0, tenure_days=0, avg_order_value=10.0,
        returns_value=0.0, return_rate=0.0, active_months=1, avg_days_between_orders=None,
        distinct_products=1,
    ),
    5: dict(
        recency_days=45,  # 2024-02-15 09:00 -> 04-01 00:00 is 46 days - 9 h
        frequency=2,
        monetary=11.0,
        tenure_days=45,
        avg_order_value=5.5,
        returns_value=5.0,
        return_rate=5.0 / 16.0,
        active_months=1,
        avg_days_between_orders=0.0,
        distinct_products=2,
    ),
}


def assert_features(actual: dict, expected: dict) -> None:
    assert sorted(actual) == sorted(expected)
    for customer, values in expected.items():
        for name, value in values.items():
            got = actual[customer][name]
            if value is None or isinstance(value, int):
                assert got == value, (customer, name, got, value)
            else:
                assert got == pytest.approx(value, rel=1e-12), (customer, name, got, value)
