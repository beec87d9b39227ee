"""Classified lines -> one row of RFM and behaviour features per customer.

:func:`customer_summary` aggregates the lines by invoice, then by customer (two group-bys
that also count every line used or dropped, for the manifest); :func:`customer_features`
turns that summary into the features of the customers with a valid purchase.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from segmentation.features.lines import LINE_REASONS, PURCHASE, RETURN
from segmentation.features.timestamps import DAY_US, to_micros

#: Assigned at customer level to the return lines of customers without any valid purchase
#: (such customers are not written).
NO_PURCHASE_REASON = "customer_without_purchases"
DROP_REASONS = (*LINE_REASONS, NO_PURCHASE_REASON)
PRODUCT_COLUMN = "distinct_products"


def customer_summary(lines: DataFrame) -> DataFrame:
    """Per customer id (null included): orders, value, first/last order, returns, line counts.

    Two group-bys: by (customer, invoice) -- an invoice's time is the earliest of its purchase
    lines -- then by customer. Columns: ``customer_id``, ``frequency`` (invoices with a
    purchase; 0 for customers without any valid purchase and for the null id), ``monetary``,
    ``first_us``, ``last_us``, ``active_months``, ``returns_value``, ``purchase_lines``,
    ``return_lines``, ``dropped_<reason>`` per :data:`LINE_REASONS` (so that one pass over the
    lines gives every count of the manifest) and, with a product column, ``distinct_products``.
    """
    with_products = "product" in lines.columns
    purchase = F.col("kind") == PURCHASE
    returned = F.col("kind") == RETURN
    counted = ["purchase_lines", "return_lines", *(f"dropped_{r}" for r in LINE_REASONS)]
    invoice_aggs = [
        F.min(F.when(purchase, F.col("ts_us"))).alias("invoice_us"),
        F.sum(F.when(purchase, F.col("value"))).alias("invoice_value"),
        F.sum(F.when(returned, F.abs(F.col("value")))).alias("invoice_returns"),
        F.count_if(purchase).alias("purchase_lines"),
        F.count_if(returned).alias("return_lines"),
        *(F.count_if(F.col("reason") == r).alias(f"dropped_{r}") for r in LINE_REASONS),
    ]
    if with_products:
        invoice_aggs.append(F.collect_set(F.when(purchase, F.col("product"))).alias("products"))
    invoices = lines.groupBy("customer_id", "invoice_id").agg(*invoice_aggs)
    day = F.date_from_unix_date(F.floor(F.col("invoice_us") / DAY_US).cast("int"))
    customer_aggs = [
        F.count("invoice_us").alias("frequency"),
        F.sum("invoice_value").alias("monetary"),
        F.min("invoice_us").alias("first_us"),
        F.max("invoice_us").alias("last_us"),
        F.count_distinct(F.trunc(day, "month")).alias("active_months"),
        F.coalesce(F.sum("invoice_returns"), F.lit(0.0)).alias("returns_value"),
        *(F.sum(name).alias(name) for name in counted),
    ]
    if with_products:
        customer_aggs.append(
            F.size(F.array_distinct(F.flatten(F.collect_list("products")))).alias(PRODUCT_COLUMN)
        )
    return invoices.groupBy("customer_id").agg(*customer_aggs)


def customer_features(*, as_of: dt.datetime) -> Callable[[DataFrame], DataFrame]:
    """Features of the customers with at least one valid purchase (one row each).

    Whole days are rounded down; ``avg_days_between_orders`` is in fractional days and null
    for single-order customers. A floating-point customer id (Online Retail's ``CustomerID``)
    is written as a long.
    """
    as_of_us = F.lit(to_micros(as_of))

    def transform(summary: DataFrame) -> DataFrame:
        customer = F.col("customer_id")
        if isinstance(summary.schema["customer_id"].dataType, T.FractionalType):
            customer = customer.cast("long")
        frequency, monetary = F.col("frequency"), F.col("monetary")
        columns = [
            customer.alias("customer_id"),
            _whole_days(as_of_us - F.col("last_us")).alias("recency_days"),
            frequency.cast("int").alias("frequency"),
            monetary.alias("monetary"),
            _whole_days(as_of_us - F.col("first_us")).alias("tenure_days"),
            (monetary / frequency).alias("avg_order_value"),
            F.col("returns_value"),
            (F.col("returns_value") / (monetary + F.col("returns_value"))).alias("return_rate"),
            F.col("active_months").cast("int").alias("active_months"),
            F.when(
                frequency > 1,
                (F.col("last_us") - F.col("first_us")) / F.lit(float(DAY_US)) / (frequency - 1),
            ).alias("avg_days_between_orders"),
        ]
        if PRODUCT_COLUMN in summary.columns:
            columns.append(F.col(PRODUCT_COLUMN).cast("int").alias(PRODUCT_COLUMN))
        return summary.where(frequency > 0).select(*columns)

    return transform


def _whole_days(micros: Column) -> Column:
    return F.floor(micros / F.lit(DAY_US)).cast("int")
