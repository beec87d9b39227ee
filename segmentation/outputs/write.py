"""The outputs stage of a segmentation run: everything under ``output.path`` but the manifest.

Labels, the saved model, the migration from the previous run, profiles, segment
descriptions, the metrics table and the 2-D scatter, written into the run's staging
directory (:func:`segmentation.core.atomic.atomic_output` swaps it into place).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from pyspark.sql import SparkSession

from segmentation.config import FeaturesConfig, OutputConfig
from segmentation.core.atomic import StagedOutput
from segmentation.core.caching import cached
from segmentation.model.assign import final_model
from segmentation.model.columns import DISTANCE_COL, SEGMENT_COL
from segmentation.model.fit import ChosenModel, Prepared
from segmentation.outputs.describe import describe_segments
from segmentation.outputs.finished import FinishedRun
from segmentation.outputs.layout import (
    LABELS,
    METRICS_CSV,
    MIGRATION_CSV,
    MODEL,
    PROFILES_CSV,
    PROFILES_TABLE,
    SEGMENTS_CSV,
)
from segmentation.outputs.migration import migration_counts, migration_summary
from segmentation.outputs.profiles import segment_profiles
from segmentation.outputs.relabel import Matching
from segmentation.outputs.scatter import write_scatter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Previous:
    """The previous run and how this run's clusters were matched to its segment ids."""

    run: FinishedRun
    matching: Matching


def write_outputs(
    spark: SparkSession, out: StagedOutput, *, prepared: Prepared, chosen: ChosenModel,
    ids: list[int], id_column: str, features: FeaturesConfig, output: OutputConfig,
    seed: int, previous: Previous | None,
) -> dict[str, Any]:
    """Write the run's outputs; return what the manifest says of them.

    ``ids`` is the segment id of each cluster index of the chosen model. Releases the
    prepared rows once the labels are written.
    """
    log.info("writing labels, model and profiles into %s", out.path)
    model, labelled = final_model(prepared.preparation, chosen.kmeans, ids, prepared.rows)
    labelled = cached(labelled)
    labelled.select(id_column, SEGMENT_COL, DISTANCE_COL).write.parquet(out.file(LABELS))
    prepared.rows.unpersist()
    written: dict[str, Any] = {}
    if previous is not None:
        counts = migration_counts(spark, previous.run, labelled, id_column)
        out.write_csv(MIGRATION_CSV, counts)
        written["migration"] = migration_summary(previous.run, previous.matching, counts)
    model.write().save(out.file(MODEL))
    profiles, segments = segment_profiles(
        labelled, features, dict(zip(ids, chosen.sizes, strict=True)),
        min_segment_size=output.min_segment_size, seed=seed)
    descriptions = describe_segments(profiles)
    segments["description"] = segments[SEGMENT_COL].map(descriptions).fillna("")
    out.write_csv(METRICS_CSV, chosen.metrics)
    out.write_csv(SEGMENTS_CSV, segments)
    out.write_csv(PROFILES_CSV, profiles)
    spark.createDataFrame(profiles).coalesce(1).write.parquet(out.file(PROFILES_TABLE))
    written["pca"] = write_scatter(
        out, labelled, chosen.final.centers, ids, chosen.sizes,
        sample_size=output.pca_sample_size, min_segment_size=output.min_segment_size, seed=seed)
    labelled.unpersist()
    written["segments"] = segments[[SEGMENT_COL, "size"]].to_dict(orient="records")
    return written
