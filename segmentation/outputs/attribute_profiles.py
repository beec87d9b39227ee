"""``attributes.csv``: the segments read against ``features.profile_columns``.

The labelled rows carry the profile columns (read with the input, or joined from
``profile_input`` by id: :func:`with_profile_columns`). One ``groupBy`` aggregation gives,
per segment and numeric column, the count of present values, mean, sample variance and
quartiles (``percentile_approx``); one more gives the count of each level of every text
or boolean column (a missing value is the level ``(missing)``). The tests of
difference are :mod:`segmentation.outputs.attributes`: per column ``test``, ``statistic``,
``dof`` (``dof2``) and ``p_value``; per numeric segment ``difference*``; per level cell
``residual`` and ``flagged``.

A table of its own, not rows of ``profiles.csv``: its statistics (a difference and its
interval, residuals, p-values) are not those of a profile, and readers of
``profiles.csv`` keep the two kinds of rows they know.

Privacy: a withheld segment's rows have every statistic blank and ``suppressed`` true;
the comparisons, the overall values and the chi-square tests are over the shown
segments' customers only, and a level only withheld customers have is not named.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from segmentation.core.errors import InputDataError
from segmentation.data.columns import with_configured_names
from segmentation.data.config import SourceConfig
from segmentation.data.missing import present_value
from segmentation.data.sources import read_source, source_name
from segmentation.data.validate import check_profile_types
from segmentation.model.columns import SEGMENT_COL
from segmentation.model.pipeline import MISSING_LEVEL
from segmentation.outputs.attributes import (
    ColumnTest,
    level_residuals,
    numeric_differences,
    welch_anova,
)
from segmentation.outputs.layout import ATTRIBUTE_COLUMNS, ATTRIBUTE_STATISTICS
from segmentation.outputs.privacy import withhold

_ACCURACY = 1_000  # percentile_approx relative error 0.1%


def read_profile_input(spark: SparkSession, source: SourceConfig, id_column: str,
                       columns: list[str]) -> DataFrame:
    """The id and ``columns`` of ``profile_input``, found as Spark resolves names and named
    as configured; one line when one is absent or of an unusable type."""
    labels = {id_column: f"id column {id_column!r} (input.id_column)",
              **{c: f"profile column {c!r} (features.profile_columns)" for c in columns}}

    def keep(raw: DataFrame) -> DataFrame:
        found = with_configured_names(raw, labels, source_name(source, "profile_input"))
        check_profile_types(found, columns)
        return found.select(id_column, *columns)

    return read_source(spark, source, "profile_input", keep).frame


def with_profile_columns(labelled: DataFrame, profile_rows: DataFrame, id_column: str,
                         columns: list[str], where: str) -> DataFrame:
    """The labelled rows' id and segment with ``columns`` of ``profile_rows`` joined by id
    (a customer without a row there has them missing); a repeated id is an error naming
    ``where`` (it would count a customer twice)."""
    repeated = (profile_rows.groupBy(id_column).count().where(F.col("count") > 1)
                .limit(1).collect())
    if repeated:
        raise InputDataError(f"{where}: id {repeated[0][id_column]!r} has more than one row; "
                             "profile columns need one row per customer")
    return labelled.select(id_column, SEGMENT_COL).join(
        profile_rows.select(id_column, *columns), on=id_column, how="left")


def is_numeric(field: T.DataType) -> bool:
    """A profile column whose means are compared (numbers; booleans and text have levels)."""
    return isinstance(field, T.NumericType)


def attribute_table(rows: DataFrame, columns: list[str], sizes: dict[int, int],
                    shown: list[int]) -> pd.DataFrame:
    """``attributes.csv``: ``rows`` have ``segment`` and ``columns``; ``sizes`` every
    segment's customers, ``shown`` the segments whose statistics are exported."""
    fields = {f.name: f.dataType for f in rows.schema.fields}
    numeric = [c for c in columns if is_numeric(fields[c])]
    tables = []
    if numeric:
        tables.append(_numeric_rows(rows, numeric, shown))
    texts = [c for c in columns if c not in numeric]
    if texts:
        counts = _level_counts(rows, texts, shown)
        tables += [_level_rows(counts[counts["attribute"] == c], c, shown) for c in texts]
    table = pd.concat(tables, ignore_index=True).reindex(columns=ATTRIBUTE_COLUMNS)
    withheld = sorted(set(sizes) - set(shown))
    keys = [SEGMENT_COL, "attribute", "level", "kind"]
    blanks = [(s, a, level, kind) for s in withheld
              for a, level, kind in table[keys[1:]].drop_duplicates().itertuples(index=False)]
    if blanks:  # the statistics of the withheld rows stay empty
        table = pd.concat([table, pd.DataFrame(blanks, columns=keys)], ignore_index=True)
    table = withhold(table.drop(columns="suppressed"), table[SEGMENT_COL].isin(withheld),
                     ATTRIBUTE_STATISTICS)
    order = {c: i for i, c in enumerate(columns)}
    table["_order"] = table["attribute"].map(order)
    table = table.sort_values(["_order", "level", SEGMENT_COL], na_position="first")
    return table.drop(columns="_order").reset_index(drop=True)[ATTRIBUTE_COLUMNS]


def _numeric_aggregates(name: str) -> list[Column]:
    value = present_value(name)
    return [F.count(value).alias(f"{name}|count"), F.avg(value).alias(f"{name}|mean"),
            F.var_samp(value).alias(f"{name}|var"),
            F.percentile_approx(value, [0.25, 0.5, 0.75], _ACCURACY).alias(f"{name}|q")]


def _numeric_rows(rows: DataFrame, names: list[str], shown: list[int]) -> pd.DataFrame:
    """One row per shown segment and numeric column, compared with the other shown ones."""
    aggs = [a for name in names for a in _numeric_aggregates(name)]
    per: pd.DataFrame = (rows.where(F.col(SEGMENT_COL).isin(shown))
                         .groupBy(SEGMENT_COL).agg(*aggs).toPandas())
    out = []
    for name in names:
        stats = pd.DataFrame({SEGMENT_COL: per[SEGMENT_COL].astype(int),
                              "count": per[f"{name}|count"].astype(float),
                              "mean": per[f"{name}|mean"].astype(float),
                              "var": per[f"{name}|var"].astype(float)})
        tests = numeric_differences(stats, shown).set_index(SEGMENT_COL)
        column_test = _test_columns(welch_anova(stats, shown))
        present = stats["count"] > 0
        overall = (float((stats["count"] * stats["mean"])[present].sum()
                         / stats["count"].sum()) if stats["count"].sum() else np.nan)
        for i, row in stats.iterrows():
            q = per.at[i, f"{name}|q"]
            q25, median, q75 = list(q) if isinstance(q, (list, np.ndarray)) else [np.nan] * 3
            test = tests.loc[row[SEGMENT_COL]]
            out.append({SEGMENT_COL: row[SEGMENT_COL], "attribute": name, "level": "",
                        "kind": "numeric", "count": row["count"], "mean": row["mean"],
                        "std": float(np.sqrt(row["var"])), "q25": q25, "median": median,
                        "q75": q75, "overall": overall, **test.to_dict(), **column_test})
    return pd.DataFrame(out)


def _test_columns(test: ColumnTest) -> dict[str, object]:
    """A column's test as the columns of ``attributes.csv``."""
    return {"test": test.name, "statistic": test.statistic, "dof": test.dof,
            "dof2": test.dof2, "p_value": test.p_value}


def _level_counts(rows: DataFrame, names: list[str], shown: list[int]) -> pd.DataFrame:
    """``attribute, segment, level, count`` of the text and boolean columns ``names`` over
    the shown segments, in one aggregation (a missing value is the level ``(missing)``)."""
    cells = F.inline(F.array(*[
        F.struct(F.lit(name).alias("attribute"),
                 F.coalesce(F.col(name).cast("string"), F.lit(MISSING_LEVEL)).alias("level"))
        for name in names]))
    counts: pd.DataFrame = (rows.where(F.col(SEGMENT_COL).isin(shown))
                            .select(SEGMENT_COL, cells)
                            .groupBy("attribute", SEGMENT_COL, "level").count().toPandas())
    return counts


def _level_rows(counts: pd.DataFrame, name: str, shown: list[int]) -> pd.DataFrame:
    """One row per shown segment and level of ``name`` (its ``counts``) with the residual
    and the test."""
    cells, test = level_residuals(counts[[SEGMENT_COL, "level", "count"]], shown)
    overall = cells.groupby("level")["count"].sum() / cells["count"].sum()
    return cells.assign(attribute=name, kind="categorical",
                        overall=cells["level"].map(overall), **_test_columns(test))
