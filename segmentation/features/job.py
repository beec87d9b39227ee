"""The features job: read transaction lines, validate, build customer features, write them.

``run_features`` composes read -> validate -> transform -> write. It reads the input twice:
one aggregation for validation, the row count and the default ``as_of``, then the two
group-bys of the customer summary, which is cached and gives both the features and every
count of the manifest; only those counts reach the driver. Outputs under ``output.path``,
written atomically: ``features/`` (Parquet, one row per customer), ``manifest.json`` and
``_SUCCESS``.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from segmentation.core.caching import cached
from segmentation.core.errors import InputDataError
from segmentation.data.sources import read_source, source_name
from segmentation.features.config import FeaturesJobConfig, TransactionsConfig, parse_as_of
from segmentation.features.customers import (
    DROP_REASONS,
    NO_PURCHASE_REASON,
    check_attribute_names,
    customer_features,
    customer_summary,
)
from segmentation.features.lines import (
    LINE_REASONS,
    PURCHASE,
    RETURN,
    check_transaction_columns,
    classify_lines,
    standard_lines,
)
from segmentation.features.rfm import with_rfm_scores
from segmentation.features.timestamps import default_as_of, from_micros
from segmentation.outputs.jobframe import JobFrame, job_frame
from segmentation.tracking.hook import tracking_hook

log = logging.getLogger(__name__)

FEATURES_DIR = "features"


def run_features(spark: SparkSession, cfg: FeaturesJobConfig) -> dict[str, Any]:
    """Build the customer features of ``cfg`` and write them; return the manifest.

    The output's lock is held for the whole job (a second run on the path is refused).
    """
    with job_frame(spark, cfg.output, main=FEATURES_DIR) as frame:
        return _build_features(spark, cfg, frame)


def _build_features(spark: SparkSession, cfg: FeaturesJobConfig, frame: JobFrame
                    ) -> dict[str, Any]:
    timer = frame.timer
    tx = cfg.transactions
    with timer.stage("read_and_validate"):
        read = read_source(spark, tx, "transactions", lambda raw: check_transaction_columns(
            raw, tx).select(*tx.source_columns()))
        lines = standard_lines(read.frame, tx)
        # the written columns do not depend on as_of: checked on the plan, before any pass
        epoch = from_micros(0)
        check_attribute_names(customer_features_of(summary_of(lines, tx, epoch), cfg, epoch),
                              tx.attributes)
        stats = scan_lines(lines, tx)
        if tx.as_of is not None:
            as_of, as_of_source = parse_as_of(tx.as_of), "config"
        else:
            as_of, as_of_source = default_as_of(stats["latest_us"]), "default"
        log.info("%d lines read; as_of %s (%s)", stats["rows"], as_of.isoformat(), as_of_source)
        timer.rows = stats["rows"]

    summary = cached(summary_of(lines, tx, as_of))
    try:
        features = customer_features_of(summary, cfg, as_of)
        with timer.stage("summarise"):
            counts = count_lines(summary, stats["rows"])
            if counts["customers_written"] == 0:
                raise InputDataError(
                    f"no customer has a valid purchase before as_of {as_of.isoformat()} "
                    f"({stats['rows']} lines read; dropped: {_nonzero(counts['rows_dropped'])})"
                )
        timer.rows = counts["customers_written"]
        with frame.staging() as out:
            with timer.stage("write_features"):
                features.write.parquet(out.file(FEATURES_DIR))
            manifest = frame.write_manifest(out, {
                "job": "features",
                "as_of": as_of.isoformat(),
                "as_of_source": as_of_source,
                "input": read.summary,
                "timestamp_range": {
                    "first": from_micros(stats["earliest_us"]).isoformat(),
                    "last": from_micros(stats["latest_us"]).isoformat(),
                },
                "rows_read": stats["rows"],
                **counts,
                "features_path": FEATURES_DIR,
                "columns": features.columns,
                "config": cfg.to_dict(),
            }, tracking_hook(cfg.tracking.mlflow, "features"), id_column="customer_id")
    finally:
        summary.unpersist()
    log.info(
        "%d customers written to %s (%d lines used; dropped: %s) in %.1f s",
        counts["customers_written"],
        cfg.output.path,
        counts["rows_used"],
        _nonzero(counts["rows_dropped"]) or "none",
        manifest["duration_seconds"],
    )
    return manifest


def customer_features_of(summary: DataFrame, cfg: FeaturesJobConfig, as_of: dt.datetime
                         ) -> DataFrame:
    """The written table: the features of the customer ``summary``, RFM scores if asked."""
    features = customer_features(as_of=as_of)(summary)
    return with_rfm_scores(features) if cfg.features.rfm_scores else features


def summary_of(lines: DataFrame, tx: TransactionsConfig, as_of: dt.datetime) -> DataFrame:
    """The customer summary of ``lines`` classified at ``as_of`` (a plan; nothing runs)."""
    return customer_summary(classify_lines(
        as_of=as_of, cancellation_prefix=tx.cancellation_prefix)(lines))


def scan_lines(lines: DataFrame, tx: TransactionsConfig) -> dict[str, Any]:
    """One aggregation over the standard lines: counts and the timestamp range, validated.

    Fails on an empty input, when no timestamp can be parsed, or on a floating-point customer
    id with a fractional part; warns about the unparseable timestamps it will drop.
    """
    unparseable = F.col("ts_source").isNotNull() & F.col("ts_us").isNull()
    aggs = [
        F.count(F.lit(1)).alias("rows"),
        F.count_if(F.col("ts_source").isNull()).alias("missing_ts"),
        F.count_if(unparseable).alias("unparseable"),
        F.min(F.when(unparseable, F.col("ts_source"))).alias("example"),
        F.min("ts_us").alias("earliest_us"),
        F.max("ts_us").alias("latest_us"),
    ]
    if isinstance(lines.schema["customer_id"].dataType, T.FractionalType):
        fractional = F.col("customer_id") != F.floor("customer_id")
        aggs.append(F.count_if(fractional).alias("fractional_ids"))
    stats = lines.agg(*aggs).first().asDict()  # type: ignore[union-attr]
    if stats["rows"] == 0:
        raise InputDataError(f"{source_name(tx, 'transactions')} holds no transaction lines")
    if stats["latest_us"] is None:
        raise InputDataError(
            f"no timestamp in column {tx.timestamp!r} (transactions.timestamp) is usable: "
            f"{stats['unparseable']} of {stats['rows']} cannot be parsed with "
            f"transactions.timestamp_format {tx.timestamp_format!r} (e.g. {stats['example']!r})"
            f" and {stats['missing_ts']} are null"
        )
    if stats["unparseable"]:
        log.warning(
            "%d of %d timestamps in column %r cannot be parsed with %r (e.g. %r); those lines "
            "are dropped as unparseable_timestamp",
            stats["unparseable"], stats["rows"], tx.timestamp, tx.timestamp_format,
            stats["example"],
        )
    if stats.get("fractional_ids"):
        raise InputDataError(
            f"column {tx.customer_id!r} (transactions.customer_id) is floating-point and "
            f"{stats['fractional_ids']} values have a fractional part; ids must be whole numbers"
        )
    return stats


def count_lines(summary: DataFrame, rows_read: int) -> dict[str, Any]:
    """Lines used and dropped per reason, customers written and without purchases.

    Aggregates the (small, cached) customer summary. ``rows_used`` counts the purchase and
    return lines of the written customers; the return lines of customers without any
    purchase are dropped as ``customer_without_purchases``. ``customers_without_purchases``
    counts the customer ids read that are not written (only returns, or only lines dropped
    for another reason). Checks ``rows_read == rows_used + sum(rows_dropped)``: the counts
    come from another pass over the input than ``rows_read``, so a mismatch means the input
    changed while the job ran.
    """
    buyer = F.col("frequency") > 0
    non_buyer = ~buyer & F.col("customer_id").isNotNull()
    totals = summary.agg(
        F.count_if(buyer).alias("written"),
        F.count_if(non_buyer).alias("without_purchases"),
        F.sum(F.when(buyer, F.col("purchase_lines"))).alias(PURCHASE),
        F.sum(F.when(buyer, F.col("return_lines"))).alias(RETURN),
        F.sum(F.when(~buyer, F.col("return_lines"))).alias(NO_PURCHASE_REASON),
        *(F.sum(f"dropped_{reason}").alias(reason) for reason in LINE_REASONS),
    ).first()
    assert totals is not None
    used = {kind: int(totals[kind] or 0) for kind in (PURCHASE, RETURN)}
    dropped = {reason: int(totals[reason] or 0) for reason in DROP_REASONS}
    accounted = sum(used.values()) + sum(dropped.values())
    if accounted != rows_read:
        raise RuntimeError(
            f"line accounting does not add up: {rows_read} read, {accounted} used or dropped "
            "(did the input change while the job ran?)"
        )
    return {
        "rows_used": sum(used.values()),
        "rows_used_by_kind": used,
        "rows_dropped": dropped,
        "customers_written": int(totals["written"]),
        "customers_without_purchases": int(totals["without_purchases"]),
    }


def _nonzero(counts: dict[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in counts.items() if v)
