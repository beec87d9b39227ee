"""Checks of the customer table before any expensive work, in one aggregation pass.

Schema problems (missing or mistyped columns) are found from the schema alone; value
problems (no rows, null or duplicate ids, all-null features, missing values under the
``fail`` policy, log1p of values <= -1, too many categories) come from one aggregation whose
counts also feed the manifest. Every problem raises :class:`InputDataError` with one line
that names the column, the value and the limit.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from segmentation.core.errors import InputDataError
from segmentation.data.columns import with_configured_names
from segmentation.data.config import FeaturesConfig, InputConfig
from segmentation.data.missing import any_missing, present_value
from segmentation.data.sources import source_name

log = logging.getLogger(__name__)

NUMERIC_TYPES = (T.ByteType, T.ShortType, T.IntegerType, T.LongType, T.FloatType,
                 T.DoubleType, T.DecimalType)
CATEGORICAL_TYPES = (T.StringType, T.ByteType, T.ShortType, T.IntegerType, T.LongType,
                     T.BooleanType)


@dataclass(frozen=True)
class InputProfile:
    """What the validation pass counted: feeds the missing-value policy and the manifest."""

    rows: int
    #: column -> {"null": n, "nan": n, "inf": n}
    missing: dict[str, dict[str, int]]
    rows_with_missing: int
    constant_columns: list[str] = field(default_factory=list)
    category_levels: dict[str, int] = field(default_factory=dict)


def check_schema(df: DataFrame, source: InputConfig, features: FeaturesConfig,
                 profile_columns: Sequence[str] = ()) -> DataFrame:
    """``df`` with the configured columns (the id, the features and the
    ``profile_columns`` read from it) found as Spark resolves names and named as
    configured (:mod:`segmentation.data.columns`); fails with one line when one is absent,
    ambiguous or of an unusable type."""
    labels = {name: f"{label} {name!r} ({key})" for name, label, key in (
        (source.id_column, "id column", "input.id_column"),
        *((n, "feature column", "features.numeric") for n in features.numeric),
        *((n, "feature column", "features.categorical") for n in features.categorical),
        *((n, "profile column", "features.profile_columns") for n in profile_columns),
    )}
    df = with_configured_names(df, labels, source_name(source, "input"))
    types = dict(df.dtypes)
    fields = {f.name: f.dataType for f in df.schema.fields}
    for key, names, allowed, kind in (
        ("features.numeric", features.numeric, NUMERIC_TYPES, "numeric"),
        ("features.categorical", features.categorical, CATEGORICAL_TYPES, "categorical"),
    ):
        for name in names:
            if not isinstance(fields[name], allowed):
                raise InputDataError(
                    f"feature column {name!r} ({key}) has type {types[name]}, which is not "
                    f"{kind}; convert it upstream (values like '12,5' are never cast silently)"
                )
    check_profile_types(df, profile_columns)
    return df


def check_profile_types(df: DataFrame, profile_columns: Sequence[str]) -> None:
    """Fail with one line unless each profile column is a number, text or a boolean."""
    types = dict(df.dtypes)
    fields = {f.name: f.dataType for f in df.schema.fields}
    for name in profile_columns:
        if not isinstance(fields[name], NUMERIC_TYPES + CATEGORICAL_TYPES):
            raise InputDataError(
                f"profile column {name!r} (features.profile_columns) has type {types[name]}: "
                "a profile column is a number (means compared) or text or boolean (levels)")


def profile_input(df: DataFrame, source: InputConfig, features: FeaturesConfig
                  ) -> InputProfile:
    """Count rows, null ids, missing values and categories in one aggregation."""
    id_col, feats = source.id_column, features
    aggs: list[Column] = [
        F.count(F.lit(1)).alias("rows"),
        F.sum(F.col(id_col).isNull().cast("long")).alias("null_ids"),
    ]
    for name in feats.numeric:
        c = F.col(name).cast("double")
        valid = present_value(name)
        aggs += [
            F.sum(c.isNull().cast("long")).alias(f"{name}__null"),
            F.sum(F.isnan(c).cast("long")).alias(f"{name}__nan"),
            F.sum((F.abs(c) == float("inf")).cast("long")).alias(f"{name}__inf"),
            F.min(valid).alias(f"{name}__min"),
            F.max(valid).alias(f"{name}__max"),
        ]
    for name in feats.categorical:
        aggs.append(F.approx_count_distinct(F.col(name)).alias(f"{name}__levels"))
    if feats.missing == "drop":
        aggs.append(F.sum(any_missing(feats.numeric).cast("long")).alias("rows_with_missing"))
    row = df.agg(*aggs).first()
    assert row is not None
    values = row.asDict()
    profile = InputProfile(
        rows=int(values["rows"]),
        missing={
            name: {kind: int(values[f"{name}__{kind}"] or 0) for kind in ("null", "nan", "inf")}
            for name in feats.numeric
        },
        rows_with_missing=int(values.get("rows_with_missing") or 0),
        constant_columns=[
            name for name in feats.numeric
            if values[f"{name}__min"] is not None
            and values[f"{name}__min"] == values[f"{name}__max"]
        ],
        category_levels={name: int(values[f"{name}__levels"]) for name in feats.categorical},
    )
    _check_values(profile, values, source, features, null_ids=int(values["null_ids"] or 0))
    return profile


def check_duplicate_ids(partitioned: DataFrame, id_col: str, *, rows: int) -> None:
    """Fail when some ids repeat (policy ``input.duplicate_ids: fail``).

    ``partitioned`` is hash-partitioned by id, so grouping by id needs no shuffle.
    """
    counts = partitioned.groupBy(id_col).count().where(F.col("count") > 1)
    repeated = counts.agg(F.sum(F.col("count") - 1).alias("n")).collect()[0]["n"]
    if repeated:
        raise InputDataError(
            f"{repeated} of {rows} rows repeat an id already present ({id_col!r}); "
            "set input.duplicate_ids: drop to drop every row of a repeated id"
        )


def _check_values(profile: InputProfile, values: dict, source: InputConfig,
                  features: FeaturesConfig, *, null_ids: int) -> None:
    id_col = source.id_column
    if profile.rows == 0:
        raise InputDataError(f"{source_name(source, 'input')} has zero rows")
    if null_ids:
        raise InputDataError(f"{null_ids} of {profile.rows} rows have a null id ({id_col!r})")
    for name, counts in profile.missing.items():
        missing = sum(counts.values())
        if missing == profile.rows:
            raise InputDataError(
                f"feature column {name!r} has no usable value: all {profile.rows} rows are "
                "null, NaN or infinite"
            )
        if missing and features.missing == "fail":
            detail = ", ".join(f"{v} {k}" for k, v in counts.items() if v)
            raise InputDataError(
                f"feature column {name!r} has {missing} missing values ({detail}) and "
                "features.missing is fail (use impute or drop)"
            )
        low = values[f"{name}__min"]
        if name in features.log1p and low is not None and low <= -1:
            raise InputDataError(
                f"feature column {name!r} is in features.log1p but has values <= -1 "
                f"(min {low}); log1p is undefined there"
            )
    for name, levels in profile.category_levels.items():
        if levels > features.max_categories:
            raise InputDataError(
                f"categorical column {name!r} has about {levels} levels, more than "
                f"features.max_categories={features.max_categories}"
            )
    for name in profile.constant_columns:
        log.warning("feature column %r is constant; it cannot separate segments", name)
