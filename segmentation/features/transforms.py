"""Transaction lines -> one row of RFM and behaviour features per customer, in Spark.

Pure ``DataFrame -> DataFrame`` transforms that chain::

    standard_lines(raw, tx)                   # mapped columns, timestamps as UTC microseconds
      .transform(classify_lines(as_of=..., cancellation_prefix=...))   # reason / kind per line
      .transform(customer_summary)            # invoice level, then customer level (group-bys)
      .transform(customer_features(as_of=...))                  # one row per buying customer
      .transform(with_rfm_scores)             # optional quintile scores (window functions)

Time is carried as ``ts_us``, microseconds since 1970-01-01 UTC, so that whole days,
calendar months and the default ``as_of`` never depend on the session time zone. The
definitions are documented in ``docs/features.md``.

Examples
--------
>>> from segmentation.features.config import TransactionsConfig
>>> tx = TransactionsConfig(path="tx", customer_id="c", invoice_id="i", timestamp="t",
...                         timestamp_format="yyyy-MM-dd HH:mm:ss", amount="a")
>>> raw = spark.createDataFrame(  # doctest: +SKIP
...     [(1, "A1", "2024-01-05 10:00:00", 30.0)], "c long, i string, t string, a double")
>>> as_of = default_as_of(to_micros(dt.datetime(2024, 1, 5, 10, tzinfo=dt.timezone.utc)))
>>> feats = (standard_lines(raw, tx)  # doctest: +SKIP
...          .transform(classify_lines(as_of=as_of, cancellation_prefix=None))
...          .transform(customer_summary).transform(customer_features(as_of=as_of)))
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from segmentation.core.errors import ConfigError, InputDataError
from segmentation.data.missing import present_value
from segmentation.data.sources import source_name
from segmentation.features.config import TransactionsConfig

DAY_US = 86_400_000_000
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)

#: Why a line is not used, in the order the checks apply (a line gets the first that fits).
LINE_REASONS = (
    "null_customer_id",
    "missing_value",
    "unparseable_timestamp",
    "after_as_of",
    "non_positive_price",
    "zero_quantity",
    "zero_amount",
)
#: Assigned at customer level to the return lines of customers without any valid purchase
#: (such customers are not written).
NO_PURCHASE_REASON = "customer_without_purchases"
DROP_REASONS = (*LINE_REASONS, NO_PURCHASE_REASON)
PURCHASE, RETURN = "purchase", "return"
PRODUCT_COLUMN = "distinct_products"

_ZONE_LETTERS = re.compile(r"[VzOXxZ]")
_QUOTED = re.compile(r"'[^']*'")


def to_micros(instant: dt.datetime) -> int:
    """Microseconds since 1970-01-01 UTC of an aware datetime."""
    return (instant - EPOCH) // dt.timedelta(microseconds=1)


def from_micros(micros: int) -> dt.datetime:
    """The aware UTC datetime of ``micros`` since 1970-01-01 UTC."""
    return EPOCH + dt.timedelta(microseconds=micros)


def default_as_of(latest_us: int) -> dt.datetime:
    """00:00 UTC of the calendar day after the instant ``latest_us``."""
    return from_micros((latest_us // DAY_US + 1) * DAY_US)


def check_transaction_columns(df: DataFrame, tx: TransactionsConfig) -> None:
    """Fail with one message when a mapped column is missing or has an unusable type.

    Only the schema is inspected (no Spark job runs).
    """
    present = df.columns
    missing = [
        f"{col!r} (transactions.{role})"
        for role, col in tx.role_columns().items()
        if col not in present
    ]
    if missing:
        raise InputDataError(
            f"{source_name(tx, 'transactions')} lacks column(s) {', '.join(missing)}; "
            f"present: {', '.join(present)}"
        )
    types = {f.name: f.dataType for f in df.schema.fields}

    def wrong(role: str, expected: str) -> InputDataError:
        col = getattr(tx, role)
        return InputDataError(
            f"column {col!r} (transactions.{role}) has type {types[col].simpleString()}; "
            f"expected {expected}"
        )

    if not _is_number(types[tx.customer_id]) and not isinstance(
        types[tx.customer_id], T.StringType
    ):
        raise wrong("customer_id", "a number or a string")
    if tx.invoice_id is not None and not isinstance(
        types[tx.invoice_id], (T.StringType, T.IntegralType)
    ):
        raise wrong("invoice_id", "a string or an integer")
    for role in ("amount", "quantity", "unit_price"):
        if getattr(tx, role) is not None and not _is_number(types[getattr(tx, role)]):
            raise wrong(role, "a number")
    if tx.product is not None and not isinstance(
        types[tx.product], (T.StringType, T.IntegralType)
    ):
        raise wrong("product", "a string or an integer")
    ts_type = types[tx.timestamp]
    if isinstance(ts_type, T.StringType):
        if tx.timestamp_format is None:
            raise ConfigError(
                f"column {tx.timestamp!r} (transactions.timestamp) holds strings: set "
                "transactions.timestamp_format (a Spark datetime pattern, e.g. "
                "'yyyy-MM-dd HH:mm:ss')"
            )
    elif isinstance(ts_type, (T.TimestampType, T.TimestampNTZType, T.DateType)):
        if tx.timestamp_format is not None:
            raise ConfigError(
                f"transactions.timestamp_format is set but column {tx.timestamp!r} already has "
                f"type {ts_type.simpleString()}; remove transactions.timestamp_format"
            )
    else:
        raise wrong("timestamp", "a timestamp, a date or a string")


def _is_number(data_type: T.DataType) -> bool:
    return isinstance(data_type, T.NumericType)


def standard_lines(raw: DataFrame, tx: TransactionsConfig) -> DataFrame:
    """The mapped source columns under standard names, with the timestamp parsed.

    Columns: ``customer_id`` (source type; NaN -> null), ``invoice_id`` (string; without
    ``transactions.invoice_id`` the line's timestamp, so that one customer's lines at one
    moment are one order), ``ts_source``
    (the source timestamp as text, for messages), ``ts_us`` (long, null when missing or
    unparseable), ``value`` (double: quantity x unit price, or amount), ``quantity`` and
    ``unit_price`` (doubles, quantity mode only), ``product`` (string, when configured).
    Numbers that are missing (null, NaN or infinite: :mod:`segmentation.data.missing`) are
    null, so their lines are dropped as ``missing_value``.
    """
    check_transaction_columns(raw, tx)
    customer = F.col(tx.customer_id)
    if isinstance(raw.schema[tx.customer_id].dataType, T.FractionalType):
        customer = F.when(~F.isnan(customer), customer)
    ts_us = _timestamp_micros(raw, tx)
    if tx.invoice_id is not None:
        invoice = F.col(tx.invoice_id).cast("string")
    else:  # one order per customer and timestamp; "-" where the timestamp is unusable,
        # so that the line is dropped for its timestamp, not as a missing invoice id
        invoice = F.coalesce(ts_us.cast("string"), F.lit("-"))
    columns = [
        customer.alias("customer_id"),
        invoice.alias("invoice_id"),
        F.col(tx.timestamp).cast("string").alias("ts_source"),
        ts_us.alias("ts_us"),
    ]
    if tx.amount is not None:
        columns.append(present_value(tx.amount).alias("value"))
    else:
        quantity, price = present_value(str(tx.quantity)), present_value(str(tx.unit_price))
        columns += [
            (quantity * price).alias("value"),
            quantity.alias("quantity"),
            price.alias("unit_price"),
        ]
    if tx.product is not None:
        columns.append(F.col(tx.product).cast("string").alias("product"))
    return raw.select(*columns)


def _timestamp_micros(raw: DataFrame, tx: TransactionsConfig) -> Column:
    """UTC microseconds of the timestamp column, whatever the session time zone is.

    Values without a zone (``TIMESTAMP_NTZ``, dates, strings whose pattern has no zone
    field) are read as UTC; unparseable strings become null (never an error under ANSI).
    """
    col = F.col(tx.timestamp)
    data_type = raw.schema[tx.timestamp].dataType
    if isinstance(data_type, T.TimestampType):
        return F.unix_micros(col)
    if isinstance(data_type, T.TimestampNTZType):
        epoch = F.lit("1970-01-01 00:00:00").cast("timestamp_ntz")  # a string cast is zone-free
        return F.timestamp_diff("MICROSECOND", epoch, col)
    if isinstance(data_type, T.DateType):
        return F.unix_date(col).cast("long") * DAY_US
    pattern = str(tx.timestamp_format)
    if _ZONE_LETTERS.search(_QUOTED.sub("", pattern)):
        return F.unix_micros(F.try_to_timestamp(col, F.lit(pattern)))
    return F.unix_micros(
        F.try_to_timestamp(F.concat(col, F.lit(" +00:00")), F.lit(f"{pattern} XXX"))
    )


def classify_lines(
    *, as_of: dt.datetime, cancellation_prefix: str | None
) -> Callable[[DataFrame], DataFrame]:
    """Add ``reason`` (why a line is dropped, null when used) and ``kind`` (purchase/return).

    Checks in order (first that fits): null customer id; missing invoice id, timestamp or
    value; unparseable timestamp; timestamp at or after ``as_of``; non-positive unit price;
    zero quantity (zero amount in amount mode). The remaining lines are returns when their
    invoice id starts with ``cancellation_prefix`` or their quantity (amount) is negative,
    purchases otherwise.
    """
    as_of_us = to_micros(as_of)

    def transform(lines: DataFrame) -> DataFrame:
        quantity_mode = "quantity" in lines.columns
        signed = F.col("quantity") if quantity_mode else F.col("value")
        reason = (
            F.when(F.col("customer_id").isNull(), "null_customer_id")
            .when(
                F.col("invoice_id").isNull()
                | F.col("ts_source").isNull()
                | F.col("value").isNull(),
                "missing_value",
            )
            .when(F.col("ts_us").isNull(), "unparseable_timestamp")
            .when(F.col("ts_us") >= F.lit(as_of_us), "after_as_of")
        )
        if quantity_mode:
            reason = reason.when(F.col("unit_price") <= 0, "non_positive_price").when(
                F.col("quantity") == 0, "zero_quantity"
            )
        else:
            reason = reason.when(F.col("value") == 0, "zero_amount")
        is_return = signed < 0
        if cancellation_prefix is not None:
            is_return = is_return | F.col("invoice_id").startswith(cancellation_prefix)
        kind = F.when(F.col("reason").isNull(), F.when(is_return, RETURN).otherwise(PURCHASE))
        return lines.withColumn("reason", reason).withColumn("kind", kind)

    return transform


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


def with_rfm_scores(features: DataFrame) -> DataFrame:
    """Add classic RFM quintile scores 1..5 (``ntile(5)`` over the whole table).

    ``r_score`` 5 = most recent, ``f_score``/``m_score`` 5 = most orders/money. Ties are
    broken by customer id (the lower id gets the lower score), so scores are deterministic.
    The windows have no partition: Spark sorts the customer table in one task, which is
    fine for millions of customers but is the step to watch beyond that.
    """
    by_id = F.col("customer_id").asc()
    orders = {
        "r_score": [F.col("recency_days").desc(), by_id],
        "f_score": [F.col("frequency").asc(), by_id],
        "m_score": [F.col("monetary").asc(), by_id],
    }
    for name, order in orders.items():
        features = features.withColumn(name, F.ntile(5).over(Window.orderBy(*order)))
    return features
