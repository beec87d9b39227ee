"""The Spark ML preparation pipeline: missing values, log1p, one-hot, assembly, scaling.

Stages, in order:

1. ``SQLTransformer``: each numeric feature cast to double, NaN and +/-inf turned into null
   (so they follow the missing-value policy and never reach KMeans), ``log1p`` applied to
   the configured skewed columns; each categorical column cast to string, null -> "(missing)".
2. ``Imputer`` (median) when ``features.missing`` is ``impute``.
3. ``VectorAssembler`` of the numeric features, then ``StandardScaler`` (mean 0, std 1;
   a constant column has std 0 and Spark scales it to 0, never NaN). ``features.scale: false``
   skips the scaler.
4. ``StringIndexer`` (alphabetical, unseen levels kept) + ``OneHotEncoder`` (all levels) per
   categorical column. Indicators are not standardised: a rare level scaled to unit
   variance would outweigh every numeric feature, while 0/1 puts two customers who differ
   in one category sqrt(2) apart, about one standard deviation per differing indicator.
5. ``VectorAssembler`` of the scaled numerics and the indicators into ``features``.

Examples
--------
>>> from segmentation.config import FeaturesConfig
>>> stages = preparation_stages(FeaturesConfig(numeric=["a"], categorical=["c"]))
>>> [type(s).__name__ for s in stages]  # doctest: +NORMALIZE_WHITESPACE
['SQLTransformer', 'Imputer', 'VectorAssembler', 'StandardScaler', 'StringIndexer',
 'OneHotEncoder', 'VectorAssembler']
"""

from __future__ import annotations

from pyspark.ml import Pipeline, PipelineModel, Transformer
from pyspark.ml.feature import (
    Imputer,
    OneHotEncoder,
    SQLTransformer,
    StandardScaler,
    StringIndexer,
    VectorAssembler,
)
from pyspark.sql import DataFrame

from segmentation.config import FeaturesConfig

FEATURES_COL = "features"
MISSING_LEVEL = "(missing)"


def clean_column(name: str) -> str:
    """Name of the cleaned (double, NaN/inf -> null, log1p-ed) copy of a numeric feature."""
    return f"_num_{name}"


def category_column(name: str) -> str:
    """Name of the cleaned string copy of a categorical feature."""
    return f"_cat_{name}"


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def cleaning_statement(features: FeaturesConfig) -> str:
    """The SQL of stage 1 (see the module docstring)."""
    parts = ["*"]
    for name in features.numeric:
        value = f"CAST({_quote(name)} AS DOUBLE)"
        invalid = f"isnan({value}) OR abs({value}) = double('inf')"
        clean = f"CASE WHEN {invalid} THEN NULL ELSE {value} END"
        if name in features.log1p:
            clean = f"log1p({clean})"
        parts.append(f"{clean} AS {_quote(clean_column(name))}")
    for name in features.categorical:
        parts.append(
            f"coalesce(CAST({_quote(name)} AS STRING), '{MISSING_LEVEL}') "
            f"AS {_quote(category_column(name))}"
        )
    return f"SELECT {', '.join(parts)} FROM __THIS__"


def preparation_stages(features: FeaturesConfig) -> list[Transformer]:
    """The unfitted stages that turn a customer table into the ``features`` vector column."""
    stages: list = [SQLTransformer(statement=cleaning_statement(features))]
    parts: list[str] = []
    if features.numeric:
        numeric = [clean_column(n) for n in features.numeric]
        if features.missing == "impute":
            imputed = [f"{c}_imputed" for c in numeric]
            stages.append(Imputer(inputCols=numeric, outputCols=imputed, strategy="median"))
            numeric = imputed
        stages.append(VectorAssembler(inputCols=numeric, outputCol="_numeric"))
        if features.scale:
            stages.append(
                StandardScaler(inputCol="_numeric", outputCol="_numeric_scaled",
                               withMean=True, withStd=True)
            )
            parts.append("_numeric_scaled")
        else:
            parts.append("_numeric")
    if features.categorical:
        cats = [category_column(n) for n in features.categorical]
        indexed = [f"{c}_index" for c in cats]
        onehot = [f"{c}_onehot" for c in cats]
        stages.append(
            StringIndexer(inputCols=cats, outputCols=indexed, handleInvalid="keep",
                          stringOrderType="alphabetAsc")
        )
        stages.append(
            OneHotEncoder(inputCols=indexed, outputCols=onehot, dropLast=False,
                          handleInvalid="keep")
        )
        parts += onehot
    stages.append(VectorAssembler(inputCols=parts, outputCol=FEATURES_COL))
    return stages


def fit_preparation(df: DataFrame, features: FeaturesConfig) -> PipelineModel:
    """Fit the preparation stages on the usable rows."""
    return Pipeline(stages=preparation_stages(features)).fit(df)


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
