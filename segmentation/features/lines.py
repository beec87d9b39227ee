"""Transaction lines in standard form, each classified: used as a purchase or a return, or
dropped with its reason.

:func:`standard_lines` maps the configured source columns to standard names and parses the
timestamp into ``ts_us`` (UTC microseconds, :mod:`segmentation.features.timestamps`);
:func:`classify_lines` adds why a line is dropped (``reason``) or what it is (``kind``).
The definitions are documented in ``docs/features.md``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from segmentation.core.errors import ConfigError, InputDataError
from segmentation.data.columns import with_configured_names
from segmentation.data.missing import present_value
from segmentation.data.sources import source_name
from segmentation.features.config import TransactionsConfig
from segmentation.features.timestamps import DAY_US, to_micros

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
PURCHASE, RETURN = "purchase", "return"

_ZONE_LETTERS = re.compile(r"[VzOXxZ]")
_QUOTED = re.compile(r"'[^']*'")


def check_transaction_columns(df: DataFrame, tx: TransactionsConfig) -> DataFrame:
    """``df`` with the mapped columns found as Spark resolves names and named as configured
    (:mod:`segmentation.data.columns`); fails with one message when one is missing,
    ambiguous or has an unusable type.

    Only the schema is inspected (no Spark job runs).
    """
    mapped = {col: f"column {col!r} (transactions.attributes)" for col in tx.attributes}
    mapped.update({col: f"column {col!r} (transactions.{role})"
                   for role, col in tx.role_columns().items()})
    df = with_configured_names(df, mapped, source_name(tx, "transactions"))
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
    for name in tx.attributes:
        if not isinstance(types[name], T.AtomicType):
            raise InputDataError(
                f"column {name!r} (transactions.attributes) has type "
                f"{types[name].simpleString()}; expected one value per line (text, number, "
                "boolean, date or timestamp)")
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
    return df


def _is_number(data_type: T.DataType) -> bool:
    return isinstance(data_type, T.NumericType)


def standard_lines(raw: DataFrame, tx: TransactionsConfig) -> DataFrame:
    """The mapped source columns under standard names, with the timestamp parsed.

    Columns: ``customer_id`` (source type; NaN -> null), ``invoice_id`` (string; without
    ``transactions.invoice_id`` the line's timestamp, so that one customer's lines at one
    moment are one order), ``ts_source``
    (the source timestamp as text, for messages), ``ts_us`` (long, null when missing or
    unparseable), ``value`` (double: quantity x unit price, or amount), ``quantity`` and
    ``unit_price`` (doubles, quantity mode only), ``product`` (string, when configured),
    and each of ``transactions.attributes`` under :func:`attribute_column` of its name.
    Numbers that are missing (null, NaN or infinite: :mod:`segmentation.data.missing`) are
    null, so their lines are dropped as ``missing_value``.
    """
    raw = check_transaction_columns(raw, tx)
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
    columns += [F.col(name).alias(attribute_column(name)) for name in tx.attributes]
    return raw.select(*columns)


def attribute_column(name: str) -> str:
    """The standard lines' column of the attribute ``name`` (apart from the standard names)."""
    return f"attribute:{name}"


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
