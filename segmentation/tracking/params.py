"""Plain data (a manifest, a config) as MLflow parameters and metrics: flat, redacted.

No MLflow import: these are pure functions of the manifest a job wrote.

Examples
--------
>>> flat_params({"model": {"k_max": 8, "seed": 7}, "spark": {"spark.x.secret.key": "s"}})
{'model.k_max': '8', 'model.seed': '7', 'spark.spark.x.secret.key': '*********(redacted)'}
>>> numeric_metrics({"rows_read": 10, "rows_dropped": {"duplicate_id": 2}, "k": "x"})
{'rows_read': 10.0, 'rows_dropped.duplicate_id': 2.0}
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from segmentation.core.secrets import redact

#: MLflow's longest parameter value (MLflow 3); a longer value ends with an ellipsis.
MAX_PARAM_LENGTH = 6000


def flat_params(data: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested ``data`` as ``a.b.c -> text`` parameters, secrets redacted first."""
    params: dict[str, str] = {}
    for key, value in redact(dict(data)).items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            params.update(flat_params(value, f"{name}."))
            continue
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        if len(text) > MAX_PARAM_LENGTH:
            text = text[:MAX_PARAM_LENGTH - 3] + "..."
        params[name] = text
    return params


def numeric_metrics(data: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """The finite numbers of nested ``data`` as ``a.b -> value`` metrics (booleans left out)."""
    metrics: dict[str, float] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            metrics.update(numeric_metrics(value, f"{name}."))
        elif (isinstance(value, (int, float)) and not isinstance(value, bool)
              and math.isfinite(value)):
            metrics[name] = float(value)
    return metrics
