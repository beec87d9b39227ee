"""Is the MLflow tracking store there (and, for scoring, the registered model)? Asked before
any Spark work starts (no Spark).

A server that cannot be reached, or that refuses the credentials, is one line and exit 6,
like every other service, never after an hour of fitting. An HTTP(S) server is
asked with one request and a short timeout (MLflow's own client retries for minutes), with
the credentials MLflow would send (a ``https://user:password@host`` URI, or MLflow's
variables); no message names them. Any other store (sqlite, ``databricks``) through
MLflow's client.
"""

from __future__ import annotations

import base64
import importlib.util
import os
import urllib.error
import urllib.request
from urllib.parse import unquote, urlsplit

from segmentation.core.errors import ConfigError, ServiceError, one_line
from segmentation.tracking.config import URI_VARIABLE, MlflowConfig, display_uri, is_model_uri

#: Seconds to wait for an HTTP(S) tracking server's answer.
TIMEOUT_SECONDS = 10.0
INSTALL_HINT = 'pip install "segmentation[mlflow]"'
#: MLflow's client's credentials from the environment: Basic user and password, or a token.
CREDENTIAL_VARIABLES = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD",
                        "MLFLOW_TRACKING_TOKEN")


def check_mlflow_installed() -> None:
    """Fail with a ConfigError naming the extra to install when MLflow is missing."""
    spec = importlib.util.find_spec("mlflow")
    if spec is None or spec.origin is None:  # no origin: a folder named mlflow, not the package
        raise ConfigError(f"MLflow tracking is on but mlflow is not installed: {INSTALL_HINT}")


def check_reachable(uri: str) -> None:
    """Raise a ServiceError (exit 6) unless the tracking store at ``uri`` answers."""
    check_mlflow_installed()
    shown = display_uri(uri)
    if uri.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(health_request(uri), timeout=TIMEOUT_SECONDS):
                return
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 403):
                raise ServiceError(
                    f"MLflow tracking server {shown} refused the credentials (HTTP {exc.code}); "
                    "nothing was run: fix the user and password in the URI, or "
                    f"{', '.join(CREDENTIAL_VARIABLES)}") from None
            return  # it answered: a server without /health is still a server
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ServiceError(f"MLflow tracking server {shown} cannot be reached ({reason}); "
                              "nothing was run: start it or fix --mlflow-uri / "
                              "tracking.mlflow.tracking_uri") from None
    from mlflow.tracking import MlflowClient

    try:
        MlflowClient(tracking_uri=uri).search_experiments(max_results=1)
    except Exception as exc:  # noqa: BLE001 - any MLflow or driver error: one line, exit 6
        raise ServiceError(f"MLflow tracking store {shown} cannot be used ({one_line(exc)}); "
                          "nothing was run") from None


def health_request(uri: str) -> urllib.request.Request:
    """The request for ``uri``'s ``/health``, with the credentials MLflow's client sends:
    the URI's ``user:password@`` (which ``requests`` turns into Basic authentication), else
    ``MLFLOW_TRACKING_USERNAME`` and ``_PASSWORD``, else ``MLFLOW_TRACKING_TOKEN`` (Bearer).
    The URL itself carries no credentials (``urllib`` would take them for the host)."""
    parts = urlsplit(uri)
    url = f"{display_uri(uri).rstrip('/')}/health"
    user, password = os.environ.get(CREDENTIAL_VARIABLES[0]), os.environ.get(
        CREDENTIAL_VARIABLES[1])
    token = os.environ.get(CREDENTIAL_VARIABLES[2])
    if parts.username is not None or parts.password is not None:
        user, password = unquote(parts.username or ""), unquote(parts.password or "")
    if user and password:
        basic = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        return urllib.request.Request(url, headers={"Authorization": f"Basic {basic}"})
    if token:
        return urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    return urllib.request.Request(url)


def check_tracking(target: MlflowConfig | None) -> None:
    """The tracking store of a job that logs to MLflow answers (nothing to check when
    ``target`` is None: tracking is off)."""
    if target is not None:
        check_reachable(target.tracking_uri or "")


def scoring_registry(model: str, tracking: MlflowConfig | None) -> str | None:
    """The MLflow server ``segment score --model model`` reads a logged model from and logs
    to: the job's own tracking URI, else ``MLFLOW_TRACKING_URI`` (None when neither is set).

    For a model URI the server must be given and answer, and the model must exist (logged
    by ``segment run``); a run directory needs the server only when tracking is on.
    """
    registry_uri = tracking.tracking_uri if tracking else os.environ.get(URI_VARIABLE)
    if is_model_uri(model) and not registry_uri:
        raise ConfigError(f"--model {model} is an MLflow model: give its tracking "
                          f"server with --mlflow-uri or {URI_VARIABLE}")
    if is_model_uri(model) or tracking is not None:
        check_reachable(registry_uri or "")
    if is_model_uri(model):
        from segmentation.tracking.registry import logged_context

        logged_context(model, registry_uri)  # a missing model is refused before Spark
    return registry_uri
