"""The ``tracking.mlflow`` config section and how tracking is switched on (no MLflow import).

Tracking is on when the config has a ``tracking.mlflow`` section or the command line gives
``--mlflow-uri``. ``MLFLOW_TRACKING_URI`` alone never switches it on (platforms set it
everywhere); it only supplies the URI when tracking is on and none is given.

Examples
--------
>>> resolve_mlflow(None, None, {"MLFLOW_TRACKING_URI": "http://mlflow:5000"}) is None
True
>>> on = resolve_mlflow(MlflowConfig(experiment="crm"), None, {"MLFLOW_TRACKING_URI": "http://m:5"})
>>> on.tracking_uri, on.experiment
('http://m:5', 'crm')
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

from segmentation.core.errors import ConfigError

#: The environment variable MLflow itself reads for the tracking URI.
URI_VARIABLE = "MLFLOW_TRACKING_URI"

JobConfig = TypeVar("JobConfig")
#: How ``segment score --model`` names a model logged to MLflow (not a run directory).
MODEL_URI_SCHEMES = ("models:/", "runs:/")


@dataclass(frozen=True)
class MlflowConfig:
    """Where and how a job's run is logged to MLflow."""

    #: ``http(s)://HOST:PORT``, ``databricks``, ``sqlite:///PATH``; default: ``--mlflow-uri``,
    #: then ``MLFLOW_TRACKING_URI``.
    tracking_uri: str | None = None
    experiment: str = "segmentation"
    run_name: str | None = None
    #: Register the logged model under this name, as a new version (``segment run`` only).
    registered_model_name: str | None = None
    #: Log the fitted PipelineModel with ``mlflow.spark.log_model`` (``segment run`` only).
    log_model: bool = True


@dataclass(frozen=True)
class TrackingConfig:
    """The ``tracking`` section of every job's config: off unless ``mlflow`` is given."""

    mlflow: MlflowConfig | None = None


def resolve_mlflow(section: MlflowConfig | None, flag_uri: str | None,
                   environ: Mapping[str, str] = os.environ) -> MlflowConfig | None:
    """The MLflow settings of a job with its URI resolved, or None when tracking is off.

    The URI is ``--mlflow-uri``, else ``tracking.mlflow.tracking_uri``, else
    ``MLFLOW_TRACKING_URI``; tracking on without any of them is a ConfigError.
    """
    if section is None and flag_uri is None:
        return None
    section = section or MlflowConfig()
    uri = flag_uri or section.tracking_uri or environ.get(URI_VARIABLE) or None
    if uri is None:
        raise ConfigError("tracking.mlflow is set but no tracking URI is given: set "
                          f"tracking.mlflow.tracking_uri, pass --mlflow-uri or set {URI_VARIABLE}")
    if not section.experiment:
        raise ConfigError("tracking.mlflow.experiment must not be empty")
    return dataclasses.replace(section, tracking_uri=uri)


def with_mlflow(cfg: JobConfig, flag_uri: str | None) -> JobConfig:
    """``cfg`` (a job config dataclass with a ``tracking`` field) with its MLflow settings
    resolved: ``tracking.mlflow`` is None exactly when tracking is off."""
    resolved = resolve_mlflow(cfg.tracking.mlflow, flag_uri)  # type: ignore[attr-defined]
    return dataclasses.replace(cfg, tracking=TrackingConfig(mlflow=resolved))  # type: ignore[type-var]


def display_uri(uri: str) -> str:
    """``uri`` without a user name or password (for messages, tags and manifests)."""
    parts = urlsplit(uri)
    if parts.username is None and parts.password is None:
        return uri
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))


def is_model_uri(text: str) -> bool:
    """True for an MLflow model URI (``models:/...``, ``runs:/...``), not a run directory."""
    return text.startswith(MODEL_URI_SCHEMES)
