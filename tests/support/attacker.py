"""An attacker of a run's exported files: every number they show, then sums and differences.

The attacker reads everything that may leave the cluster (CSV cells, JSON values, the
numbers in the report's HTML and in any other text, MLflow parameters, metric histories and
artifacts) and tries to recover what is secret about a withheld segment: a statistic of its
values (directly, as ``a + b`` or as ``a - b`` of two exported numbers), or, by subtraction
from what the shown segments export, a total over every customer that includes it.

Numbers in prose (the report's HTML) are read but carry no column name, so the attacker,
which combines only numbers about one column, does not use them: the report is made from
the exported tables alone, and its renderings of the secrets are looked for by
``test_privacy``'s text search.

The secrets are computed here with pandas from the input and the labels (which stay with
the data), not by the code under test. Non-linear metrics of the whole clustering
(silhouette, Davies-Bouldin, ...) are not attacked: no sum or difference isolates a segment
in them.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

#: A printed number: sign, digits with an optional fraction, optional exponent.
NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.])")
#: Columns that name a row (segment ids, k), not quantities.
LABELS = {"segment", "previous_segment", "k"}
#: Tables are written with ``%.10g``: a cell may differ from its value by this share.
PRINTED_PRECISION = 5e-10
#: Spark and pandas sum in different orders: their sums may differ by this share.
ARITHMETIC_PRECISION = 1e-11


@dataclass(frozen=True)
class Number:
    """One number an exported file shows: its value, how far from it the true value may be
    (:func:`printed`) and where it is shown."""

    value: float
    error: float
    where: str


def printed(text: str, where: str, *, table: bool = False) -> Number:
    """The number ``text`` prints. A table cell (``%.10g``, trailing zeros dropped) is that
    precise whatever its digits; a number in prose is rounded to its last digit."""
    value = float(text)
    if table:
        return Number(value, PRINTED_PRECISION * abs(value), where)
    mantissa, _, exponent = text.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return Number(value, 0.5 * 10.0 ** (int(exponent or 0) - decimals), where)


def numbers_in_text(text: str, where: str) -> Iterator[Number]:
    for match in NUMBER.finditer(text):
        yield printed(match.group(), where)


def numbers_in_csv(text: str, where: str) -> Iterator[Number]:
    """Each numeric cell, named by its column and the row's text cells (segment, feature)."""
    rows = list(csv.reader(io.StringIO(text)))
    for row in rows[1:]:
        yield from numbers_in_row(dict(zip(rows[0], row)), where)


def numbers_in_row(row: dict[str, object], where: str) -> Iterator[Number]:
    """The numbers of one table row, named by column and the row's text cells. Cells that
    are numbers already (a Parquet file's) are exact; printed cells are as precise as
    :func:`printed` says."""
    label = ",".join(f"{c}={v}" if c in LABELS else str(v) for c, v in row.items()
                     if c in LABELS or isinstance(v, str) and v and not NUMBER.fullmatch(v))
    for column, cell in row.items():
        if column in LABELS:
            continue
        here = f"{where}:{column}[{label}]"
        if isinstance(cell, str):
            if NUMBER.fullmatch(cell):
                yield printed(cell, here, table=True)
            else:
                yield from numbers_in_text(cell, here)
        elif isinstance(cell, (int, float, np.number)) and np.isfinite(cell):
            yield Number(float(cell), 1e-15 * abs(float(cell)), here)


def numbers_in_json(value: object, where: str) -> Iterator[Number]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from numbers_in_json(item, f"{where}.{key}")
    elif isinstance(value, list):
        for position, item in enumerate(value):
            yield from numbers_in_json(item, f"{where}[{position}]")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield Number(float(value), 1e-15 * abs(value), where)
    elif isinstance(value, str):
        yield from numbers_in_text(value, where)


#: What an exported file's text is read as: its path and text -> the text to attack
#: (for example without wall-clock times, which are not data).
Cleaner = Callable[[Path, str], str]


def numbers_in_file(path: Path, where: str, clean: Cleaner) -> Iterator[Number]:
    """Every number of an exported file (images have none an attacker can read exactly)."""
    if path.suffix == ".png" or path.name.endswith(".crc"):
        return
    if path.suffix == ".parquet":
        for row in pd.read_parquet(path).to_dict("records"):
            yield from numbers_in_row(row, where)
        return
    text = clean(path, path.read_text(encoding="utf-8"))
    if path.suffix == ".csv":
        yield from numbers_in_csv(text, where)
    elif path.suffix == ".json":
        yield from numbers_in_json(json.loads(text), where)
    else:
        yield from numbers_in_text(text, where)


def files_under(root: Path, names: Iterable[str]) -> Iterator[Path]:
    """The files ``names`` under ``root`` and the files in the folders among them."""
    for name in names:
        top = root / name
        yield from (p for p in ([top] if top.is_file() else sorted(top.rglob("*")))
                    if p.is_file())


def numbers_in_tree(root: Path, names: Iterable[str], clean: Cleaner) -> Iterator[Number]:
    """Every number of the files ``names`` (files or folders) under ``root``."""
    for path in files_under(root, names):
        yield from numbers_in_file(path, str(path.relative_to(root)), clean)


def numbers_in_mlflow(uri: str, run_id: str, download_to: Path,
                      clean: Cleaner) -> Iterator[Number]:
    """Every parameter, every value of every metric's history and every artifact of an
    MLflow run."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    data = client.get_run(run_id).data
    for key, value in data.params.items():
        yield from numbers_in_text(f"{key} {value}", f"mlflow param {key}")
    for key in data.metrics:
        for metric in client.get_metric_history(run_id, key):
            yield Number(metric.value, 1e-15 * abs(metric.value),
                         f"mlflow metric {key}@{metric.step}")
    local = Path(client.download_artifacts(run_id, "", str(download_to)))
    yield from numbers_in_tree(local, [p.name for p in local.iterdir()], clean)


def distinct(value: float) -> bool:
    """Whether ``value`` has more than three significant digits: fewer (1.0, 250, 0.5) match
    unrelated numbers by chance, so they cannot show a recovery."""
    return bool(np.isfinite(value)) and abs(float(f"{value:.3g}") - value) > 1e-9 * abs(value)


def about(column: str, level: str | None = None) -> tuple[str, ...]:
    """What a number of ``column`` (of its ``level``) is shown with: the column's name
    (distances also as WCSS), a level as ``column=level``, ``column.level`` in JSON,
    ``column,level`` in a table with a level column (attributes.csv)."""
    if level is not None:
        return f"{column}={level}", f"{column}.{level}", f"{column},{level}"
    return ("distance", "wcss") if column == "distance" else (column,)


@dataclass(frozen=True)
class Secret:
    """A value of a withheld segment, or a total over every customer (``shown``: the same
    over the shown segments' customers; exported when it differs, it gives the withheld
    part by subtraction). ``column``: what it is about; the attacker combines only numbers
    shown with it (a sum of an age and an income means nothing), which also keeps
    coincidences out: thousands of exported numbers give almost any value by chance."""

    value: float
    words: tuple[str, ...]
    shown: float | None = None

    def about(self, number: Number) -> bool:
        where = number.where.lower()
        return any(word.lower() in where for word in self.words)


def recoveries(numbers: list[Number], secrets: dict[str, Secret]) -> list[str]:
    """The secrets that an exported number, or the sum or difference of two, gives to four
    significant digits or better. Whole numbers are looked for alone: sums and differences
    of exported counts give every whole number."""
    found = []
    for name, secret in secrets.items():
        target = secret.value
        if not distinct(target):
            continue
        related = sorted((n for n in numbers if secret.about(n)), key=lambda n: n.value)
        wanted = 1e-4 * abs(target)
        found += [f"{name} = {n.where}" for n in related if n.error <= wanted
                  and abs(n.value - target) <= n.error + ARITHMETIC_PRECISION * abs(target)]
        if float(target).is_integer():
            continue
        values = np.array([n.value for n in related])
        # a + b = target and a - b = target: the b each a needs, found in the sorted values
        for sign, needed in ((1, target - values), (-1, values - target)):
            low = np.searchsorted(values, needed - wanted, side="left")
            high = np.searchsorted(values, needed + wanted, side="right")
            for i in np.flatnonzero(high > low):
                a = related[i]
                for b in related[low[i]:high[i]]:
                    tolerance = a.error + b.error + ARITHMETIC_PRECISION * (
                        abs(a.value) + abs(b.value) + abs(target))
                    if tolerance <= wanted and abs(a.value + sign * b.value - target) \
                            <= tolerance:
                        found.append(f"{name} = {a.where} {'+-'[sign < 0]} {b.where}")
    return found


def exported_totals(numbers: list[Number], totals: dict[str, Secret]) -> list[str]:
    """The totals over every customer that an exported number shows, where that differs
    from the shown customers' total."""
    found = []
    for name, total in totals.items():
        tolerance = ARITHMETIC_PRECISION * abs(total.value)
        if total.shown is not None and abs(total.value - total.shown) <= tolerance + 1e-9:
            continue
        found += [f"{name} = {n.where}" for n in numbers
                  if total.about(n) and abs(n.value - total.value) <= n.error + tolerance
                  and n.error <= 1e-3 * max(abs(total.value), 1.0)]
    return found


def statistics(values: pd.Series) -> dict[str, float]:
    """What an attacker would want of one column of a segment."""
    x = values.dropna().astype(float)
    if x.empty:
        return {}
    return {"sum": x.sum(), "mean": x.mean(), "sum of squares": (x ** 2).sum(),
            "variance": x.var(ddof=0), "sample variance": x.var(), "std": x.std(ddof=0),
            "sample std": x.std(), "median": x.median(), "min": x.min(), "max": x.max()}


def segment_secrets(rows: pd.DataFrame, segments: Iterable[int], numeric: list[str],
                    categorical: list[str]) -> dict[str, Secret]:
    """Per segment: the statistics of every numeric column (the distance to its centre
    included) and the share of every categorical level. ``rows``: the customers with their
    ``segment`` and ``distance``."""
    secrets: dict[str, Secret] = {}
    for segment in segments:
        mine = rows[rows["segment"] == segment]
        for column in [*numeric, "distance"]:
            secrets |= {f"segment {segment} {column} {what}": Secret(value, about(column))
                        for what, value in statistics(mine[column]).items()}
        for column in categorical:
            for level, share in mine[column].value_counts(normalize=True).items():
                secrets[f"segment {segment} {column}={level} share"] = Secret(
                    share, about(column, str(level)))
    return secrets


def totals_over_everyone(rows: pd.DataFrame, withheld: Iterable[int], numeric: list[str],
                         categorical: list[str]) -> dict[str, Secret]:
    """Sums, means, sums of squares and spreads of every numeric column, missing counts per
    column and counts per categorical level: over every customer and over the shown."""
    shown = rows[~rows["segment"].isin(list(withheld))]
    totals: dict[str, Secret] = {}
    for column in [*numeric, "distance"]:
        everyone, mine = statistics(rows[column]), statistics(shown[column])
        for what in everyone.keys() - {"min", "max", "median"}:
            totals[f"all customers' {column} {what}"] = Secret(
                everyone[what], about(column), mine.get(what, np.nan))
        totals[f"all customers' missing {column}"] = Secret(
            float(rows[column].isna().sum()), about(column), float(shown[column].isna().sum()))
    for column in categorical:
        counts = shown[column].value_counts()
        for level, count in rows[column].value_counts().items():
            totals[f"all customers' {column}={level}"] = Secret(
                float(count), about(column, str(level)), float(counts.get(level, 0)))
    return totals
