"""The segmentation job: read, validate, prepare, sweep k, choose k, fit the final model, write.

:func:`run_segmentation` takes a SparkSession and a validated :class:`Config` and returns
the manifest it wrote; it never builds a session or exits (the CLI and ``jobs/`` do).
"""

from __future__ import annotations

import datetime as dt
import logging
import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
from pyspark import StorageLevel
from pyspark.ml import PipelineModel
from pyspark.ml.functions import vector_to_array
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from segmentation.assign import DISTANCE_COL, SEGMENT_COL, SegmentAssigner, ids_by_size
from segmentation.config import Config
from segmentation.describe import describe_segments
from segmentation.errors import InputDataError
from segmentation.io import StagedOutput, atomic_output, check_output_target, read_parquet
from segmentation.metrics import METRIC_COLUMNS, evaluate_candidates, metrics_frame
from segmentation.pipeline import FEATURES_COL, category_column, fit_preparation
from segmentation.profiles import segment_profiles
from segmentation.relabel import (
    FinishedRun,
    load_previous_run,
    migration_counts,
    migration_summary,
    segment_ids,
)
from segmentation.sweep import KFit, choose_k, selection_rule, sweep
from segmentation.validate import (
    InputProfile,
    any_missing,
    check_duplicate_ids,
    check_schema,
    profile_input,
)

log = logging.getLogger(__name__)


class StageTimer:
    """Wall-clock seconds per named stage, logged as each stage ends."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - start, 3)
        log.info("%s: %.1f s", name, self.seconds[name])


def run_segmentation(spark: SparkSession, cfg: Config) -> dict[str, Any]:
    """Run the whole job and write every output under ``cfg.output.path``; return the manifest."""
    started = dt.datetime.now(dt.timezone.utc)
    timer = StageTimer()
    check_output_target(spark, cfg.output.path, cfg.output.mode)
    previous = load_previous_run(spark, cfg)
    with timer.stage("read_and_validate"):
        raw = read_parquet(spark, cfg.input.path,
                           ignore_corrupt_files=cfg.input.ignore_corrupt_files)
        check_schema(raw, cfg)
        partitioned = partition_by_id(raw, cfg)
        try:  # the profile pass fills the cache: the input is read once
            profile = profile_input(partitioned, cfg)
            usable, dropped = usable_rows(partitioned, cfg, profile)
        except BaseException:
            partitioned.unpersist()
            raise
        rows_used = profile.rows - sum(dropped.values())
        check_enough_rows(rows_used, cfg)
    with atomic_output(spark, cfg.output.path, cfg.output.mode) as out:
        manifest = _segment(spark, cfg, usable, timer, out, previous)
        manifest.update(
            rows_read=profile.rows,
            rows_used=rows_used,
            rows_dropped=dropped,
            missing_values=profile.missing,
            constant_columns=profile.constant_columns,
            started_at=started.isoformat(),
            finished_at=dt.datetime.now(dt.timezone.utc).isoformat(),
            timings=timer.seconds,
            versions=versions(spark),
            config=cfg.to_dict(),
            seed=cfg.model.seed,
            input={"path": cfg.input.path, "id_column": cfg.input.id_column},
            features={"numeric": cfg.features.numeric,
                      "categorical": cfg.features.categorical,
                      "log1p": cfg.features.log1p},
        )
        manifest["duration_seconds"] = round(
            (dt.datetime.now(dt.timezone.utc) - started).total_seconds(), 3)
        out.write_json("manifest.json", manifest)
    log.info("chosen k=%d; outputs in %s", manifest["chosen_k"], cfg.output.path)
    return manifest


def partition_by_id(raw: DataFrame, cfg: Config) -> DataFrame:
    """The configured columns, hash-partitioned by id and sorted by id, cached.

    A fixed layout makes KMeans (whose results depend on partitioning and row order) give
    the same answer in local mode and on any cluster; it also lets the duplicate-id check
    group by id without another shuffle.
    """
    id_col = cfg.input.id_column
    return (
        raw.select(id_col, *cfg.features.numeric, *cfg.features.categorical)
        .repartition(cfg.input.partitions, id_col)
        .sortWithinPartitions(id_col)
        .persist(StorageLevel.MEMORY_AND_DISK)
    )


def usable_rows(
    partitioned: DataFrame, cfg: Config, profile: InputProfile
) -> tuple[DataFrame, dict[str, int]]:
    """The rows the model is fitted on, and how many rows were dropped for which reason.

    Under the ``drop`` policies every row of a repeated id, then every row with a missing
    value, is dropped: one aggregation counts each reason exactly (a row counts under the
    first reason that applies), and the kept rows are cached once.
    """
    reasons: dict[str, Column] = {}
    if cfg.input.duplicate_ids == "drop":
        rows_of_id = F.count(F.lit(1)).over(Window.partitionBy(cfg.input.id_column))
        reasons["duplicate_id"] = rows_of_id > 1
    else:
        check_duplicate_ids(partitioned, cfg, rows=profile.rows)
    if cfg.features.missing == "drop" and profile.rows_with_missing:
        reasons["missing_value"] = any_missing(cfg.features.numeric)
    if not reasons:
        return partitioned, {}
    flagged = partitioned.select("*", *[flag.alias(f"_{r}") for r, flag in reasons.items()])
    counts, earlier = [], F.lit(False)
    for reason in reasons:
        counts.append(F.sum((F.col(f"_{reason}") & ~earlier).cast("long")).alias(reason))
        earlier = earlier | F.col(f"_{reason}")
    totals = flagged.agg(*counts).first()
    dropped = {r: int(totals[r]) for r in reasons if totals[r]}
    if not dropped:
        return partitioned, {}
    kept = flagged.where(~earlier).drop(*[f"_{r}" for r in reasons])
    kept = kept.persist(StorageLevel.MEMORY_AND_DISK)
    kept.count()
    partitioned.unpersist()
    return kept, dropped


def largest_k(cfg: Config) -> tuple[int, str]:
    """The largest k the run fits, and the key that sets it."""
    if cfg.model.k is not None:
        return cfg.model.k, "model.k"
    return cfg.model.k_max, "model.k_max"


def check_enough_rows(rows: int, cfg: Config) -> None:
    """KMeans at k needs at least k rows; fail before fitting anything."""
    needed, key = largest_k(cfg)
    if rows < needed:
        raise InputDataError(f"only {rows} usable rows, fewer than {key}={needed}")


def check_distinct_points(prepared: DataFrame, sample: np.ndarray, cfg: Config) -> None:
    """KMeans at k needs k distinct feature vectors; the sample usually proves it cheaply."""
    needed, key = largest_k(cfg)
    if len(np.unique(sample, axis=0)) >= needed:
        return
    vectors = prepared.select(vector_to_array(FEATURES_COL).alias("x")).distinct()
    distinct = vectors.limit(needed).count()
    if distinct < needed:
        raise InputDataError(
            f"only {distinct} distinct customers (distinct feature vectors after preparation), "
            f"fewer than {key}={needed}"
        )


def _segment(
    spark: SparkSession, cfg: Config, usable: DataFrame, timer: StageTimer, out: StagedOutput,
    previous: FinishedRun | None,
) -> dict[str, Any]:
    id_col, model_cfg = cfg.input.id_column, cfg.model
    with timer.stage("prepare_features"):
        preparation = fit_preparation(usable, cfg.features)
        keep = [id_col, *cfg.features.numeric,
                *[category_column(c) for c in cfg.features.categorical], FEATURES_COL]
        prepared = preparation.transform(usable).select(*keep)
        prepared = prepared.persist(StorageLevel.MEMORY_AND_DISK)
        rows = prepared.count()
        usable.unpersist()
    sample = evaluation_sample(prepared, rows, cfg.evaluation.sample_size, model_cfg.seed)
    check_distinct_points(prepared, sample, cfg)
    with timer.stage("sweep"):
        sweep_rows = sweep_input(prepared, rows, model_cfg.sweep_sample_size, model_cfg.seed)
        ks = ([model_cfg.k] if model_cfg.k is not None
              else list(range(model_cfg.k_min, model_cfg.k_max + 1)))
        fits = sweep(sweep_rows, ks, model_cfg, sample)
    with timer.stage("evaluate"):
        values, sizes = evaluate_candidates(prepared, [f.centers for f in fits], sample)
        metrics = metrics_frame(ks, values)
        metrics["iterations"] = [f.iterations for f in fits]
        metrics["seconds"] = [round(f.seconds, 3) for f in fits]
        metrics["fitted_rows"] = sweep_rows.count() if sweep_rows is not prepared else rows
        for _, r in metrics.iterrows():
            log.info("k=%d %s", r.k, " ".join(f"{m}={r[m]:.4g}" for m in METRIC_COLUMNS))
    chosen_k = ks[0] if model_cfg.k is not None else choose_k(metrics, model_cfg.select_by)
    final = fits[ks.index(chosen_k)]
    final_sizes = sizes[ks.index(chosen_k)]
    if sweep_rows is not prepared:
        sweep_rows.unpersist()
        with timer.stage("final_fit"):
            (final,) = sweep(prepared, [chosen_k], model_cfg, sample,
                             warm_start={chosen_k: final.centers})
            (values,), (final_sizes,) = evaluate_candidates(prepared, [final.centers], sample)
            row = metrics.index[metrics.k == chosen_k][0]
            for name, value in values.items():
                metrics.loc[row, name] = value
            metrics.loc[row, ["iterations", "seconds", "fitted_rows"]] = [
                final.iterations, round(final.seconds, 3), rows]
    matching = None
    if previous is not None:
        with timer.stage("match_previous_ids"):
            matching = segment_ids(previous, cfg.features, preparation, final.centers,
                                   final_sizes)
    ids = matching.ids if matching is not None else ids_by_size(final_sizes)
    with timer.stage("write_outputs"):
        model, labelled = final_model(preparation, final, ids, prepared)
        labelled = labelled.persist(StorageLevel.MEMORY_AND_DISK)
        labelled.select(id_col, SEGMENT_COL, DISTANCE_COL).write.parquet(out.file("labels"))
        prepared.unpersist()
        migration = None
        if previous is not None and matching is not None:
            counts = migration_counts(spark, previous, labelled, id_col)
            out.write_csv("migration.csv", counts)
            migration = migration_summary(previous, matching, counts)
        model.write().save(out.file("model"))
        profiles, segments = segment_profiles(
            labelled, cfg.features, dict(zip(ids, final_sizes, strict=True)),
            min_segment_size=cfg.output.min_segment_size, seed=cfg.model.seed)
        descriptions = describe_segments(profiles)
        segments["description"] = segments["segment"].map(descriptions).fillna("")
        out.write_csv("metrics.csv", metrics)
        out.write_csv("segments.csv", segments)
        out.write_csv("profiles.csv", profiles)
        spark.createDataFrame(profiles).coalesce(1).write.parquet(out.file("profiles"))
        pca = write_scatter(labelled, final, ids, final_sizes, cfg, out)
        labelled.unpersist()
    return {
        "chosen_k": chosen_k,
        "select_by": model_cfg.select_by,
        "selection_rule": selection_rule(model_cfg.select_by),
        "k_range": ks,
        "final_seed": final.seed,
        "segments": segments[["segment", "size"]].to_dict(orient="records"),
        "pca": pca,
        **({"migration": migration} if migration is not None else {}),
    }


def sweep_input(prepared: DataFrame, rows: int, sample_size: int, seed: int) -> DataFrame:
    """The rows the sweep fits on: all of them, or a seeded sample of about ``sample_size``.

    The sample is coalesced to one partition per core (``defaultParallelism``): every MLlib
    iteration is a job with a shuffle per partition, so a small sample spread over many
    partitions is mostly task overhead.
    """
    vectors = prepared.select(FEATURES_COL)
    if sample_size == 0 or rows <= sample_size:
        return prepared
    fraction = sample_size / rows
    log.info("sweep fits on a seeded sample of about %d of %d rows", sample_size, rows)
    cores = prepared.sparkSession.sparkContext.defaultParallelism
    sample = vectors.sample(fraction=fraction, seed=seed).coalesce(cores)
    return sample.persist(StorageLevel.MEMORY_AND_DISK)


def evaluation_sample(prepared: DataFrame, rows: int, size: int, seed: int) -> np.ndarray:
    """A seeded uniform sample of at most ``size`` feature vectors, on the driver."""
    fraction = min(1.0, 1.2 * size / rows)
    picked = (
        prepared.sample(fraction=fraction, seed=seed)
        .select(vector_to_array(FEATURES_COL).alias("x"))
        .toPandas()
    )
    x = rows_matrix(picked["x"])
    if len(x) > size:
        x = x[np.sort(np.random.default_rng(seed).choice(len(x), size, replace=False))]
    return x


def rows_matrix(vectors: pd.Series) -> np.ndarray:
    """The collected arrays of a ``vector_to_array`` column as one (rows, d) matrix."""
    return np.array(vectors.tolist(), dtype=float).reshape(len(vectors), -1)


def final_model(
    preparation: PipelineModel, final: KFit, ids: list[int], prepared: DataFrame
) -> tuple[PipelineModel, DataFrame]:
    """The saved pipeline (preparation + KMeans + segment ids) and the labelled rows.

    ``ids`` is the segment id of each cluster index: by size on a first run, matched to
    ``model.previous_run`` otherwise (so ids are not necessarily 0..k-1).
    """
    assigner = SegmentAssigner(segmentIds=ids, centers=final.centers.tolist())
    model = PipelineModel(stages=[*preparation.stages, final.model, assigner])
    labelled = assigner.transform(final.model.transform(prepared))
    return model, labelled


def write_scatter(
    labelled: DataFrame, final: KFit, ids: list[int], sizes: list[int], cfg: Config,
    out: StagedOutput,
) -> dict[str, Any] | None:
    """A seeded sample projected to 2-D on its principal axes (no ids; small segments left out).

    ``sizes`` are the cluster sizes of ``final`` by cluster index. The axes are those of the
    sample itself, computed on the driver (a few thousand rows): as good for a picture as
    those of all rows, without a pass over the data.
    """
    size = cfg.output.pca_sample_size
    dim = len(final.centers[0])
    if size == 0 or dim < 2:
        return None
    big = [ids[i] for i, n in enumerate(sizes) if n >= cfg.output.min_segment_size]
    picked = (
        labelled.sample(fraction=min(1.0, 1.2 * size / sum(sizes)), seed=cfg.model.seed)
        .where(F.col(SEGMENT_COL).isin(big))
        .select(vector_to_array(FEATURES_COL).alias("x"), SEGMENT_COL)
        .limit(size)
        .toPandas()
    )
    if len(picked) < 2:
        return None
    x = rows_matrix(picked["x"])
    axes, explained = principal_axes(x)
    points, centres = x @ axes, final.centers @ axes
    scatter = pd.DataFrame({"pc1": points[:, 0], "pc2": points[:, 1],
                            "segment": picked[SEGMENT_COL].astype(int)})
    centroids = pd.DataFrame({"segment": ids, "pc1": centres[:, 0], "pc2": centres[:, 1]})
    out.write_csv("scatter.csv", scatter)
    out.write_csv("centroids_2d.csv", centroids.sort_values("segment"))
    return {"explained_variance": [float(v) for v in explained]}


def principal_axes(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first two principal axes of the rows of ``x`` as a (d, 2) matrix, and the share
    of the total variance each explains (Spark ``PCA``'s ``explainedVariance``)."""
    _, singular, vt = np.linalg.svd(x - x.mean(axis=0), full_matrices=False)
    variance = singular**2
    total = variance.sum()
    share = variance / total if total > 0 else np.zeros_like(variance)
    return vt[:2].T, share[:2]


def versions(spark: SparkSession) -> dict[str, str]:
    """Versions of everything that can change a result."""
    import pyarrow
    import pyspark

    return {
        "spark": spark.version,
        "pyspark": pyspark.__version__,
        "python": platform.python_version(),
        "pandas": pd.__version__,
        "numpy": np.__version__,
        "pyarrow": pyarrow.__version__,
    }
