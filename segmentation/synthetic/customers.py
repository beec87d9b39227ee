"""Synthetic customer tables with known ground-truth segments, for demos, tests and benchmarks.

Each customer belongs to one of :data:`SEGMENTS` (column ``true_segment``); its features are
drawn around that segment's typical values with realistic marginals: skewed spend and
income (log-normal), counts (Poisson), ages, a share, a categorical channel, a categorical
region that carries no signal, and a few missing values; two attributes that are not
features, for reading segments against: ``churned`` (its rate depends on the segment) and
``revenue_next_q`` (a quarter of the spend, 0 for a churner). Rows are generated in chunks with
numpy and written straight to Parquet with pyarrow (no Spark), so tens of millions of rows
take about a minute.

Examples
--------
>>> import tempfile
>>> out = tempfile.mkdtemp()
>>> generate_customers(1000, out, seed=1)
1000
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

#: Numeric feature columns the generator writes (all carry segment signal).
NUMERIC_COLUMNS = [
    "age",
    "annual_income",
    "spend_12m",
    "orders_12m",
    "days_since_last_order",
    "avg_basket",
    "web_share",
    "tenure_months",
]
#: Categorical columns: ``channel`` depends on the segment, ``region`` does not.
CATEGORICAL_COLUMNS = ["channel", "region"]
CHANNELS = ["app", "store", "web"]
REGIONS = ["north", "south", "east", "west"]
ROWS_PER_FILE = 1_000_000


@dataclass(frozen=True)
class Segment:
    """Typical values of one ground-truth segment (medians for the skewed columns)."""

    name: str
    share: float
    age: float
    income_k: float
    spend: float
    orders: float
    recency_days: float
    web_share: float
    tenure_months: float
    channel_p: tuple[float, float, float]  # app, store, web
    #: Share of the segment that churns in the next quarter (an attribute not clustered).
    churn_rate: float = 0.1


SEGMENTS: tuple[Segment, ...] = (
    Segment("young digital bargain hunters", 0.25, 26, 32, 350, 14, 9, 0.92, 14,
            (0.85, 0.03, 0.12), churn_rate=0.12),
    Segment("affluent loyal", 0.10, 58, 160, 8000, 40, 6, 0.3, 100, (0.1, 0.8, 0.1),
            churn_rate=0.03),
    Segment("lapsed", 0.20, 46, 58, 120, 1.5, 260, 0.5, 45, (0.05, 0.1, 0.85),
            churn_rate=0.45),
    Segment("busy families", 0.20, 36, 65, 1600, 18, 20, 0.55, 30, (0.8, 0.1, 0.1),
            churn_rate=0.08),
    Segment("store-loyal seniors", 0.15, 71, 42, 900, 9, 30, 0.06, 120, (0.02, 0.93, 0.05),
            churn_rate=0.05),
    Segment("new big spenders", 0.10, 33, 95, 3200, 5, 4, 0.75, 3, (0.1, 0.05, 0.85),
            churn_rate=0.2),
)


def generate_customers(
    customers: int,
    output: str | os.PathLike[str],
    *,
    seed: int = 0,
    missing_rate: float = 0.005,
    rows_per_file: int = ROWS_PER_FILE,
) -> int:
    """Write ``customers`` rows as Parquet part files under the directory ``output``.

    Returns the number of rows written. The same ``seed`` gives the same table.
    """
    if customers < 1:
        raise ValueError(f"customers={customers} must be >= 1")
    os.makedirs(output, exist_ok=True)
    seeds = np.random.SeedSequence(seed).spawn((customers + rows_per_file - 1) // rows_per_file)
    written = 0
    for part, child in enumerate(seeds):
        n = min(rows_per_file, customers - written)
        table = customer_chunk(np.random.default_rng(child), first_id=written + 1, n=n,
                               missing_rate=missing_rate)
        pq.write_table(table, os.path.join(output, f"part-{part:05d}.parquet"))
        written += n
    return written


def customer_chunk(
    rng: np.random.Generator, *, first_id: int, n: int, missing_rate: float
) -> pa.Table:
    """One chunk of ``n`` customers with consecutive ids starting at ``first_id``."""
    shares = np.array([s.share for s in SEGMENTS])
    seg = rng.choice(len(SEGMENTS), size=n, p=shares / shares.sum())

    def per_segment(attr: str) -> np.ndarray:
        return np.array([getattr(s, attr) for s in SEGMENTS], dtype=float)[seg]

    age = np.clip(rng.normal(per_segment("age"), 4.0), 18, 95).round()
    income = np.round(per_segment("income_k") * rng.lognormal(0.0, 0.18, n), 1)
    spend = np.round(per_segment("spend") * rng.lognormal(0.0, 0.3, n), 2)
    orders = rng.poisson(per_segment("orders")) + 1
    recency = np.floor(per_segment("recency_days") * rng.lognormal(0.0, 0.3, n))
    basket = np.round(spend / orders, 2)
    web = np.clip(rng.normal(per_segment("web_share"), 0.06), 0.0, 1.0).round(3)
    tenure = np.maximum(1, np.round(per_segment("tenure_months") * rng.lognormal(0.0, 0.2, n)))
    channel_p = np.array([s.channel_p for s in SEGMENTS])[seg]
    channel = (channel_p.cumsum(axis=1) < rng.random(n)[:, None]).sum(axis=1)
    region = rng.integers(0, len(REGIONS), n)

    def with_missing(values: np.ndarray) -> pa.Array:
        mask = rng.random(n) < missing_rate
        return pa.array(values, mask=mask)

    table = pa.table(
        {
            "customer_id": pa.array(np.arange(first_id, first_id + n, dtype=np.int64)),
            "age": with_missing(age.astype(np.int32)),
            "annual_income": with_missing(income),
            "spend_12m": pa.array(spend),
            "orders_12m": pa.array(orders.astype(np.int32)),
            "days_since_last_order": pa.array(recency.astype(np.int32)),
            "avg_basket": pa.array(basket),
            "web_share": with_missing(web),
            "tenure_months": pa.array(tenure.astype(np.int32)),
            "channel": pa.DictionaryArray.from_arrays(
                pa.array(channel.astype(np.int8)), pa.array(CHANNELS)
            ).cast(pa.string()),
            "region": pa.DictionaryArray.from_arrays(
                pa.array(region.astype(np.int8)), pa.array(REGIONS)
            ).cast(pa.string()),
            "true_segment": pa.array(seg.astype(np.int32)),
        }
    )
    # Drawn last, so that every column above is what earlier versions generated.
    churned = rng.random(n) < per_segment("churn_rate")
    revenue = np.where(churned, 0.0, np.round(spend / 4 * rng.lognormal(0.0, 0.4, n), 2))
    return table.append_column("churned", pa.array(churned)).append_column(
        "revenue_next_q", pa.array(revenue))
