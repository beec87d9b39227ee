"""Variant (c) of the benchmark: the plain MLlib k sweep a Spark user would write.

Spark in local mode on all cores (all traffic on loopback, UI off): read the Parquet table,
prepare it with Spark ML as this project does (``log1p`` in SQL, ``Imputer`` median,
``VectorAssembler``, ``StandardScaler``), cache the prepared input, then for every k
``KMeans(k=k, seed=1).fit`` with every other setting at its default, and
``ClusteringEvaluator().evaluate(model.transform(df))`` for the silhouette; the k with the
best silhouette wins. Deliberately not tuned: it is the reference, not a competitor.
Prints one JSON object on stdout: per-k WCSS (``summary.trainingCost``), silhouette and
seconds, the chosen k, stage timings.

Usage::

    python scripts/bench_mllib.py --input DIR --numeric a,b --log1p b [--k-min 2 --k-max 10]
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

from bench_reference import parse_args, print_result
from pyspark.ml import Pipeline
from pyspark.ml.clustering import KMeans
from pyspark.ml.evaluation import ClusteringEvaluator
from pyspark.ml.feature import Imputer, StandardScaler, VectorAssembler
from pyspark.sql import DataFrame, SparkSession


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sweep and print its JSON result."""
    args = parse_args(argv, __doc__.splitlines()[0])
    numeric, log1p = args.numeric.split(","), [c for c in args.log1p.split(",") if c]
    timings: dict[str, float] = {}
    began = time.perf_counter()
    spark = local_session()
    timings["session"] = time.perf_counter() - began
    began = time.perf_counter()
    data = prepared(spark.read.parquet(args.input), numeric, log1p).cache()
    rows = data.count()
    timings["read_prepare_cache"] = time.perf_counter() - began
    began = time.perf_counter()
    per_k = [fit_and_score(data, k) for k in range(args.k_min, args.k_max + 1)]
    timings["sweep"] = time.perf_counter() - began
    spark.stop()
    print_result("mllib", rows, per_k, timings)
    return 0


def local_session() -> SparkSession:
    """local[*] with the driver on loopback (this machine's hostname is loopback), no UI."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    spark = (
        SparkSession.builder.master("local[*]")
        .appName("bench-mllib")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("WARN")
    return spark


def prepared(raw: DataFrame, numeric: list[str], log1p: list[str]) -> DataFrame:
    """The ``features`` column: log1p in SQL, median imputation, assembly, standard scaling."""
    cleaned = raw.selectExpr(*[
        f"log1p(CAST({c} AS DOUBLE)) AS {c}" if c in log1p else f"CAST({c} AS DOUBLE) AS {c}"
        for c in numeric
    ])
    imputed = [f"{c}_imputed" for c in numeric]
    pipeline = Pipeline(stages=[
        Imputer(inputCols=numeric, outputCols=imputed, strategy="median"),
        VectorAssembler(inputCols=imputed, outputCol="assembled"),
        StandardScaler(inputCol="assembled", outputCol="features", withMean=True, withStd=True),
    ])
    return pipeline.fit(cleaned).transform(cleaned).select("features")


def fit_and_score(data: DataFrame, k: int) -> dict[str, float]:
    """One default MLlib KMeans fit at ``k`` and its silhouette, with their seconds."""
    began = time.perf_counter()
    model = KMeans(k=k, seed=1).fit(data)
    fitted = time.perf_counter()
    silhouette = ClusteringEvaluator().evaluate(model.transform(data))
    return {"k": k, "wcss": float(model.summary.trainingCost), "silhouette": float(silhouette),
            "iterations": int(model.summary.numIter), "fit_seconds": fitted - began,
            "silhouette_seconds": time.perf_counter() - fitted}


if __name__ == "__main__":
    raise SystemExit(main())
