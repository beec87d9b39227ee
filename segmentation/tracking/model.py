"""The fitted PipelineModel as an MLflow model that scores on its own.

:func:`log_pipeline_model` logs it with ``mlflow.spark.log_model`` and

- explicit pip requirements (the installed versions of the packages the model's stages
  need; inferring them runs the model in a fresh environment, about 7 times slower);
- a signature from the schemas only (no customer row is logged as an example);
- this package as ``code_paths``: its own stages (``NumericScaler``, ``SegmentAssigner``)
  load where ``segmentation`` is not installed, since ``mlflow.spark.load_model`` puts the
  logged code on ``sys.path``;
- the scoring context as the model's metadata (:data:`CONTEXT_KEY`): the run's manifest,
  its ``segments.csv`` and its drift thresholds, so that ``segment score --model
  models:/...`` needs nothing but the model. Its centres and thresholds are as sensitive
  as the data: a run with withheld segments does not log its model at all (see
  :func:`segmentation.tracking.runs.track_run`).

Imports MLflow: imported only when tracking is on.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import mlflow
import mlflow.spark
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.models.model import ModelInfo
from mlflow.types import ColSpec, Schema, TensorSpec
from pyspark.ml import PipelineModel
from pyspark.sql import types as T

import segmentation
from segmentation.model.columns import DISTANCE_COL, SEGMENT_COL

#: Key of the scoring context in the logged model's metadata.
CONTEXT_KEY = "segmentation"
#: Artifact path of the model inside its MLflow run.
MODEL_ARTIFACT = "model"
#: What the model's stages import when it is loaded and applied (besides MLflow itself).
MODEL_PACKAGES = ("pyspark", "numpy", "pandas", "pyarrow", "scipy", "pyyaml")

_MLFLOW_TYPES = {T.StringType: "string", T.DoubleType: "double", T.FloatType: "float",
                 T.LongType: "long", T.IntegerType: "integer", T.ShortType: "integer",
                 T.ByteType: "integer", T.BooleanType: "boolean", T.DateType: "datetime",
                 T.TimestampType: "datetime", T.DecimalType: "double"}


def pip_requirements() -> list[str]:
    """``name==version`` of MLflow and of every package the model needs, as installed here."""
    pins = []
    for name in ("mlflow", *MODEL_PACKAGES):
        try:
            pins.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            pins.append(name)
    return pins


def model_signature(input_schema: T.StructType) -> ModelSignature:
    """The model's columns in (id and features, as read) and out (segment, distance)."""
    inputs: list[ColSpec | TensorSpec] = [
        ColSpec(_MLFLOW_TYPES.get(type(f.dataType), "string"), f.name)
        for f in input_schema.fields]
    return ModelSignature(inputs=Schema(inputs),
                          outputs=Schema([ColSpec("integer", SEGMENT_COL),
                                          ColSpec("double", DISTANCE_COL)]))


def scoring_context(manifest: dict[str, Any], segments: pd.DataFrame,
                    thresholds: pd.DataFrame) -> dict[str, Any]:
    """What scoring needs besides the model, as plain data (blank statistics become None)."""
    return {"manifest": manifest, "segments": _records(segments),
            "thresholds": _records(thresholds)}


def log_pipeline_model(model: PipelineModel, *, input_schema: T.StructType,
                       context: dict[str, Any], registered_model_name: str | None
                       ) -> ModelInfo:
    """Log ``model`` to the active MLflow run (registered as a new version when named)."""
    return mlflow.spark.log_model(
        model, MODEL_ARTIFACT,
        pip_requirements=pip_requirements(),
        signature=model_signature(input_schema),
        code_paths=[str(Path(segmentation.__file__).parent)],
        metadata={CONTEXT_KEY: context},
        registered_model_name=registered_model_name,
    )


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return frame.astype(object).where(frame.notna(), None).to_dict("records")
