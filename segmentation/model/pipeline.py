"""The Spark ML preparation pipeline: missing values, log1p, one-hot, assembly, scaling.

Stages, in order:

1. ``SQLTransformer``: each numeric feature cast to double, NaN and +/-inf turned into null
   (:mod:`segmentation.data.missing`: they follow the missing-value policy and never reach
   KMeans), ``log1p`` applied to
   the configured skewed columns; each categorical column cast to string, null -> "(missing)".
2. ``ImputerModel`` (median) when ``features.missing`` is ``impute``.
3. ``VectorAssembler`` of the numeric features, then ``StandardScalerModel`` (mean 0, std 1;
   a constant column has std 0 and Spark scales it to 0, never NaN). ``features.scale: false``
   skips the scaler.
4. ``StringIndexer`` (alphabetical, unseen levels kept) + ``OneHotEncoder`` (all levels) per
   categorical column. Indicators are not standardised: a rare level scaled to unit
   variance would outweigh every numeric feature, while 0/1 puts two customers who differ
   in one category sqrt(2) apart, about one standard deviation per differing indicator.
5. ``VectorAssembler`` of the scaled numerics and the indicators into ``features``.

The imputer's medians and the scaler's means and standard deviations come from one
aggregation (:func:`numeric_statistics`), not from ``Imputer.fit`` and
``StandardScaler.fit``; the fitted stages are Spark's own models either way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pyspark.ml import PipelineModel, Transformer
from pyspark.ml.feature import (
    ImputerModel,
    OneHotEncoder,
    SQLTransformer,
    StandardScalerModel,
    StringIndexer,
    VectorAssembler,
)
from pyspark.ml.wrapper import JavaWrapper
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from segmentation.config import FeaturesConfig
from segmentation.core.errors import InputDataError
from segmentation.data.missing import present_value_sql, quote
from segmentation.model.columns import FEATURES_COL

MISSING_LEVEL = "(missing)"
_MEDIAN_ACCURACY = 1_000  # percentile_approx relative error 0.001, as Imputer's default


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


def numeric_statistics(cleaned: DataFrame, names: list[str], *, impute: bool
                       ) -> NumericStatistics:
    """Medians, means and standard deviations of the cleaned ``names`` in one aggregation.

    The mean and variance after imputation follow exactly from those of the present values
    and the median (pooling the present values with the imputed copies of the median), so
    the scaler needs no second pass over the imputed rows. Medians are Spark's
    ``percentile_approx`` with relative error 0.001, ``Imputer``'s default.
    """
    aggs = [F.count(F.lit(1)).alias("rows")]
    for i, name in enumerate(names):
        value = F.col(clean_column(name))
        aggs += [F.count(value).alias(f"n{i}"), F.avg(value).alias(f"mean{i}"),
                 F.var_samp(value).alias(f"var{i}")]
        if impute:
            aggs.append(F.percentile_approx(value, 0.5, _MEDIAN_ACCURACY).alias(f"median{i}"))
    row = cleaned.agg(*aggs).first()
    assert row is not None
    rows = int(row["rows"])
    medians, means, stds = [], [], []
    for i, name in enumerate(names):
        present = int(row[f"n{i}"])
        if present == 0:  # possible only after dropping rows (validation checks the input)
            raise InputDataError(
                f"feature column {name!r} has no usable value in the rows left to fit on")
        mean, var = float(row[f"mean{i}"]), float(row[f"var{i}"] or 0.0)
        # without imputation the policy left no value missing: the median never enters
        median = float(row[f"median{i}"]) if impute else mean
        imputed = rows - present
        pooled_mean = (present * mean + imputed * median) / rows
        squares = ((present - 1) * var + present * (mean - pooled_mean) ** 2
                   + imputed * (median - pooled_mean) ** 2)
        medians.append(median)
        means.append(pooled_mean)
        stds.append(math.sqrt(squares / (rows - 1)) if rows > 1 else 0.0)
    return NumericStatistics(medians=medians, means=means, stds=stds)


def imputer_model(spark: SparkSession, columns: list[str], outputs: list[str],
                  medians: list[float]) -> ImputerModel:
    """A fitted median ``ImputerModel`` with the given surrogates (no pass over the data)."""
    jvm = spark.sparkContext._jvm
    java = jvm.org.apache.spark.ml.feature.ImputerModel(
        ImputerModel._randomUID(), JavaWrapper._new_java_array(columns, jvm.String),
        JavaWrapper._new_java_array(medians, jvm.double))
    model = ImputerModel(java)
    model._set(inputCols=columns, outputCols=outputs, strategy="median")
    return model


def scaler_model(spark: SparkSession, input_col: str, output_col: str, means: list[float],
                 stds: list[float]) -> StandardScalerModel:
    """A fitted ``StandardScalerModel`` (mean 0, std 1) from known means and standard
    deviations; like a fitted one, it maps a column with std 0 to 0."""
    jvm = spark.sparkContext._jvm
    dense = jvm.org.apache.spark.ml.linalg.Vectors.dense
    java = jvm.org.apache.spark.ml.feature.StandardScalerModel(
        StandardScalerModel._randomUID(),
        dense(JavaWrapper._new_java_array(stds, jvm.double)),
        dense(JavaWrapper._new_java_array(means, jvm.double)))
    model = StandardScalerModel(java)
    model._set(inputCol=input_col, outputCol=output_col, withMean=True, withStd=True)
    return model


def fit_preparation(df: DataFrame, features: FeaturesConfig) -> PipelineModel:
    """Fit the preparation stages (see the module docstring) on the usable rows.

    The imputer and the scaler come from one aggregation (:func:`numeric_statistics`)
    instead of ``Imputer.fit`` and ``StandardScaler.fit``, which make a pass each (about
    10 s together on 2M rows and 2 cores, against about 6 s); the models are Spark's own
    ``ImputerModel`` and ``StandardScalerModel``, saved and loaded as usual.
    """
    cleaning = SQLTransformer(statement=cleaning_statement(features))
    cleaned = cleaning.transform(df)
    stages: list[Transformer] = [cleaning]
    parts: list[str] = []
    if features.numeric:
        numeric = [clean_column(n) for n in features.numeric]
        impute = features.missing == "impute"
        stats = numeric_statistics(cleaned, features.numeric, impute=impute)
        if impute:
            imputed = [f"{c}_imputed" for c in numeric]
            stages.append(imputer_model(df.sparkSession, numeric, imputed, stats.medians))
            numeric = imputed
        stages.append(VectorAssembler(inputCols=numeric, outputCol="_numeric"))
        if features.scale:
            stages.append(scaler_model(df.sparkSession, "_numeric", "_numeric_scaled",
                                       stats.means, stats.stds))
            parts.append("_numeric_scaled")
        else:
            parts.append("_numeric")
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


def feature_names(model: PipelineModel, features: FeaturesConfig) -> list[str]:
    """Names of the entries of the ``features`` vector, in order (``column=level`` for one-hot).

    Each categorical ends with two always-present slots: ``(unseen)``, the StringIndexer's
    bucket for levels not seen in training, and ``(invalid)``, the OneHotEncoder's own
    ``keep`` bucket (it never fires after the indexer, but it occupies an entry).
    """
    names = list(features.numeric)
    for stage in model.stages:
        if type(stage).__name__ == "StringIndexerModel":
            for column, labels in zip(features.categorical, stage.labelsArray):
                names += [f"{column}={level}" for level in labels]
                names += [f"{column}=(unseen)", f"{column}=(invalid)"]
    return names
