"""The manifest of a scoring run, assembled here: the model used, the input, row accounting
(``rows_read = rows_scored + sum(rows_dropped)``) and drift. The job frame
(:mod:`segmentation.outputs.jobframe`) adds the times and versions every job records and,
with tracking on, the ``tracking`` entry.

Privacy: the overall drift share is over the shown segments (see
:mod:`segmentation.scoring.drift`), so that it cannot be subtracted back into a withheld one.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from segmentation.data.customers import Customers
from segmentation.model.columns import SEGMENT_COL
from segmentation.outputs.finished import FinishedRun
from segmentation.outputs.layout import FORMAT_VERSION, SUPPRESSED_COL
from segmentation.outputs.privacy import exported_missing
from segmentation.scoring.config import ScoringConfig


def scoring_manifest(run: FinishedRun, cfg: ScoringConfig, segments: pd.DataFrame,
                     customers: Customers) -> dict[str, Any]:
    """What the manifest says of the model, the input, its rows and their drift
    (``segments``: the scored ``segments.csv``)."""
    scored = int(segments["size"].sum())
    shown = segments[~segments[SUPPRESSED_COL]]
    in_shown = int(shown["size"].sum())
    drifted = int(shown["drifted"].sum())
    by_segment = {str(s): (None if pd.isna(v) else float(v))
                  for s, v in zip(segments[SEGMENT_COL], segments["drift_share"], strict=True)}
    return {
        "format_version": FORMAT_VERSION,
        "model_run": run.path,
        "chosen_k": run.manifest.chosen_k,
        "model_finished_at": run.manifest.data.get("finished_at"),
        "input": {**customers.source, "id_column": cfg.input.id_column},
        "rows_read": customers.rows_read,
        "rows_scored": scored,
        "rows_dropped": customers.dropped,
        "missing_values": exported_missing(customers.profile.missing, segments,
                                           cfg.features.missing),
        "drift_share": drifted / in_shown if in_shown else None,
        "drift_share_by_segment": by_segment,
        "drift_rule": "distance above the training run's 99th percentile of the segment",
        "drift_over": "customers of the segments shown",
        "customers_in_shown_segments": in_shown,
        "suppressed_segments": [int(s) for s in segments.loc[segments[SUPPRESSED_COL],
                                                             SEGMENT_COL]],
    }
