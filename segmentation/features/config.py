"""Typed, frozen configuration of the features job (transactions -> one row per customer).

Built with the same machinery as every job's config (:func:`build_dataclass`: unknown keys
get a did-you-mean, values are type-checked, the ``transactions`` source is checked as every
source is) plus the checks that involve several keys.
Every problem is a :class:`~segmentation.core.errors.ConfigError` whose message names the key.

Examples
--------
>>> cfg = features_config_from_dict({
...     "transactions": {"path": "tx", "customer_id": "CustomerID", "invoice_id": "InvoiceNo",
...                      "timestamp": "InvoiceDate", "amount": "Amount"},
...     "output": {"path": "features-run"}})
>>> cfg.transactions.format, cfg.output.mode, cfg.features.rfm_scores
('parquet', 'error', False)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from segmentation.core.configfile import (
    build_dataclass,
    check_paths_apart,
    parse_instant,
    read_yaml_with_overrides,
    required,
)
from segmentation.core.errors import ConfigError
from segmentation.core.secrets import redact
from segmentation.data.config import OutputTarget, SourceConfig
from segmentation.tracking.config import TrackingConfig

log = logging.getLogger(__name__)

#: Keys of earlier versions, still read: old key -> what it becomes.
LEGACY_KEYS = {"csv_schema": "schema", "csv_header": "options.header"}


@dataclass(frozen=True)
class TransactionsConfig(SourceConfig):
    """Where the transaction lines are (``path``/``table``/``jdbc``, as every job's input)
    and which source column plays which role."""

    customer_id: str = required()
    #: Optional: without it, the lines of one customer at the same timestamp are one order.
    invoice_id: str | None = None
    #: A timestamp column, or a string column parsed with ``timestamp_format``.
    timestamp: str = required()
    #: Spark datetime pattern (``yyyy-MM-dd HH:mm:ss``); values without a zone are UTC.
    timestamp_format: str | None = None
    #: Either ``amount`` (value of the line) or both ``quantity`` and ``unit_price``.
    amount: str | None = None
    quantity: str | None = None
    unit_price: str | None = None
    product: str | None = None
    #: Invoices whose id starts with this prefix are cancellations (their lines are returns).
    cancellation_prefix: str | None = None
    #: Reference instant of recency and tenure (ISO 8601; no zone means UTC). Default:
    #: 00:00 UTC of the day after the latest timestamp read.
    as_of: str | None = None
    #: Columns that describe the customer rather than the line (``Country``, ``Channel``):
    #: each is written under its own name with the customer's main value, the one on most
    #: of their orders. Not clustered unless named in the segmentation's features; meant
    #: for its ``features.profile_columns``.
    attributes: list[str] = field(default_factory=list)

    def pinned_time(self) -> str | None:
        """None: ``timestamp`` is a column here (pin the table with ``version``)."""
        return None

    def role_columns(self) -> dict[str, str]:
        """The configured source column of each role (``transactions.<role>`` -> column)."""
        roles = ("customer_id", "invoice_id", "timestamp", "amount", "quantity", "unit_price",
                 "product")
        return {role: getattr(self, role) for role in roles if getattr(self, role) is not None}

    def source_columns(self) -> list[str]:
        """Every source column the job reads: the roles' columns, then the attributes."""
        return list(dict.fromkeys([*self.role_columns().values(), *self.attributes]))


@dataclass(frozen=True)
class FeatureOptions:
    """Optional feature groups."""

    #: Add classic RFM quintile scores ``r_score``, ``f_score``, ``m_score`` (1..5).
    rfm_scores: bool = False


#: Where the features and the manifest are written (``output.table``: the features table).
FeaturesOutputConfig = OutputTarget


@dataclass(frozen=True)
class FeaturesJobConfig:
    """The whole configuration of one features run."""

    transactions: TransactionsConfig
    output: FeaturesOutputConfig
    features: FeatureOptions = field(default_factory=FeatureOptions)
    #: Extra Spark settings (``spark.*`` keys) applied when this project builds the session.
    spark: dict[str, str] = field(default_factory=dict)
    #: Experiment tracking (``tracking.mlflow``; off when absent).
    tracking: TrackingConfig = field(default_factory=TrackingConfig)

    def to_dict(self) -> dict[str, Any]:
        """The resolved configuration as plain data, secrets redacted (for the manifest)."""
        return redact(dataclasses.asdict(self))


def load_features_config(
    path: str | os.PathLike[str], overrides: Sequence[str] = ()
) -> FeaturesJobConfig:
    """Read a YAML config file, apply ``key.sub=value`` overrides and validate the result."""
    return features_config_from_dict(read_yaml_with_overrides(path, overrides))


def features_config_from_dict(data: Mapping[str, Any]) -> FeaturesJobConfig:
    """Build and validate a :class:`FeaturesJobConfig` from plain data (as read from YAML)."""
    cfg = build_dataclass(FeaturesJobConfig, _with_legacy_keys(data), "")
    validate_features_config(cfg)
    return cfg


def _with_legacy_keys(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """``transactions.csv_schema``/``csv_header`` (earlier versions) as ``schema``/``options``.

    A CSV read the old way kept its header default (true); each old key gets a note that
    names the new one.
    """
    tx = data.get("transactions")
    if not isinstance(tx, Mapping) or not any(key in tx for key in LEGACY_KEYS):
        return data
    tx = dict(tx)
    for old, new in LEGACY_KEYS.items():
        if old in tx:
            log.warning("transactions.%s is read as transactions.%s (its new name); "
                        "rename it", old, new)
    if "csv_schema" in tx:
        if "schema" in tx:
            raise ConfigError("transactions.csv_schema and transactions.schema are both set: "
                              "keep transactions.schema")
        tx["schema"] = tx.pop("csv_schema")
    options = dict(tx.get("options") or {})
    header = tx.pop("csv_header", True)
    if str(tx.get("format", "parquet")).lower() == "csv":
        options.setdefault("header", header)
    tx["options"] = options
    return {**data, "transactions": tx}


def parse_as_of(text: str, key: str = "transactions.as_of") -> dt.datetime:
    """``transactions.as_of`` as an aware UTC datetime (no zone given means UTC)."""
    return parse_instant(text, key)


def validate_features_config(cfg: FeaturesJobConfig) -> None:
    """Checks that involve several keys; raise ConfigError naming the keys."""
    tx = cfg.transactions
    if tx.amount is not None and (tx.quantity is not None or tx.unit_price is not None):
        raise ConfigError(
            "transactions.amount and transactions.quantity/unit_price are both set: "
            "give either amount or quantity and unit_price"
        )
    if tx.amount is None:
        if tx.quantity is None and tx.unit_price is None:
            raise ConfigError(
                "transactions.amount is not set: give either transactions.amount or "
                "transactions.quantity and transactions.unit_price"
            )
        if tx.quantity is None or tx.unit_price is None:
            given, missing = (
                ("quantity", "unit_price") if tx.unit_price is None else ("unit_price", "quantity")
            )
            raise ConfigError(
                f"transactions.{missing} is not set: transactions.{given} needs it "
                "(or give transactions.amount instead)"
            )
    if tx.invoice_id is None and tx.cancellation_prefix is not None:
        raise ConfigError(
            "transactions.cancellation_prefix needs transactions.invoice_id (cancellations "
            "are recognised by their invoice id); without invoice ids, returns are the lines "
            "with a negative quantity or amount"
        )
    seen: dict[str, str] = {}
    for role, column in tx.role_columns().items():
        if column in seen:
            raise ConfigError(
                f"transactions.{role} and transactions.{seen[column]} both name column {column!r}"
            )
        seen[column] = role
    repeated = sorted({name for name in tx.attributes if tx.attributes.count(name) > 1})
    if repeated:
        raise ConfigError(f"transactions.attributes names {', '.join(map(repr, repeated))} "
                          "more than once")
    if tx.as_of is not None:
        parse_as_of(tx.as_of)
    if tx.path is not None:
        check_paths_apart(tx.path, cfg.output.path, "transactions.path", "output.path")
