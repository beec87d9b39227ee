"""A finished job's outputs mapped onto one MLflow run.

Called through the job frame (:mod:`segmentation.outputs.jobframe`) once the job's outputs
are complete in its staging directory, before they are swapped into place, so that the
manifest written with them says which MLflow run holds what was logged (its ``tracking``
entry). An MLflow failure never costs a run: it is recorded, the outputs are swapped into
place all the same, and then the job fails with one line (exit 6) naming what was not
logged.

What each job logs (only the run's exportable files and aggregates; the config as in the
manifest, secrets redacted):

- ``segment run``: the resolved config as parameters, the input's identity, chosen k and
  the selection rule; row accounting and timings as metrics; every metric of every k as
  a series ``sweep/<metric>`` with ``step=k`` (equal to ``metrics.csv``), the chosen k's as
  plain metrics; ``manifest.json``, ``metrics.csv``, ``segments.csv``, ``profiles.csv`` (and
  the report) under ``run/``; the model (:mod:`segmentation.tracking.model`).
- ``segment features``: its config, accounting, the feature columns and its manifest.
- ``segment score``: the model used, the input, row accounting, drift, and per segment
  ``segments/size`` (``step`` = segment id) and ``segments/drift_share`` (shown segments).

Imports MLflow: imported only when tracking is on.
"""

from __future__ import annotations

import io
import json
import logging
import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from pyspark.sql import DataFrame

from segmentation.core.atomic import StagedOutput, json_text
from segmentation.core.errors import ServiceError, one_line
from segmentation.outputs.finished import read_run
from segmentation.outputs.layout import (
    MANIFEST,
    METRICS_CSV,
    PROFILES_CSV,
    SEGMENTS_CSV,
)
from segmentation.tracking.config import MlflowConfig, display_uri
from segmentation.tracking.model import log_pipeline_model, scoring_context
from segmentation.tracking.params import flat_params, numeric_metrics

log = logging.getLogger(__name__)

#: Artifact folder of a job's own files inside its MLflow run.
RUN_ARTIFACTS = "run"
#: Prefix of the per-k series (MLflow's UI shows them as one section of charts).
SWEEP_PREFIX = "sweep/"
#: Manifest entries logged as metrics (row accounting, sizes, drift, timings).
ACCOUNTING_KEYS = ("rows_read", "rows_used", "rows_dropped", "rows_scored", "rows_used_by_kind",
                   "customers_written", "customers_without_purchases", "drift_share",
                   "customers_in_shown_segments", "duration_seconds")

Step = tuple[str, Callable[[], object]]


@dataclass
class LoggedRun:
    """What reached MLflow: its run (None: none could be started), the model, and the steps
    that failed or never ran."""

    target: MlflowConfig
    run_id: str | None = None
    experiment_id: str | None = None
    model_uri: str | None = None
    registered_version: str | None = None
    not_logged: list[str] = field(default_factory=list)
    error: str | None = None
    #: Why the model was deliberately kept out of MLflow (privacy), or None.
    model_withheld: str | None = None

    def manifest_entry(self) -> dict[str, Any] | None:
        """The manifest's ``tracking`` entry (None when no MLflow run was started)."""
        if self.run_id is None:
            return None
        entry: dict[str, Any] = {
            "tracking_uri": display_uri(self.target.tracking_uri or ""),
            "experiment": self.target.experiment, "experiment_id": self.experiment_id,
            "run_id": self.run_id, "model_uri": self.model_uri}
        if self.registered_version is not None:
            entry["registered_model"] = {"name": self.target.registered_model_name,
                                         "version": self.registered_version}
        if self.not_logged:
            entry["not_logged"] = self.not_logged
        if self.model_withheld:
            entry["model_withheld"] = self.model_withheld
        return entry

    def raise_if_incomplete(self, output_path: str) -> None:
        """A ServiceError (exit 6) when a step failed; the outputs are complete either way."""
        if self.run_id is None:
            raise ServiceError(f"the outputs in {output_path} are complete, but nothing was "
                              "logged to MLflow at "
                              f"{display_uri(self.target.tracking_uri or '')} ({self.error})")
        if self.not_logged:
            raise ServiceError(
                f"the outputs in {output_path} are complete, but MLflow run {self.run_id} "
                f"lacks: {', '.join(self.not_logged)} ({self.error})")


def track_run(job: str, target: MlflowConfig, out: StagedOutput, manifest: dict[str, Any],
              output_path: str, *, model_input: DataFrame | None = None) -> LoggedRun:
    """Log ``job`` (``segment``, ``features``, ``score``), whose complete outputs are in
    ``out`` and go to ``output_path``, with its ``manifest``; never raises for MLflow.

    ``model_input`` (``segment`` only): the columns the model reads, for its signature.
    """
    files = {MANIFEST: json_text(manifest).encode("utf-8"),
             **{name: out.fs.read_bytes(out.file(name)) for name in LOGGED_FILES[job]}}
    logged = _start(target, job, output_path)
    if logged.run_id is None:
        return logged
    if job == "segment":
        steps = _segmentation_steps(logged, out, manifest, files, output_path, model_input)
    elif job == "features":
        params = {**flat_params(manifest["config"]), **flat_params(manifest["input"], "source."),
                  "as_of": manifest["as_of"], "columns": json.dumps(manifest["columns"])}
        steps = _steps(params, lambda: mlflow.log_metrics(_accounting(manifest)), files)
    else:
        params = {**flat_params(manifest["input"], "source."), "model": manifest["model_run"],
                  "chosen_k": str(manifest["chosen_k"])}
        segments = pd.read_csv(io.BytesIO(files[SEGMENTS_CSV]))
        steps = _steps(params, lambda: _log_scoring_metrics(manifest, segments), files)
    _finish(logged, steps)
    return logged


#: The files each job logs under ``run/`` besides its manifest.
LOGGED_FILES = {"segment": (METRICS_CSV, SEGMENTS_CSV, PROFILES_CSV), "features": (),
                "score": (SEGMENTS_CSV,)}


def _steps(params: dict[str, str], log_metrics: Callable[[], object],
           files: dict[str, bytes]) -> list[Step]:
    """What every job logs: its parameters, its metrics, its files."""
    return [("parameters", lambda: mlflow.log_params(params)), ("metrics", log_metrics),
            ("run files", lambda: _log_files(files))]


def _segmentation_steps(logged: LoggedRun, out: StagedOutput, manifest: dict[str, Any],
                        files: dict[str, bytes], output_path: str,
                        model_input: DataFrame | None) -> list[Step]:
    """Parameters, every metric of every k, the run's files and (unless withheld) the
    model, read from the staging directory ``out``."""
    target = logged.target
    metrics = pd.read_csv(io.BytesIO(files[METRICS_CSV]))
    chosen = metrics[metrics["k"] == manifest["chosen_k"]]
    params = {**flat_params(manifest["config"]),
              **flat_params(manifest["input"], "source."),
              "chosen_k": str(manifest["chosen_k"]),
              "selection_rule": manifest["selection_rule"]}
    steps = _steps(params, lambda: _log_segmentation_metrics(manifest, metrics, chosen), files)
    withheld = manifest.get("privacy", {}).get("suppressed_segments", [])
    if target.log_model and withheld:
        logged.model_withheld = (
            f"it holds the centres of segment(s) {', '.join(map(str, withheld))}, which have "
            f"fewer than output.min_segment_size customers; score from {output_path}")
        log.warning("MLflow: model not logged: %s", logged.model_withheld)
    elif target.log_model:
        assert model_input is not None, "segment run logs its model with its input columns"
        what = "model" + (f" (registered as {target.registered_model_name})"
                          if target.registered_model_name else "")

        def log_model() -> None:
            run = read_run(out.fs, out.path, manifest)
            info = log_pipeline_model(
                run.model, input_schema=model_input.schema,
                context=scoring_context(manifest, run.segments, run.thresholds),
                registered_model_name=target.registered_model_name)
            logged.model_uri = info.model_uri
            if info.registered_model_version is not None:
                logged.registered_version = str(info.registered_model_version)

        steps.append((what, log_model))
    return steps


def log_report(target: MlflowConfig, run_id: str, report_dir: str | Path) -> None:
    """Add a run's report (made after the run) to its MLflow run as ``run/report``."""
    _use_store(target)
    try:
        with mlflow.start_run(run_id=run_id):
            mlflow.log_artifacts(str(report_dir), f"{RUN_ARTIFACTS}/report")
    except Exception as exc:  # noqa: BLE001 - any MLflow failure: the report stays on disk
        raise ServiceError(f"the report in {report_dir} is complete, but MLflow run {run_id} "
                           f"lacks it ({one_line(exc)})") from exc


def _start(target: MlflowConfig, job: str, output_path: str) -> LoggedRun:
    """A new MLflow run of ``job`` in the target's experiment, left active (or the error
    that prevented it)."""
    try:
        _use_store(target)
        experiment = mlflow.set_experiment(target.experiment)
        run = mlflow.start_run(run_name=target.run_name, tags={
            "segmentation.job": job, "segmentation.output_path": display_uri(output_path)})
    except Exception as exc:  # noqa: BLE001 - any MLflow failure: one line, outputs kept
        log.warning("MLflow: nothing logged: %s", one_line(exc))
        return LoggedRun(target, error=one_line(exc))
    return LoggedRun(target, run.info.run_id, experiment.experiment_id)


def _use_store(target: MlflowConfig) -> None:
    """Point MLflow at the target's store (None: MLflow's default, MLFLOW_TRACKING_URI)."""
    if target.tracking_uri is not None:
        mlflow.set_tracking_uri(target.tracking_uri)


def _finish(logged: LoggedRun, steps: list[Step]) -> None:
    """Run ``steps`` in the active run; after a failure, record it and what was not reached."""
    for position, (_, step) in enumerate(steps):
        try:
            step()
        except Exception as exc:  # noqa: BLE001 - any MLflow failure: recorded, outputs kept
            logged.not_logged = [what for what, _ in steps[position:]]
            logged.error = one_line(exc)
            log.warning("MLflow: %s not logged: %s", ", ".join(logged.not_logged), logged.error)
            break
    try:
        mlflow.end_run("FAILED" if logged.not_logged else "FINISHED")
    except Exception as exc:  # noqa: BLE001 - the run's status only
        log.warning("MLflow: run %s not ended: %s", logged.run_id, one_line(exc))
    log.info("MLflow run %s (experiment %s)", logged.run_id, logged.target.experiment)


def _log_segmentation_metrics(manifest: dict[str, Any], metrics: pd.DataFrame,
                              chosen: pd.DataFrame) -> None:
    mlflow.log_metrics({**_accounting(manifest), "chosen_k": float(manifest["chosen_k"])})
    names = [c for c in metrics.columns if c != "k"]
    for row in metrics.itertuples(index=False):
        values = {f"{SWEEP_PREFIX}{n}": float(getattr(row, n)) for n in names}
        mlflow.log_metrics(_finite(values), step=int(row.k))
    if len(chosen):
        mlflow.log_metrics(_finite({n: float(chosen.iloc[0][n]) for n in names}))


def _log_scoring_metrics(manifest: dict[str, Any], segments: pd.DataFrame) -> None:
    mlflow.log_metrics(_accounting(manifest))
    for row in segments.itertuples(index=False):
        mlflow.log_metrics(_finite({"segments/size": float(row.size),
                                    "segments/drift_share": float(row.drift_share)}),
                           step=int(row.segment))


def _accounting(manifest: dict[str, Any]) -> dict[str, float]:
    """Row accounting, sizes, drift and per-stage seconds of a job's manifest."""
    return {**numeric_metrics({k: manifest[k] for k in ACCOUNTING_KEYS if k in manifest}),
            **numeric_metrics(manifest.get("timings", {}), "seconds.")}


def _finite(values: dict[str, float]) -> dict[str, float]:
    return {name: value for name, value in values.items() if math.isfinite(value)}


def _log_files(files: dict[str, bytes]) -> None:
    """Log ``files`` (name -> bytes) under ``run/`` of the active run."""
    with tempfile.TemporaryDirectory(prefix="segment-mlflow-") as folder:
        for name, data in files.items():
            (Path(folder) / name).write_bytes(data)
        mlflow.log_artifacts(folder, RUN_ARTIFACTS)
