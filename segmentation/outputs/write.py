"""The outputs stage of a segmentation run: everything under ``output.path`` but the manifest.

Labels, the saved model (built by :func:`segmentation.model.assign.final_model`), the
migration from the previous run, profiles, segment descriptions, the metrics table and the
2-D scatter, written into the run's staging directory (swapped into place by the job
frame, :mod:`segmentation.outputs.jobframe`). The exported files withhold every statistic
of segments below ``output.min_segment_size`` (:mod:`segmentation.outputs.privacy`); their
drift thresholds, which scoring needs, go to ``private/thresholds.csv``, which stays with
the data like the labels and the model.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame, SparkSession

from segmentation.core.atomic import StagedOutput
from segmentation.core.caching import cached
from segmentation.core.session import is_connect
from segmentation.data.config import FeaturesConfig
from segmentation.model.assign import SegmentModel
from segmentation.model.columns import FEATURES_COL, SEGMENT_COL, VALUES_COL
from segmentation.model.fit import ChosenModel, Prepared
from segmentation.outputs.attribute_profiles import attribute_table, with_profile_columns
from segmentation.outputs.config import OutputConfig
from segmentation.outputs.describe import describe_segments
from segmentation.outputs.finished import FinishedRun
from segmentation.outputs.layout import (
    ATTRIBUTES_CSV,
    LABEL_COLUMNS,
    LABELS,
    METRICS_COLUMNS,
    METRICS_CSV,
    MIGRATION_COLUMNS,
    MIGRATION_CSV,
    MODEL,
    PRIVATE_DIR,
    PROFILE_COLUMNS,
    PROFILES_CSV,
    PROFILES_TABLE,
    SEGMENTS_COLUMNS,
    SEGMENTS_CSV,
    STABILITY_COL,
    SUPPRESSED_COL,
    THRESHOLD_COLUMNS,
    THRESHOLDS_CSV,
)
from segmentation.outputs.migration import migration_counts, migration_summary
from segmentation.outputs.privacy import (
    hidden_mask,
    shown_ids,
    suppress_small_cells,
    withhold,
)
from segmentation.outputs.profiles import segment_profiles
from segmentation.outputs.relabel import Matching
from segmentation.outputs.scatter import write_scatter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Previous:
    """The previous run and how this run's clusters were matched to its segment ids."""

    run: FinishedRun
    matching: Matching


@dataclass(frozen=True)
class Written:
    """What the outputs stage wrote that the run's manifest reports."""

    #: ``segments.csv`` as exported (withheld statistics blank).
    segments: pd.DataFrame
    #: The scatter sample's summary (None with ``output.pca_sample_size: 0``).
    pca: dict[str, Any] | None
    #: The migration from the previous run's segments (None on a first run).
    migration: dict[str, Any] | None


@contextmanager
def saved_beside(spark: SparkSession, model: PipelineModel, path: str) -> Iterator[None]:
    """Save ``model`` to ``path`` while the block runs, and wait for it before leaving.

    The save is a dozen small jobs (each stage's metadata and data) that wait on latency,
    not on the rows, and nothing else reads its files. Over Spark Connect it runs first,
    not beside: MLlib's Connect writer needs the session active in its own thread, which
    only the thread that made the session has.
    """
    if is_connect(spark):
        model.write().save(path)
        yield
        return
    with ThreadPoolExecutor(max_workers=1) as saver:
        saved = saver.submit(model.write().save, path)
        yield
        saved.result()


def write_outputs(
    spark: SparkSession, out: StagedOutput, *, final: SegmentModel, prepared: Prepared,
    chosen: ChosenModel, ids: list[int], id_column: str, features: FeaturesConfig,
    output: OutputConfig, seed: int, previous: Previous | None,
    profile_rows: DataFrame | None = None,
) -> Written:
    """Write the run's outputs; return what the manifest says of them.

    ``ids`` is the segment id of each cluster index of the chosen model. The profile
    columns are in the prepared rows, or in ``profile_rows`` (``profile_input``: id and
    those columns). Releases the input rows once the labels are written.
    """
    log.info("writing labels, model and profiles into %s", out.path)
    with saved_beside(spark, final.pipeline, out.file(MODEL)):
        # The features are the costliest columns to cache and only the scatter's sample reads
        # them: that sample is labelled on its own while the input rows are still cached.
        labelled = cached(final.labelled.drop(FEATURES_COL, VALUES_COL))
        labelled.select(id_column, *LABEL_COLUMNS).write.parquet(out.file(LABELS))
        pca = write_scatter(
            out, final, chosen.final.centers, ids, chosen.sizes,
            sample_size=output.pca_sample_size, min_segment_size=output.min_segment_size, seed=seed)
        prepared.source.unpersist()
        migration = None
        min_size = output.min_segment_size
        if previous is not None:
            counts = migration_counts(spark, previous.run, labelled, id_column)
            shown = suppress_small_cells(counts, min_size)
            out.write_csv(MIGRATION_CSV, shown[MIGRATION_COLUMNS])
            migration = migration_summary(
                previous.run, previous.matching, counts,
                hidden={s for s, n in zip(ids, chosen.sizes, strict=True) if n < min_size},
                shown=shown)
        profiles, segments = segment_profiles(
            labelled, features, dict(zip(ids, chosen.sizes, strict=True)),
            min_segment_size=min_size, seed=seed)
        out.fs.mkdirs(out.file(PRIVATE_DIR))
        out.write_csv(THRESHOLDS_CSV, segments[THRESHOLD_COLUMNS])
        stability = ([np.nan] * len(ids) if chosen.segment_stability is None
                     else chosen.segment_stability.round(4))
        segments[STABILITY_COL] = segments[SEGMENT_COL].map(dict(zip(ids, stability, strict=True)))
        descriptions = describe_segments(profiles[~profiles[SUPPRESSED_COL]])
        segments["description"] = segments[SEGMENT_COL].map(descriptions).fillna("")
        segments = withhold(segments, hidden_mask(segments, min_size),
                            ["mean_distance", "distance_p99", STABILITY_COL, "description"])
        out.write_csv(METRICS_CSV, chosen.metrics[METRICS_COLUMNS])
        out.write_csv(SEGMENTS_CSV, segments[SEGMENTS_COLUMNS])
        profiles = profiles[PROFILE_COLUMNS]
        out.write_csv(PROFILES_CSV, profiles)
        spark.createDataFrame(profiles).coalesce(1).write.parquet(out.file(PROFILES_TABLE))
        if features.profile_columns:
            rows = labelled if profile_rows is None else with_profile_columns(
                labelled, profile_rows, id_column, features.profile_columns, "profile_input")
            sizes = dict(zip(ids, chosen.sizes, strict=True))
            out.write_csv(ATTRIBUTES_CSV, attribute_table(
                rows, features.profile_columns, sizes, shown_ids(sizes, min_size)))
        labelled.unpersist()
    return Written(segments, pca, migration)
