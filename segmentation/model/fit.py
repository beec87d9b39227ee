"""The model stages of a segmentation run: prepare the rows, sweep k, evaluate every k,
choose k and fit the final model on all rows.

Stages take the config sections they use and return frames or values; the job composes
them. Data-dependent checks (enough rows, enough distinct customers for the largest k) fail
here, before anything expensive, with the value and the limit named.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pyspark.ml import PipelineModel
from pyspark.ml.clustering import KMeansModel
from pyspark.sql import DataFrame

from segmentation.core.errors import InputDataError
from segmentation.core.runinfo import StageTimer
from segmentation.data.config import FeaturesConfig
from segmentation.model.columns import FEATURES_COL, VALUES_COL
from segmentation.model.config import EvaluationConfig, ModelConfig
from segmentation.model.metrics import evaluate_candidates, metrics_frame
from segmentation.model.pipeline import category_column, feature_values, fit_preparation
from segmentation.model.selection import METRIC_NAMES, STABILITY_COLUMNS, choose_k
from segmentation.model.stability import StabilityAtK, segment_jaccard, stability_sweep
from segmentation.model.sweep import KFit, kmeans_model, sweep_on_driver, sweep_on_rows


@dataclass(frozen=True)
class Prepared:
    """The fitted preparation and the prepared rows (``features`` and ``feature_values``
    added), computed from the cached input rows on every read rather than cached."""

    preparation: PipelineModel
    rows: DataFrame
    count: int
    #: The cached input rows ``rows`` are computed from; released once the labels are written.
    source: DataFrame


@dataclass(frozen=True)
class ChosenModel:
    """The outcome of the sweep: every k's metrics, the chosen k and its final fit."""

    ks: list[int]
    metrics: pd.DataFrame
    chosen_k: int
    #: The final fit, its centres in the cluster index order of ``kmeans``.
    final: KFit
    #: Spark's model of the final centres (what the saved pipeline holds).
    kmeans: KMeansModel
    #: Customers per cluster index, over all rows.
    sizes: list[int]
    #: Bootstrap Jaccard of each cluster index (Hennig); None with stability off.
    segment_stability: np.ndarray | None = None


log = logging.getLogger(__name__)


def largest_k(model: ModelConfig) -> tuple[int, str]:
    """The largest k the run fits, and the key that sets it."""
    if model.k is not None:
        return model.k, "model.k"
    return model.k_max, "model.k_max"


def check_enough_rows(rows: int, model: ModelConfig) -> None:
    """KMeans at k needs at least k rows; fail before fitting anything."""
    needed, key = largest_k(model)
    if rows < needed:
        raise InputDataError(f"only {rows} usable rows, fewer than {key}={needed}")


def prepare_rows(usable: DataFrame, count: int, features: FeaturesConfig, id_column: str, *,
                 seed: int, carried: Sequence[str] = ()) -> Prepared:
    """Fit the preparation on the ``count`` usable rows (cached) and define the prepared rows.

    Kept: the id, the raw numeric features and the cleaned categories (for the profiles),
    the ``carried`` columns (profile columns read with the input), the ``features`` vector
    and its ``feature_values``. Not cached: a pass recomputes the preparation from
    ``usable`` as cheaply as it would read a cache of its result (BENCHMARKS.md, issue 28),
    which saves filling that cache and holding it in memory. Each read gives the same
    values in the same partitions and order.
    """
    preparation = fit_preparation(usable, features, seed=seed)
    transformed = preparation.transform(usable)
    keep = [id_column, *features.numeric,
            *[category_column(c) for c in features.categorical], *carried, FEATURES_COL]
    rows = transformed.select(*keep, feature_values(preparation, transformed).alias(VALUES_COL))
    return Prepared(preparation, rows, count, usable)


def rows_matrix(vectors: pd.Series) -> np.ndarray:
    """The collected arrays of a ``feature_values`` column as one (rows, d) matrix."""
    return np.array(vectors.tolist(), dtype=float).reshape(len(vectors), -1)


def collected_values(rows: DataFrame) -> np.ndarray:
    """The ``feature_values`` of ``rows`` on the driver, as one (rows, d) matrix."""
    picked: pd.DataFrame = rows.select(VALUES_COL).toPandas()
    return rows_matrix(picked[VALUES_COL])


def evaluation_sample(prepared: Prepared, size: int, seed: int) -> np.ndarray:
    """A seeded uniform sample of at most ``size`` feature vectors, on the driver."""
    fraction = min(1.0, 1.2 * size / prepared.count)
    x = collected_values(prepared.rows.sample(fraction=fraction, seed=seed))
    if len(x) > size:
        x = x[np.sort(np.random.default_rng(seed).choice(len(x), size, replace=False))]
    return x


def check_distinct_points(prepared: Prepared, sample: np.ndarray, model: ModelConfig) -> None:
    """KMeans at k needs k distinct feature vectors; the sample usually proves it cheaply."""
    needed, key = largest_k(model)
    if len(np.unique(sample, axis=0)) >= needed:
        return
    vectors = prepared.rows.select(VALUES_COL).distinct()
    distinct = vectors.limit(needed).count()
    if distinct < needed:
        raise InputDataError(
            f"only {distinct} distinct customers (distinct feature vectors after preparation), "
            f"fewer than {key}={needed}"
        )


def sweep_rows(prepared: Prepared, sample_size: int, seed: int, sample: np.ndarray
               ) -> np.ndarray | None:
    """The rows the sweep fits on, on the driver: all of them when there are at most
    ``sample_size``, else a seeded sample of about ``sample_size``; None for ``sample_size``
    0, which sweeps over all rows where they are (one pass per Lloyd iteration).

    All of them are the evaluation ``sample`` itself when that holds every row (the same
    rows in the same order: both are the cached rows in partition order), so they are not
    collected twice.
    """
    if sample_size == 0:
        return None
    fraction = min(1.0, sample_size / prepared.count)
    if fraction < 1.0:
        log.info("sweep fits on a seeded sample of about %d of %d rows", sample_size,
                 prepared.count)
    elif len(sample) == prepared.count:
        return sample
    rows = prepared.rows if fraction == 1.0 else prepared.rows.sample(fraction=fraction,
                                                                      seed=seed)
    return collected_values(rows)


def stability_of(sample: np.ndarray, ks: list[int], model: ModelConfig,
                 evaluation: EvaluationConfig) -> list[StabilityAtK]:
    """The bootstrap stability of every k on the evaluation sample (numpy, driver threads)."""
    return stability_sweep(
        sample, ks, resamples=evaluation.stability_resamples,
        sample_size=evaluation.stability_sample_size, restarts=evaluation.stability_restarts,
        seed=model.seed, max_iter=model.max_iter, tol=model.tol, threads=model.parallel_fits)


def choose_model(prepared: Prepared, sample: np.ndarray, model: ModelConfig,
                 evaluation: EvaluationConfig, timer: StageTimer) -> ChosenModel:
    """Sweep k (stage ``sweep``), score every k (``evaluate``), measure its bootstrap
    stability (``stability``, unless ``evaluation.stability_resamples`` is 0), choose k and,
    when the sweep ran on a sample, refit the chosen k on all rows from the sample's centres
    (``final_fit``).

    The chosen k's row of the metrics then describes that final model; its stability
    columns describe k itself (the resamples' clusterings), and each segment's stability
    compares the final model's clusters with them.
    """
    with timer.stage("sweep"):
        ks = [model.k] if model.k is not None else list(range(model.k_min, model.k_max + 1))
        x = sweep_rows(prepared, model.sweep_sample_size, model.seed, sample)
        # every row on the driver: the metric passes run there too (no Spark job)
        rows: np.ndarray | DataFrame = (x if x is not None and len(x) == prepared.count
                                        else prepared.rows)
        if x is None:
            fits = sweep_on_rows(prepared.rows, ks, model, sample)
        else:
            fits = sweep_on_driver(x, ks, model, sample)
    with timer.stage("evaluate"):
        values, stats = evaluate_candidates(rows, [f.centers for f in fits], sample,
                                            known=[f.stats for f in fits])
        metrics = metrics_frame(ks, values)
        metrics["iterations"] = [f.iterations for f in fits]
        metrics["seconds"] = [round(f.seconds, 3) for f in fits]
        metrics["fitted_rows"] = prepared.count if x is None else len(x)
        for _, r in metrics.iterrows():
            log.info("k=%d %s", r.k, " ".join(f"{m}={r[m]:.4g}" for m in METRIC_NAMES))
    stability = None
    if evaluation.stability_resamples > 0:
        with timer.stage("stability"):
            stability = stability_of(sample, ks, model, evaluation)
        for at_k in stability:
            log.info("k=%d stability=%.3f (quartiles %.3f..%.3f over %d resample pairs)",
                     at_k.k, *at_k.summary().values(), len(at_k.ari))
    summaries = pd.DataFrame([s.summary() for s in stability or []], index=range(len(ks)),
                             columns=STABILITY_COLUMNS, dtype=float)
    metrics = pd.concat([metrics, summaries], axis=1)
    chosen_k = ks[0] if model.k is not None else choose_k(
        metrics, model.select_by, silhouette_share=model.stability_silhouette_share)
    final, final_stats = fits[ks.index(chosen_k)], stats[ks.index(chosen_k)]
    if x is not None and len(x) < prepared.count:
        with timer.stage("final_fit"):
            # the evaluation's pass at the sweep's centres is the first Lloyd pass
            (final,) = sweep_on_rows(prepared.rows, [chosen_k], model, sample,
                                     warm_start={chosen_k: final.centers},
                                     known={chosen_k: final_stats})
            (final_values,), (final_stats,) = evaluate_candidates(
                prepared.rows, [final.centers], sample, known=[final.stats])
            row = metrics.index[metrics.k == chosen_k][0]
            for name, value in final_values.items():
                metrics.loc[row, name] = value
            metrics.loc[row, ["iterations", "seconds", "fitted_rows"]] = [
                final.iterations, round(final.seconds, 3), prepared.count]
    else:
        timer.estimate.skip("final_fit")  # the sweep's fit of the chosen k is final
    kmeans, order = kmeans_model(prepared.rows.sparkSession, final.centers, model)
    final = dataclasses.replace(final, centers=final.centers[order])
    per_segment = None if stability is None else segment_jaccard(
        sample, final.centers, stability[ks.index(chosen_k)])
    sizes = final_stats.sizes
    return ChosenModel(ks, metrics, chosen_k, final, kmeans, [sizes[i] for i in order],
                       per_segment)
