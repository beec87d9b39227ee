"""A run's model as one SQL query: segments assigned where the customers live.

``segment export-sql`` writes a query (or a view) that gives every row of a table with the
run's input columns the ``segment`` and ``distance`` that ``segment score`` would: the
same cleaning (a value that is not a finite number is missing), ``log1p``, median
imputation, scaling and one-hot encoding as the saved model
(:mod:`segmentation.export.spec`), then the nearest centre in KMeans's index order (a tie
goes to the lower index, as in Spark) and the run's stable segment id. Every constant is
written with the digits that give back the model's double exactly, and each step is the
same floating-point operation in the same order as Spark's, so distances agree to the last
bits where the database's ``LN`` and ``SQRT`` do (``log1p`` is ``LN(1 + x)`` outside Spark).

Three dialects: ``spark`` (Spark SQL), ``postgresql`` and ``ansi`` (SQL:2003 functions and
types only; NaN and infinity do not exist there). A row with a missing value under a model
that does not impute (``features.missing: drop`` or ``fail``) gets a null segment and
distance: the SQL cannot refuse rows the way the jobs' validation does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from segmentation.core.errors import ConfigError
from segmentation.data.missing import present_value_sql
from segmentation.data.missing import quote as spark_quote
from segmentation.export.spec import CategoricalStep, NumericStep, ScoringSpec
from segmentation.model.columns import DISTANCE_COL, SEGMENT_COL
from segmentation.model.pipeline import MISSING_LEVEL


def _double_quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _not_finite_is_null(value: str) -> str:
    """PostgreSQL: NaN and +/-infinity become null, like the model's cleaning."""
    specials = ", ".join(f"CAST('{v}' AS DOUBLE PRECISION)"
                         for v in ("NaN", "Infinity", "-Infinity"))
    return f"CASE WHEN {value} IN ({specials}) THEN NULL ELSE {value} END"


def _ln1p(value: str) -> str:
    """``log1p`` where SQL has only ``LN``: null at or below -1, as Spark's ``log1p``."""
    return f"CASE WHEN {value} > -1 THEN LN(1 + {value}) END"


@dataclass(frozen=True)
class Dialect:
    """How one SQL dialect spells what the query needs."""

    name: str
    quote: Callable[[str], str]
    double: str
    text: str
    #: SQL of an input column as a double, null where it is missing.
    present: Callable[[str], str]
    log1p: Callable[[str], str]
    #: Identifier syntax accepted in --table and --view.
    identifier: str
    create_view: str


DIALECTS = {
    "spark": Dialect(
        name="spark", quote=spark_quote, double="DOUBLE", text="STRING",
        present=present_value_sql, log1p=lambda value: f"log1p({value})",
        identifier=r"[A-Za-z_][A-Za-z0-9_]*|`(?:[^`]|``)+`",
        create_view="CREATE OR REPLACE VIEW"),
    "postgresql": Dialect(
        name="postgresql", quote=_double_quote, double="DOUBLE PRECISION", text="TEXT",
        present=lambda column: _not_finite_is_null(
            f"CAST({_double_quote(column)} AS DOUBLE PRECISION)"),
        log1p=_ln1p, identifier=r'[A-Za-z_][A-Za-z0-9_$]*|"(?:[^"]|"")+"',
        create_view="CREATE OR REPLACE VIEW"),
    "ansi": Dialect(
        name="ansi", quote=_double_quote, double="DOUBLE PRECISION",
        text="CHARACTER VARYING(4000)",
        present=lambda column: f"CAST({_double_quote(column)} AS DOUBLE PRECISION)",
        log1p=_ln1p, identifier=r'[A-Za-z_][A-Za-z0-9_]*|"(?:[^"]|"")+"',
        create_view="CREATE VIEW"),
}


def table_name(name: str, dialect: Dialect, option: str) -> str:
    """``name`` as written in SQL (``schema.table``, parts quoted in the dialect's way when
    needed); a one-line :class:`ConfigError` naming ``option`` for anything else."""
    part = f"(?:{dialect.identifier})"
    if not re.fullmatch(rf"{part}(?:\.{part})*", name):
        raise ConfigError(
            f"{option} {name!r} is not a {dialect.name} table name: write it as in SQL "
            f"(schema.table, a part with other characters quoted as {dialect.quote('a b')})")
    return name


def scoring_query(spec: ScoringSpec, dialect: Dialect, *, table: str, id_column: str) -> str:
    """The query: ``id_column``, ``segment`` and ``distance`` for every row of ``table``."""
    q = dialect.quote
    cleaned = [f"{q(id_column)} AS id_"]
    cleaned += [f"{dialect.present(step.column)} AS n{i}"
                for i, step in enumerate(spec.numeric)]
    cleaned += [f"COALESCE(CAST({q(step.column)} AS {dialect.text}), '{MISSING_LEVEL}') AS c{i}"
                for i, step in enumerate(spec.categorical)]
    vector = [_numeric_entry(step, f"n{i}", dialect) for i, step in enumerate(spec.numeric)]
    for i, step in enumerate(spec.categorical):
        vector += _indicators(step, f"c{i}", dialect)
    prepared = ["id_", *(f"{entry} AS x{j}" for j, entry in enumerate(vector))]
    distances = ["id_", *(f"{_squared_distance(center, dialect)} AS d{i}"
                          for i, center in enumerate(spec.centers))]
    nearest, last = _nearest(len(spec.centers)), len(spec.centers) - 1
    segment = " ".join([*(f"WHEN {test} THEN {spec.segment_ids[i]}" for i, test in nearest),
                        f"ELSE {spec.segment_ids[last]}"])
    distance = " ".join([*(f"WHEN {test} THEN d{i}" for i, test in nearest), f"ELSE d{last}"])
    return "\n".join([
        "WITH cleaned AS (",
        f"  SELECT {_lines(cleaned)}",
        f"  FROM {table}",
        "), prepared AS (",
        f"  SELECT {_lines(prepared)}",
        "  FROM cleaned",
        "), distances AS (",
        f"  SELECT {_lines(distances)}",
        "  FROM prepared",
        ")",
        f"SELECT id_ AS {q(id_column)},",
        f"  CASE WHEN d0 IS NULL THEN NULL {segment} END AS {q(SEGMENT_COL)},",
        f"  SQRT(CASE WHEN d0 IS NULL THEN NULL {distance} END) AS {q(DISTANCE_COL)}",
        "FROM distances",
    ])


def scoring_sql(spec: ScoringSpec, dialect: Dialect, *, table: str, id_column: str,
                view: str | None, header: list[str]) -> str:
    """The whole text ``segment export-sql`` prints: ``header`` as comments, then the query
    or, with ``view``, the statement that creates (or replaces) that view."""
    query = scoring_query(spec, dialect, table=table, id_column=id_column)
    body = f"{dialect.create_view} {view} AS\n{query}" if view else query
    comments = [f"-- {line}".rstrip() for line in header]
    return "\n".join([*comments, f"{body};", ""])


def _lines(items: list[str]) -> str:
    return ",\n    ".join(items)


def _literal(value: float, dialect: Dialect) -> str:
    """``value`` exactly: the shortest digits that give back the same double."""
    return f"CAST({value!r} AS {dialect.double})"


def _numeric_entry(step: NumericStep, cleaned: str, dialect: Dialect) -> str:
    """The model's arithmetic on one cleaned numeric value (see NumericStep)."""
    value = dialect.log1p(cleaned) if step.log1p else cleaned
    if step.median is not None:
        value = f"COALESCE({value}, {_literal(step.median, dialect)})"
    if step.scale is not None:
        value = (f"({value} - {_literal(step.shift, dialect)}) * "
                 f"{_literal(step.scale, dialect)}")
    return value


def _indicators(step: CategoricalStep, level: str, dialect: Dialect) -> list[str]:
    """One entry per known level, one for a level the model never saw, one always 0."""
    one, zero = _literal(1.0, dialect), _literal(0.0, dialect)
    known = [f"CASE WHEN {level} = {_text(name)} THEN {one} ELSE {zero} END"
             for name in step.levels]
    listed = ", ".join(_text(name) for name in step.levels)
    unseen = f"CASE WHEN {level} IN ({listed}) THEN {zero} ELSE {one} END"
    return [*known, unseen, zero]


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _squared_distance(center: list[float], dialect: Dialect) -> str:
    """Sum of squared differences to ``center``, added in the vector's order (as Spark)."""
    terms = []
    for j, value in enumerate(center):
        diff = f"(x{j} - {_literal(value, dialect)})"
        terms.append(f"{diff} * {diff}")
    return " + ".join(terms)


def _nearest(k: int) -> list[tuple[int, str]]:
    """(cluster index, condition) of the first ``k - 1`` clusters in CASE order, each the
    nearest when its condition is the first to hold (the last cluster is the ELSE): the
    lowest index at the least distance, as Spark's KMeans."""
    return [(i, " AND ".join(f"d{i} <= d{j}" for j in range(i + 1, k))) for i in range(k - 1)]
