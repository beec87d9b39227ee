"""The manifest of a segmentation run, assembled here: its choice of k, what its outputs
hold, its rows and its config (:func:`run_manifest`). The job frame
(:mod:`segmentation.outputs.jobframe`) adds the times and versions every job records and,
with tracking on, the ``tracking`` entry, then writes it as the run's last file."""

from __future__ import annotations

from typing import Any

import pandas as pd

from segmentation.data.customers import Customers
from segmentation.model.columns import SEGMENT_COL
from segmentation.model.fit import ChosenModel
from segmentation.model.selection import selection_rule
from segmentation.model.verdicts import run_warnings
from segmentation.outputs.layout import FORMAT_VERSION, STAYS_WITH_DATA, SUPPRESSED_COL
from segmentation.outputs.privacy import exported_missing
from segmentation.outputs.write import Written
from segmentation.run.config import Config


def stability_entry(cfg: Config, chosen: ChosenModel) -> dict[str, Any] | None:
    """How the stability was measured, and the chosen k's; None with stability off."""
    if chosen.segment_stability is None:
        return None
    row = chosen.metrics.loc[chosen.metrics["k"] == chosen.chosen_k].iloc[0]
    ev = cfg.evaluation
    return {"resamples": ev.stability_resamples, "resample_size": ev.stability_sample_size,
            "restarts": ev.stability_restarts,
            "chosen_k_stability": round(float(row["stability"]), 4)}


def run_manifest(cfg: Config, chosen: ChosenModel, customers: Customers,
                 written: Written) -> dict[str, Any]:
    """What the manifest says of the run's choice, its outputs, its rows and its config."""
    missing = exported_missing(customers.profile.missing, written.segments,
                               cfg.features.missing)
    return {
        "format_version": FORMAT_VERSION,
        "chosen_k": chosen.chosen_k,
        "select_by": cfg.model.select_by,
        "selection_rule": selection_rule(
            cfg.model.select_by, chosen.chosen_k, chosen.ks,
            silhouette_share=cfg.model.stability_silhouette_share),
        "k_range": chosen.ks,
        "warnings": run_warnings(chosen.metrics, chosen.chosen_k, cfg.model.select_by),
        "stability": stability_entry(cfg, chosen),
        "final_seed": chosen.final.seed,
        **({"migration": written.migration} if written.migration is not None else {}),
        "pca": written.pca,
        "segments": written.segments[[SEGMENT_COL, "size"]].to_dict(orient="records"),
        "privacy": privacy_entry(written.segments, cfg.output.min_segment_size,
                                 withheld_counts=withheld_counts(missing, written.migration)),
        "rows_read": customers.rows_read,
        "rows_used": customers.rows_used,
        "rows_dropped": customers.dropped,
        "missing_values": missing,
        "constant_columns": customers.profile.constant_columns,
        "config": cfg.to_dict(),
        "seed": cfg.model.seed,
        "input": {**customers.source, "id_column": cfg.input.id_column,
                  "partitions": customers.partitions},
        "features": {"numeric": cfg.features.numeric, "categorical": cfg.features.categorical,
                     "log1p": cfg.features.log1p},
    }


def withheld_counts(missing: dict[str, Any] | None, migration: dict[str, Any] | None
                    ) -> list[str]:
    """The manifest's counts left out because they would give a withheld segment's away."""
    withheld = [] if missing is not None else ["missing_values"]
    if migration is not None and migration["customers_in_both"] and (
            migration["kept_share"] is None):
        withheld.append("migration.kept_share")
    return withheld


def privacy_entry(segments: pd.DataFrame, min_segment_size: int, *,
                  withheld_counts: list[str]) -> dict[str, Any]:
    """The manifest's ``privacy`` entry: the threshold, the withheld segments, what the
    overall statistics are computed over, and the manifest's counts withheld with them."""
    hidden = segments[SUPPRESSED_COL]
    return {
        "min_segment_size": min_segment_size,
        "suppressed_segments": [int(s) for s in segments.loc[hidden, SEGMENT_COL]],
        "overall_statistics_over": "customers of the segments shown",
        "customers_shown": int(segments.loc[~hidden, "size"].sum()),
        "withheld_counts": withheld_counts,
        "not_exportable": list(STAYS_WITH_DATA),
    }
