"""What a missing value is, defined once: null, NaN and +/-infinity are all missing.

Validation counts them, the drop policies drop them, the preparation pipeline imputes them,
profiles leave them out and the features job drops transaction lines that have them; all
through this one SQL expression. It is SQL text (not only a ``Column``) because the
preparation pipeline stores it in a saved ``SQLTransformer``.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F


def quote(name: str) -> str:
    """A column name as a Spark SQL identifier (backticks, embedded ones doubled)."""
    return "`" + name.replace("`", "``") + "`"


def present_value_sql(name: str) -> str:
    """SQL of the column ``name`` as a double, null where it is missing."""
    value = f"CAST({quote(name)} AS DOUBLE)"
    invalid = f"isnan({value}) OR abs({value}) = double('inf')"
    return f"CASE WHEN {invalid} THEN NULL ELSE {value} END"


def present_value(name: str) -> Column:
    """The column ``name`` as a double, null where it is missing."""
    return F.expr(present_value_sql(name))


def is_missing(name: str) -> Column:
    """True where the value of ``name`` is null, NaN or +/-infinity."""
    return present_value(name).isNull()


def any_missing(names: list[str]) -> Column:
    """True for a row where any of the ``names`` columns is missing."""
    missing: Column = F.lit(False)
    for name in names:
        missing = missing | is_missing(name)
    return missing
