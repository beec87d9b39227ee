"""The numeric stage of the preparation: median imputation and standard scaling, as one
pipeline stage whose statistics are its parameters.

Spark's ``ImputerModel`` and ``StandardScalerModel`` cannot be built from known values
through public API (only by fitting them), and the preparation computes medians, means and
standard deviations in one aggregation. :class:`NumericScaler` applies the same arithmetic
as those two models, per column in Spark SQL: a missing value becomes the median, then
``(x - mean) * (1 / std)``, and a column with std 0 becomes 0 (Spark's rule). It is a
pure-Python ``Transformer`` saved with the ``PipelineModel`` (params as JSON), so it works
in classic mode and over Spark Connect, and relabelling reads its means and deviations back.

Runs saved before layout version 2 hold Spark's two models instead; :func:`scaling` reads
either.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from pyspark import keyword_only
from pyspark.ml import PipelineModel, Transformer
from pyspark.ml.feature import StandardScalerModel
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable
from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def _param(name: str, doc: str, converter: Callable[[Any], Any]) -> Param[Any]:
    return Param(Params._dummy(), name, doc, typeConverter=converter)


class NumericScaler(Transformer, DefaultParamsReadable, DefaultParamsWritable):
    """Impute each input column with its median, then standardise it (either step optional).

    The inputs are the cleaned numeric columns: null where a value is missing, never NaN.
    """

    #: The keyword arguments of the call, set by ``@keyword_only``.
    _input_kwargs: dict[str, Any]

    inputCols = _param("inputCols", "cleaned numeric columns", TypeConverters.toListString)
    outputCols = _param("outputCols", "one output column per input column",
                        TypeConverters.toListString)
    medians = _param("medians", "value a missing entry becomes, per column (empty: none)",
                     TypeConverters.toListFloat)
    means = _param("means", "mean subtracted, per column (empty: no scaling)",
                   TypeConverters.toListFloat)
    stds = _param("stds", "standard deviation divided by, per column",
                  TypeConverters.toListFloat)

    @keyword_only
    def __init__(
        self, *, inputCols: list[str] | None = None, outputCols: list[str] | None = None,
        medians: list[float] | None = None, means: list[float] | None = None,
        stds: list[float] | None = None,
    ) -> None:
        super().__init__()
        self._setDefault(medians=[], means=[], stds=[])
        self._set(**self._input_kwargs)

    def _transform(self, dataset: DataFrame) -> DataFrame:
        medians = self.getOrDefault(self.medians)
        means, stds = self.getOrDefault(self.means), self.getOrDefault(self.stds)
        columns = {}
        for i, (source, target) in enumerate(zip(self.getOrDefault(self.inputCols),
                                                 self.getOrDefault(self.outputCols),
                                                 strict=True)):
            value = F.col(source)
            if medians:
                value = F.coalesce(value, F.lit(float(medians[i])))
            if means:
                scale = 0.0 if stds[i] == 0 else 1.0 / float(stds[i])
                value = (value - F.lit(float(means[i]))) * F.lit(scale)
            columns[target] = value
        return dataset.withColumns(columns)


def scaling(model: PipelineModel) -> tuple[np.ndarray, np.ndarray] | None:
    """(means, standard deviations) the model's numeric features were scaled with, or None
    when it does not scale; reads runs of every layout version."""
    for stage in model.stages:
        if isinstance(stage, NumericScaler) and stage.getOrDefault(stage.means):
            return (np.array(stage.getOrDefault(stage.means), dtype=float),
                    np.array(stage.getOrDefault(stage.stds), dtype=float))
        if isinstance(stage, StandardScalerModel):
            return stage.mean.toArray(), stage.std.toArray()
    return None
