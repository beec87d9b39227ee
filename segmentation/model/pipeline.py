"""The Spark ML preparation pipeline: missing values, log1p, one-hot, assembly, scaling.

Stages, in order:

1. ``SQLTransformer``: each numeric feature cast to double, NaN and +/-inf turned into null
   (:mod:`segmentation.data.missing`: they follow the missing-value policy and never reach
   KMeans), ``log1p`` applied to
   the configured skewed columns; each categorical column cast to string, null -> "(missing)".
2. :class:`~segmentation.model.scaler.NumericScaler`: the median for a missing value when
   ``features.missing`` is ``impute``, then mean 0 and std 1 (a constant column has std 0
   and becomes 0, never NaN); ``features.scale: false`` skips the scaling. The same
   arithmetic as Spark's ``ImputerModel`` and ``StandardScalerModel``.
3. ``StringIndexer`` (alphabetical, unseen levels kept) + ``OneHotEncoder`` (all levels) per
   categorical column. Indicators are not standardised: a rare level scaled to unit
   variance would outweigh every numeric feature, while 0/1 puts two customers who differ
   in one category sqrt(2) apart, about one standard deviation per differing indicator.
4. ``VectorAssembler`` of the scaled numerics and the indicators into ``features``.

The medians, means and standard deviations come from one aggregation
(:func:`numeric_statistics`), not from ``Imputer.fit`` and ``StandardScaler.fit``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd
from pyspark.ml import PipelineModel, Transformer
from pyspark.ml.feature import (
    OneHotEncoder,
    SQLTransformer,
    StringIndexer,
    StringIndexerModel,
    VectorAssembler,
)
from pyspark.ml.functions import vector_to_array
from pyspark.ml.linalg import VectorUDT
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from segmentation.core.errors import InputDataError
from segmentation.data.config import FeaturesConfig
from segmentation.data.missing import present_value_sql, quote
from segmentation.model.columns import FEATURES_COL
from segmentation.model.scaler import NumericScaler

MISSING_LEVEL = "(missing)"
#: Present values per column the imputation median is taken from.
MEDIAN_SAMPLE_ROWS = 100_000


def clean_column(name: str) -> str:
    """Name of the cleaned (double, NaN/inf -> null, log1p-ed) copy of a numeric feature."""
    return f"_num_{name}"


def category_column(name: str) -> str:
    """Name of the cleaned string copy of a categorical feature."""
    return f"_cat_{name}"


def cleaning_statement(features: FeaturesConfig) -> str:
    """The SQL of stage 1 (see the module docstring)."""
    parts = ["*"]
    for name in features.numeric:
        clean = present_value_sql(name)
        if name in features.log1p:
            clean = f"log1p({clean})"
        parts.append(f"{clean} AS {quote(clean_column(name))}")
    for name in features.categorical:
        parts.append(
            f"coalesce(CAST({quote(name)} AS STRING), '{MISSING_LEVEL}') "
            f"AS {quote(category_column(name))}"
        )
    return f"SELECT {', '.join(parts)} FROM __THIS__"


@dataclass(frozen=True)
class NumericStatistics:
    """What the fitted numeric stages need, per cleaned numeric column, in column order."""

    medians: list[float]  # of the present values (what missing values are imputed with)
    means: list[float]  # after imputation
    stds: list[float]  # after imputation, sample standard deviation (n - 1), 0 for one row


def numeric_statistics(cleaned: DataFrame, names: list[str], *, impute: bool, seed: int = 0
                       ) -> NumericStatistics:
    """Medians, means and standard deviations of the cleaned ``names``.

    Means and variances come from one aggregation; the mean and variance after imputation
    follow exactly from those of the present values and the median (pooling the present
    values with the imputed copies of the median), so the scaler needs no second pass over
    the imputed rows. Medians: see :func:`sample_medians`.
    """
    aggs = [F.count(F.lit(1)).alias("rows")]
    for i, name in enumerate(names):
        value = F.col(clean_column(name))
        aggs += [F.count(value).alias(f"n{i}"), F.avg(value).alias(f"mean{i}"),
                 F.var_samp(value).alias(f"var{i}")]
    row = cleaned.agg(*aggs).first()
    assert row is not None
    rows = int(row["rows"])
    present = [int(row[f"n{i}"]) for i in range(len(names))]
    for name, count in zip(names, present, strict=True):
        if count == 0:  # possible only after dropping rows (validation checks the input)
            raise InputDataError(
                f"feature column {name!r} has no usable value in the rows left to fit on")
    # without imputation the policy left no value missing: the median never enters
    medians = (sample_medians(cleaned, names, present, seed=seed) if impute
               else [float(row[f"mean{i}"]) for i in range(len(names))])
    means, stds = [], []
    for i, median in enumerate(medians):
        mean, var = float(row[f"mean{i}"]), float(row[f"var{i}"] or 0.0)
        imputed = rows - present[i]
        pooled_mean = (present[i] * mean + imputed * median) / rows
        squares = ((present[i] - 1) * var + present[i] * (mean - pooled_mean) ** 2
                   + imputed * (median - pooled_mean) ** 2)
        means.append(pooled_mean)
        stds.append(math.sqrt(squares / (rows - 1)) if rows > 1 else 0.0)
    return NumericStatistics(medians=medians, means=means, stds=stds)


def sample_medians(cleaned: DataFrame, names: list[str], present: list[int], *, seed: int
                   ) -> list[float]:
    """The median of the present values of each cleaned column, from a seeded sample.

    Each column keeps about :data:`MEDIAN_SAMPLE_ROWS` of its present values (all of them
    when it has fewer), collected in one pass; the median is the smallest sampled value
    with at least half of the sample at or below it (what ``percentile_approx`` estimates).
    Unlike ``percentile_approx``, whose sketches merge in the order tasks finish, the
    result depends only on the data and its partitioning, so it is the same on any master.
    At 100,000 values a median is within about 0.2 % of rank (one standard error).
    """
    draw = F.rand(seed)
    kept = [F.when(draw < min(1.0, MEDIAN_SAMPLE_ROWS / n), F.col(clean_column(name)))
            .alias(f"v{i}") for i, (name, n) in enumerate(zip(names, present, strict=True))]
    sample = cleaned.select(*kept).where(F.coalesce(*[F.col(f"v{i}") for i in
                                                       range(len(names))]).isNotNull())
    values: pd.DataFrame = sample.toPandas()
    medians = []
    for i, name in enumerate(names):
        column = values[f"v{i}"].dropna().to_numpy(dtype=float)
        if len(column) == 0:  # so sparse that none was drawn: take every present value
            present_rows: pd.DataFrame = cleaned.select(clean_column(name)).dropna().toPandas()
            column = present_rows.iloc[:, 0].to_numpy(dtype=float)
        medians.append(float(np.quantile(column, 0.5, method="inverted_cdf")))
    return medians


def fit_preparation(df: DataFrame, features: FeaturesConfig, *, seed: int = 0
                    ) -> PipelineModel:
    """Fit the preparation stages (see the module docstring) on the usable rows.

    The medians, means and standard deviations come from one aggregation
    (:func:`numeric_statistics`) instead of ``Imputer.fit`` and ``StandardScaler.fit``,
    which make a pass each (about 10 s together on 2M rows and 2 cores, against about 6 s).
    """
    cleaning = SQLTransformer(statement=cleaning_statement(features))
    cleaned = cleaning.transform(df)
    stages: list[Transformer] = [cleaning]
    parts: list[str] = []
    if features.numeric:
        numeric = [clean_column(n) for n in features.numeric]
        impute = features.missing == "impute"
        stats = numeric_statistics(cleaned, features.numeric, impute=impute, seed=seed)
        prepared = [f"{c}_prepared" for c in numeric]
        stages.append(NumericScaler(
            inputCols=numeric, outputCols=prepared, medians=stats.medians if impute else [],
            means=stats.means if features.scale else [],
            stds=stats.stds if features.scale else []))
        parts += prepared
    if features.categorical:
        cats = [category_column(n) for n in features.categorical]
        indexed = [f"{c}_index" for c in cats]
        onehot = [f"{c}_onehot" for c in cats]
        indexer = StringIndexer(inputCols=cats, outputCols=indexed, handleInvalid="keep",
                                stringOrderType="alphabetAsc").fit(cleaned)
        encoder = OneHotEncoder(inputCols=indexed, outputCols=onehot, dropLast=False,
                                handleInvalid="keep").fit(indexer.transform(cleaned))
        stages += [indexer, encoder]
        parts += onehot
    stages.append(VectorAssembler(inputCols=parts, outputCol=FEATURES_COL))
    return PipelineModel(stages=stages)


def feature_values(preparation: PipelineModel, transformed: DataFrame) -> Column:
    """The entries of the ``features`` vector as an array of doubles, without the vector.

    Entry for entry what ``vector_to_array(features)`` gives: the assembler's inputs (the
    scaled numeric doubles and the one-hot vectors) concatenated in its order. The passes
    over all rows read this from the cached input rows, recomputed each time, at the cost
    of reading a cached vector (measured in BENCHMARKS.md), so the prepared rows need no
    cache of their own; assembling the vector first would cost a quarter to a half more.
    """
    assembler = cast(VectorAssembler, preparation.stages[-1])
    parts: list[Column] = []
    doubles: list[Column] = []
    for name in assembler.getInputCols():
        if isinstance(transformed.schema[name].dataType, VectorUDT):
            parts += [F.array(*doubles)] if doubles else []
            parts.append(vector_to_array(F.col(name)))
            doubles = []
        else:
            doubles.append(F.col(name))
    parts += [F.array(*doubles)] if doubles else []
    return parts[0] if len(parts) == 1 else F.concat(*parts)


def feature_names(model: PipelineModel, features: FeaturesConfig) -> list[str]:
    """Names of the entries of the ``features`` vector, in order (``column=level`` for one-hot).

    Each categorical ends with two always-present slots: ``(unseen)``, the StringIndexer's
    bucket for levels not seen in training, and ``(invalid)``, the OneHotEncoder's own
    ``keep`` bucket (it never fires after the indexer, but it occupies an entry).
    """
    names = list(features.numeric)
    for stage in model.stages:
        if type(stage).__name__ == "StringIndexerModel":
            indexer = cast(StringIndexerModel, stage)
            for column, labels in zip(features.categorical, indexer.labelsArray):
                names += [f"{column}={level}" for level in labels]
                names += [f"{column}=(unseen)", f"{column}=(invalid)"]
    return names
