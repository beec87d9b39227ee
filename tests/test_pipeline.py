"""The preparation pipeline against numpy and against Spark's own Imputer/StandardScaler fits.

``fit_preparation`` builds the imputer and the scaler from one aggregation instead of
fitting them; these tests check that the features it produces are what the definitions
say (log1p, median of the present values, z-score with the sample std) and what
``Imputer.fit`` + ``StandardScaler.fit`` give on the same rows.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.feature import Imputer, SQLTransformer, StandardScaler, VectorAssembler
from pyspark.ml.functions import vector_to_array
from pyspark.sql import functions as F

from segmentation.core.errors import InputDataError
from segmentation.data.config import FeaturesConfig
from segmentation.model.pipeline import (
    FEATURES_COL,
    clean_column,
    cleaning_statement,
    feature_values,
    fit_preparation,
    numeric_statistics,
)

NUMERIC = ["spend", "age", "flat"]


@pytest.fixture(scope="module")
def customers(spark):
    """101 rows: ``spend`` skewed with nulls, NaN and inf; ``age`` with nulls; ``flat`` constant."""
    rng = np.random.default_rng(3)
    rows = []
    for i in range(101):
        spend = float(rng.lognormal(5, 1))
        age = float(rng.integers(18, 90))
        if i % 10 == 0:
            spend = None if i % 20 else math.nan
        if i == 7:
            spend = math.inf
        if i % 13 == 0:
            age = None
        rows.append((i, spend, age, 4.0, ["web", "shop", None][i % 3]))
    return spark.createDataFrame(rows, "id long, spend double, age double, flat double, "
                                       "channel string")


def _features(model: PipelineModel, df) -> np.ndarray:
    out = model.transform(df).orderBy("id").select(vector_to_array(FEATURES_COL).alias("x"))
    return np.array([r.x for r in out.collect()])


def _present(df, name: str, log: bool) -> np.ndarray:
    values = np.array([r[0] for r in df.orderBy("id").select(name).collect()], dtype=float)
    values[~np.isfinite(values)] = np.nan
    return np.log1p(values) if log else values


def test_features_follow_the_definitions(spark, customers):
    features = FeaturesConfig(numeric=NUMERIC, categorical=["channel"], log1p=["spend"])
    x = _features(fit_preparation(customers, features), customers)
    for j, name in enumerate(NUMERIC):
        raw = _present(customers, name, log=name == "spend")
        present = np.sort(raw[~np.isnan(raw)])
        filled = np.where(np.isnan(raw), np.median(present), raw)
        if name == "flat":
            assert np.all(x[:, j] == 0.0)  # std 0: scaled to 0, never NaN
            continue
        # the median is approximate (relative error 0.001): here one of the middle values
        median = x[np.isnan(raw), j] * filled.std(ddof=1) + filled.mean()
        middle = present[(len(present) - 1) // 2: len(present) // 2 + 1]
        assert np.min(np.abs(median[:, None] - middle[None, :]), axis=1).max() < 1e-9
        expected = (filled - filled.mean()) / filled.std(ddof=1)
        np.testing.assert_allclose(x[:, j], expected, rtol=1e-9, atol=1e-9)
    levels = x[:, 3:]  # (missing), shop, web, (unseen), (invalid)
    assert levels.shape[1] == 5
    np.testing.assert_array_equal(levels.sum(axis=1), np.ones(len(x)))
    channel = [["web", "shop", "(missing)"][i % 3] for i in range(101)]
    np.testing.assert_array_equal(levels[:, 2], [c == "web" for c in channel])


def test_same_features_as_spark_imputer_and_scaler_fits(spark, customers):
    features = FeaturesConfig(numeric=NUMERIC, categorical=[], log1p=["spend"])
    cleaned = [clean_column(n) for n in NUMERIC]
    imputed = [f"{c}_i" for c in cleaned]
    reference = Pipeline(stages=[
        SQLTransformer(statement=cleaning_statement(features)),
        Imputer(inputCols=cleaned, outputCols=imputed, strategy="median"),
        VectorAssembler(inputCols=imputed, outputCol="v"),
        StandardScaler(inputCol="v", outputCol=FEATURES_COL, withMean=True, withStd=True),
    ]).fit(customers)
    np.testing.assert_allclose(_features(fit_preparation(customers, features), customers),
                               _features(reference, customers), rtol=1e-12, atol=1e-12)


def test_saved_preparation_loads_and_gives_the_same_features(spark, customers, tmp_path):
    features = FeaturesConfig(numeric=NUMERIC, categorical=["channel"], log1p=["spend"])
    model = fit_preparation(customers, features)
    model.write().save(str(tmp_path / "prep"))
    loaded = PipelineModel.load(str(tmp_path / "prep"))
    np.testing.assert_array_equal(_features(loaded, customers), _features(model, customers))


def test_drop_policy_scales_the_kept_rows_without_an_imputer(spark, customers):
    kept = customers.where(F.col("spend").isNotNull() & ~F.isnan("spend")
                           & (F.abs("spend") != math.inf) & F.col("age").isNotNull())
    features = FeaturesConfig(numeric=["spend", "age"], categorical=[], missing="drop",
                              scale=True)
    model = fit_preparation(kept, features)
    assert "ImputerModel" not in [type(s).__name__ for s in model.stages]
    x = _features(model, kept)
    np.testing.assert_allclose(x.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(x.std(axis=0, ddof=1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("numeric, categorical", [
    (NUMERIC, []), ([], ["channel"]), (["spend"], ["channel"]), (NUMERIC, ["channel", "flat"]),
])
def test_feature_values_are_the_vector_entries_bit_for_bit(spark, customers, numeric,
                                                           categorical):
    """What the passes read equals the assembled vector, without the vector (Spark's
    ``vector_to_array`` of it is the oracle), for numerics, one-hots and both."""
    features = FeaturesConfig(numeric=numeric, categorical=categorical, log1p=numeric[:1])
    model = fit_preparation(customers, features)
    transformed = model.transform(customers)
    got = transformed.orderBy("id").select(feature_values(model, transformed).alias("x"))
    values = np.array([r.x for r in got.collect()])
    vectors = _features(model, customers)
    assert values.shape == vectors.shape and values.shape[1] > 1
    assert np.array_equal(values, vectors)


def test_one_row_has_std_zero_and_scales_to_zero(spark):
    df = spark.createDataFrame([(1, 5.0)], "id long, a double")
    x = _features(fit_preparation(df, FeaturesConfig(numeric=["a"], categorical=[])), df)
    np.testing.assert_array_equal(x, [[0.0]])


def test_a_column_without_values_is_named(spark):
    df = spark.createDataFrame([(1, None), (2, None)], "id long, a double")
    cleaned = SQLTransformer(statement=cleaning_statement(
        FeaturesConfig(numeric=["a"], categorical=[]))).transform(df)
    with pytest.raises(InputDataError, match="feature column 'a' has no usable value"):
        numeric_statistics(cleaned, ["a"], impute=True)
