"""Synthetic transaction lines shaped like UCI Online Retail, for demos, tests and benchmarks.

Columns: ``InvoiceNo`` (string; cancellations start with ``C``), ``StockCode`` (string),
``Quantity`` (int64; negative on cancellations, rarely 0), ``InvoiceDate`` (string
``yyyy-MM-dd HH:mm:ss``, UTC, during 2023), ``UnitPrice`` (double; rarely 0 or negative) and
``CustomerID`` (double, null for guest invoices). Each customer has a few invoices (more for
some) of a few lines each, about 15 lines per customer on average; a few invoices have one
line stamped a minute later than the others. Generated in chunks of customers with numpy
and written with pyarrow (no Spark); the same seed gives the same files.

Examples
--------
>>> import tempfile
>>> generate_transactions(100, tempfile.mkdtemp(), seed=1) > 100
True
"""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

CUSTOMERS_PER_FILE = 50_000
FIRST_CUSTOMER_ID = 12346
FIRST_INVOICE_NO = 500000
PRODUCTS = 4000
START = np.datetime64("2023-01-01T00:00:00", "s")
DAY_S = 86_400
YEAR_DAYS = 365
CANCEL_RATE = 0.02
GUEST_RATE = 0.05
ZERO_PRICE_RATE = 0.003
NEGATIVE_PRICE_RATE = 0.0002
ZERO_QUANTITY_RATE = 0.001
LATE_LINE_RATE = 0.005


def generate_transactions(
    customers: int,
    output: str | os.PathLike[str],
    *,
    seed: int = 0,
    customers_per_file: int = CUSTOMERS_PER_FILE,
) -> int:
    """Write the transaction lines of ``customers`` customers as Parquet part files.

    Returns the number of lines written. The same ``seed`` (and ``customers_per_file``)
    gives the same files.
    """
    if customers < 1:
        raise ValueError(f"customers={customers} must be >= 1")
    os.makedirs(output, exist_ok=True)
    catalog_rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    catalog = product_catalog(catalog_rng)
    chunks = (customers + customers_per_file - 1) // customers_per_file
    seeds = np.random.SeedSequence([seed, 1]).spawn(chunks)
    lines = done = 0
    next_invoice = FIRST_INVOICE_NO
    for part, child in enumerate(seeds):
        n = min(customers_per_file, customers - done)
        table = transaction_chunk(
            np.random.default_rng(child),
            catalog,
            first_customer=FIRST_CUSTOMER_ID + done,
            n=n,
            first_invoice=next_invoice,
        )
        pq.write_table(table, os.path.join(output, f"part-{part:05d}.parquet"))
        next_invoice += len(pc.unique(table["InvoiceNo"]))
        lines += table.num_rows
        done += n
    return lines


def product_catalog(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Stock codes, log-normal unit prices and Zipf-like popularity of :data:`PRODUCTS`."""
    codes = np.char.add(np.arange(20000, 20000 + PRODUCTS).astype(str),
                        np.where(rng.random(PRODUCTS) < 0.15, "B", ""))
    prices = np.round(rng.lognormal(np.log(2.5), 0.8, PRODUCTS), 2) + 0.01
    weights = 1.0 / np.arange(1, PRODUCTS + 1) ** 0.9
    return {"codes": codes, "prices": prices, "p": weights / weights.sum()}


def transaction_chunk(
    rng: np.random.Generator,
    catalog: dict[str, np.ndarray],
    *,
    first_customer: int,
    n: int,
    first_invoice: int,
) -> pa.Table:
    """Lines of ``n`` customers with consecutive ids; invoices numbered from ``first_invoice``."""
    # Invoices: a few per customer (heavy-tailed), at random days of the customer's active span.
    invoices_per_customer = 1 + rng.poisson(np.minimum(rng.lognormal(np.log(2.5), 0.8, n), 60))
    customer = np.repeat(np.arange(n), invoices_per_customer)
    n_invoices = customer.size
    first_day = rng.integers(0, YEAR_DAYS, n)
    span = (YEAR_DAYS - first_day) * rng.random(n)
    day = (first_day[customer] + span[customer] * rng.random(n_invoices)).astype(np.int64)
    seconds = day * DAY_S + rng.integers(8 * 3600, 18 * 3600, n_invoices)
    cancelled = rng.random(n_invoices) < CANCEL_RATE
    guest = rng.random(n_invoices) < GUEST_RATE
    number = (first_invoice + np.arange(n_invoices)).astype(str)
    invoice_no = np.where(cancelled, np.char.add("C", number), number)

    # Lines: a few per invoice, each a product with its list price and a quantity.
    lines_per_invoice = 1 + rng.poisson(2.5, n_invoices)
    invoice = np.repeat(np.arange(n_invoices), lines_per_invoice)
    n_lines = invoice.size
    product = rng.choice(PRODUCTS, size=n_lines, p=catalog["p"])
    quantity = rng.geometric(0.3, n_lines).astype(np.int64)
    quantity = np.where(rng.random(n_lines) < 0.05, quantity * 12, quantity)
    quantity = np.where(rng.random(n_lines) < ZERO_QUANTITY_RATE, 0, quantity)
    quantity = np.where(cancelled[invoice], -quantity, quantity)
    list_price = catalog["prices"][product]
    draw = rng.random(n_lines)
    price = np.where(
        draw < NEGATIVE_PRICE_RATE,
        -list_price,
        np.where(draw < NEGATIVE_PRICE_RATE + ZERO_PRICE_RATE, 0.0, list_price),
    )
    late = rng.random(n_lines) < LATE_LINE_RATE
    timestamps = START + (seconds[invoice] + 60 * late).astype("timedelta64[s]")

    return pa.table(
        {
            "InvoiceNo": pa.array(invoice_no[invoice]),
            "StockCode": pa.array(catalog["codes"][product]),
            "Quantity": pa.array(quantity),
            "InvoiceDate": pc.strftime(pa.array(timestamps), format="%Y-%m-%d %H:%M:%S"),
            "UnitPrice": pa.array(price),
            "CustomerID": pa.array(
                (first_customer + customer[invoice]).astype(np.float64), mask=guest[invoice]
            ),
        }
    )
