"""Classified lines -> one row of RFM and behaviour features per customer.

:func:`customer_summary` aggregates the lines by invoice, then by customer (two group-bys
that also count every line used or dropped, for the manifest), and joins each attribute's
main value per customer; :func:`customer_features` turns that summary into the features of
the customers with a valid purchase.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from segmentation.core.errors import ConfigError
from segmentation.data.missing import is_missing
from segmentation.features.lines import LINE_REASONS, PURCHASE, RETURN, attribute_column
from segmentation.features.timestamps import DAY_US, to_micros

#: Assigned at customer level to the return lines of customers without any valid purchase
#: (such customers are not written).
NO_PURCHASE_REASON = "customer_without_purchases"
DROP_REASONS = (*LINE_REASONS, NO_PURCHASE_REASON)
PRODUCT_COLUMN = "distinct_products"


def check_attribute_names(features: DataFrame, attributes: list[str]) -> None:
    """Refuse an attribute named like a column the job writes itself (Spark compares names
    ignoring case by default, so this does too). Inspects the schema only."""
    for name in attributes:
        if [c.lower() for c in features.columns].count(name.lower()) > 1:
            raise ConfigError(
                f"transactions.attributes names {name!r}, a column the features job writes "
                "itself; rename the source column")


def customer_summary(lines: DataFrame) -> DataFrame:
    """Per customer id (null included): orders, value, first/last order, returns, line counts.

    Two group-bys: by (customer, invoice) -- an invoice's time is the earliest of its purchase
    lines -- then by customer. Columns: ``customer_id``, ``frequency`` (invoices with a
    purchase; 0 for customers without any valid purchase and for the null id), ``monetary``,
    ``first_us``, ``last_us``, ``active_months``, ``returns_value``, ``purchase_lines``,
    ``return_lines``, ``dropped_<reason>`` per :data:`LINE_REASONS` (so that one pass over the
    lines gives every count of the manifest), with a product column ``distinct_products``,
    and each attribute's :func:`main_values` (under :func:`attribute_column` of its name).
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
    summary = invoices.groupBy("customer_id").agg(*customer_aggs)
    for name in attribute_names(lines):
        summary = summary.join(main_values(lines, name), "customer_id", "left")
    return summary


def attribute_names(frame: DataFrame) -> list[str]:
    """The attributes (``transactions.attributes``) the standard lines or the summary carry."""
    prefix = attribute_column("")
    return [c[len(prefix):] for c in frame.columns if c.startswith(prefix)]


def main_values(lines: DataFrame, name: str) -> DataFrame:
    """``customer_id`` and the attribute's value on most of the customer's purchase orders
    (invoices): the smallest such value on a tie, null when no purchase line has one (NaN
    and infinity count as missing, as everywhere).

    Orders, not lines, are counted: a country or a channel belongs to the order, and an
    order of fifty lines is still one order.
    """
    column = attribute_column(name)
    value = F.col(column)
    present = (~is_missing(column) if isinstance(lines.schema[column].dataType,
                                                 T.FractionalType) else value.isNotNull())
    orders = (lines.where((F.col("kind") == PURCHASE) & present)
              .groupBy("customer_id", value.alias("value"))
              .agg(F.count_distinct("invoice_id").alias("orders")))
    return orders.groupBy("customer_id").agg(
        F.min_by("value", F.struct(-F.col("orders"), F.col("value")))
        .alias(attribute_column(name)))


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
        columns += [F.col(attribute_column(name)).alias(name)
                    for name in attribute_names(summary)]
        return summary.where(frequency > 0).select(*columns)

    return transform


def _whole_days(micros: Column) -> Column:
    return F.floor(micros / F.lit(DAY_US)).cast("int")
