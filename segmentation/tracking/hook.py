"""Tracking as a job frame's hook (no MLflow import): MLflow is imported only when a job's
tracking is on and its outputs are complete."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from segmentation.tracking.config import MlflowConfig

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from segmentation.core.atomic import StagedOutput
    from segmentation.outputs.jobframe import Tracked, Tracking


def tracking_hook(target: MlflowConfig | None, job: str, *,
                  model_input: DataFrame | None = None) -> Tracking | None:
    """What the job frame calls to log ``job`` (``segment``, ``features``, ``score``) to
    MLflow at ``target`` (:func:`segmentation.tracking.runs.track_run`); None when tracking
    is off. ``model_input``: the columns the model of ``segment run`` reads."""
    if target is None:
        return None

    def track(out: StagedOutput, manifest: dict[str, Any], output_path: str) -> Tracked:
        from segmentation.tracking.runs import track_run

        return track_run(job, target, out, manifest, output_path, model_input=model_input)

    return track
