"""A model logged by ``segment run``, read back from MLflow for scoring.

``segment score --model models:/NAME@ALIAS`` (or ``models:/NAME/VERSION``,
``models:/MODEL_ID``, ``runs:/RUN_ID/model``) loads the PipelineModel with
``mlflow.spark.load_model`` and takes everything else scoring needs (the run's manifest,
segments and drift thresholds) from the model's metadata
(:func:`segmentation.tracking.model.scoring_context`): the same :class:`FinishedRun` a
run directory gives.

Imports MLflow: imported only for a model URI.
"""

from __future__ import annotations

from dataclasses import dataclass

import mlflow
import mlflow.spark
import pandas as pd
from pyspark.sql import SparkSession

from segmentation.core.errors import InputDataError, one_line
from segmentation.outputs.finished import FinishedRun
from segmentation.outputs.layout import THRESHOLD_COLUMNS, RunManifest, read_manifest
from segmentation.tracking.model import CONTEXT_KEY


@dataclass(frozen=True)
class LoggedContext:
    """What scoring needs besides the model, as logged with it."""

    manifest: RunManifest
    segments: pd.DataFrame
    thresholds: pd.DataFrame


def logged_context(model_uri: str, tracking_uri: str | None) -> LoggedContext:
    """The scoring context logged with the MLflow model ``model_uri``, without Spark (so a
    missing model is reported before a session starts); InputDataError (exit 3) if it is
    not there or was not logged by ``segment run``. ``tracking_uri`` None: MLflow's default
    (``MLFLOW_TRACKING_URI``)."""
    if tracking_uri is not None:
        mlflow.set_tracking_uri(tracking_uri)
    try:
        info = mlflow.models.get_model_info(model_uri)
    except Exception as exc:  # noqa: BLE001 - any MLflow failure: one line naming the URI
        raise InputDataError(f"--model {model_uri}: {one_line(exc)}") from exc
    context = (info.metadata or {}).get(CONTEXT_KEY)
    if not isinstance(context, dict):
        raise InputDataError(f"--model {model_uri} was not logged by `segment run` (its "
                             f"metadata has no {CONTEXT_KEY!r} entry)")
    return LoggedContext(read_manifest(context["manifest"], model_uri),
                         pd.DataFrame.from_records(context["segments"]),
                         pd.DataFrame.from_records(context["thresholds"])[THRESHOLD_COLUMNS])


def load_logged_run(spark: SparkSession, model_uri: str, tracking_uri: str | None
                    ) -> FinishedRun:
    """The run behind the MLflow model ``model_uri`` (see :func:`logged_context`);
    ``spark`` must be the active session."""
    context = logged_context(model_uri, tracking_uri)
    model = mlflow.spark.load_model(model_uri)  # needs ``spark``, the active session
    return FinishedRun(model_uri, context.manifest, context.segments, model,
                       context.thresholds)
