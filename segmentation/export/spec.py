"""What a saved model does to a customer, as numbers: the input to exports outside Spark.

A run's ``PipelineModel`` turns the input's columns into the vector KMeans saw and then
into ``segment`` and ``distance`` (:mod:`segmentation.model.pipeline`,
:mod:`segmentation.model.assign`). :func:`scoring_spec` reads every number of that
chain back from the fitted stages, for runs of every layout version (``NumericScaler``
from version 2; Spark's ``ImputerModel`` and ``StandardScalerModel`` before), so that
the same arithmetic can be written in another language (SQL: :mod:`segmentation.export.sql`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from pyspark.ml import PipelineModel
from pyspark.ml.feature import ImputerModel, StandardScalerModel, StringIndexerModel

from segmentation.core.errors import InputDataError
from segmentation.data.config import FeaturesConfig
from segmentation.model.assign import SegmentAssigner
from segmentation.model.scaler import NumericScaler


@dataclass(frozen=True)
class NumericStep:
    """One numeric feature: cleaned (double; NaN and +/-inf missing), ``log1p``-ed when
    ``log1p``, a missing value replaced by ``median`` (None: the model does not impute),
    then ``(value - shift) * scale`` (``scale`` None: not scaled)."""

    column: str
    log1p: bool
    median: float | None
    shift: float
    scale: float | None


@dataclass(frozen=True)
class CategoricalStep:
    """One categorical feature: its text (null is ``(missing)``) one-hot encoded over
    ``levels``, then one indicator for a level the model never saw and one that never fires
    (Spark's encoder keeps a slot for invalid indices)."""

    column: str
    levels: list[str]

    @property
    def width(self) -> int:
        return len(self.levels) + 2


@dataclass(frozen=True)
class ScoringSpec:
    """Everything a model computes from a customer's row, in the order of its vector."""

    numeric: list[NumericStep]
    categorical: list[CategoricalStep]
    #: Cluster centres in KMeans's index order (ties go to the lower index).
    centers: list[list[float]]
    #: Segment id of each cluster index.
    segment_ids: list[int]

    @property
    def width(self) -> int:
        return len(self.numeric) + sum(step.width for step in self.categorical)


def scoring_spec(model: PipelineModel, features: FeaturesConfig, where: str) -> ScoringSpec:
    """The numbers of ``model``, whose run's resolved ``features`` section is ``features``.

    ``where`` names the model in errors. Fails with :class:`InputDataError` when the model
    lacks a stage this package writes or its sizes disagree with ``features``.
    """
    stages = model.stages
    medians: list[float] | None = None
    shifts: list[float] = [0.0] * len(features.numeric)
    scales: list[float] | None = None
    levels: list[list[str]] = []
    assigner: SegmentAssigner | None = None
    for stage in stages:
        if isinstance(stage, NumericScaler):
            medians = [float(v) for v in stage.getOrDefault(stage.medians)] or None
            if stage.getOrDefault(stage.means):
                shifts = [float(v) for v in stage.getOrDefault(stage.means)]
                scales = [_inverse(float(v)) for v in stage.getOrDefault(stage.stds)]
        elif isinstance(stage, ImputerModel):  # runs of layout version 1
            surrogate = stage.surrogateDF.first()
            assert surrogate is not None
            medians = [float(surrogate[name]) for name in stage.getInputCols()]
        elif isinstance(stage, StandardScalerModel):  # runs of layout version 1
            if stage.getWithMean():
                shifts = [float(v) for v in stage.mean.toArray()]
            scales = ([_inverse(float(v)) for v in stage.std.toArray()] if stage.getWithStd()
                      else [1.0] * len(features.numeric))
        elif isinstance(stage, StringIndexerModel):
            levels = [list(labels) for labels in stage.labelsArray]
        elif isinstance(stage, SegmentAssigner):
            assigner = stage
    if assigner is None or len(levels) != len(features.categorical):
        raise InputDataError(f"{where}: not a model saved by `segment run` (its stages: "
                             f"{', '.join(type(s).__name__ for s in stages)})")
    numeric = [NumericStep(column=name, log1p=name in features.log1p,
                           median=medians[i] if medians else None, shift=shifts[i],
                           scale=scales[i] if scales else None)
               for i, name in enumerate(features.numeric)]
    categorical = [CategoricalStep(column=name, levels=labels)
                   for name, labels in zip(features.categorical, levels, strict=True)]
    centers = [[float(v) for v in c] for c in assigner.getOrDefault(assigner.centers)]
    spec = ScoringSpec(numeric=numeric, categorical=categorical, centers=centers,
                       segment_ids=[int(i) for i in
                                    cast(list[int], assigner.getOrDefault(assigner.segmentIds))])
    if any(len(c) != spec.width for c in centers) or len(centers) != len(spec.segment_ids):
        raise InputDataError(f"{where}: its centres have {len(centers[0])} entries, but its "
                             f"features make vectors of {spec.width}")
    return spec


def _inverse(std: float) -> float:
    """The factor a value is scaled by: 1/std, and 0 for a constant column (Spark's rule)."""
    return 0.0 if std == 0 else 1.0 / std
