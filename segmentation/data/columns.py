"""Configured column names found in a table the way Spark SQL resolves them.

Spark matches column names ignoring case unless ``spark.sql.caseSensitive`` is set, and
databases fold unquoted names (PostgreSQL to lower case), so ``CUST_ID`` in a config must
find ``cust_id`` in the table. The columns found are renamed to the configured spelling,
so that every output (labels, profiles, the manifest) names them as the user wrote them.
A name that is not there gets a did-you-mean; a name that matches several columns
ignoring case is refused, as Spark refuses it.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

from pyspark.sql import DataFrame

from segmentation.core.errors import InputDataError


def case_sensitive(df: DataFrame) -> bool:
    """Whether the session of ``df`` matches column names with their case."""
    return str(df.sparkSession.conf.get("spark.sql.caseSensitive", "false")).lower() == "true"


def with_configured_names(df: DataFrame, wanted: Mapping[str, str], where: str) -> DataFrame:
    """``df`` with each configured column (name -> the column as messages name it, e.g.
    ``"id column 'x' (input.id_column)"``) found as Spark resolves it and renamed to the
    configured spelling.

    Fails with one line naming the column, its config key, the closest present name and
    every present column when one is missing or ambiguous.
    """
    present = df.columns
    exact = case_sensitive(df)
    renames: dict[str, str] = {}
    for name, label in wanted.items():
        found = [c for c in present if c == name or (not exact and c.lower() == name.lower())]
        if len(found) > 1:
            raise InputDataError(
                f"{label} matches several columns of {where} ignoring case "
                f"({', '.join(found)}); rename one, or set spark.sql.caseSensitive=true "
                "and spell it exactly"
            )
        if not found:
            raise InputDataError(
                f"{label} not found in {where}{closest(name, present)}; "
                f"present columns: {', '.join(present)}"
            )
        if found[0] != name:
            renames[found[0]] = name
    return df.withColumnsRenamed(renames) if renames else df


def closest(name: str, present: list[str]) -> str:
    """``; did you mean x?`` with the present column closest to ``name`` (ignoring case),
    or nothing when none is close."""
    lowered = {c.lower(): c for c in present}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1)
    return f"; did you mean {lowered[close[0]]!r}?" if close else ""
