"""One pass over cached feature rows, timed five ways side by side (issue 28's first lever).

A metric or Lloyd pass assigns every row to the nearest centre of each candidate (k = 2..10
by default: 54 centres) and sums per cluster: the count, the features and the squared
norms. Variants, each on the same rows cached in memory (random normal features):

- ``floor``: one plain Spark SQL aggregate (a sum per feature column), no assignment;
- ``python-vector``: the project's pass, ``cluster_statistics`` (numpy on Arrow batches in
  the Python workers) over an ML vector column, as the run caches its rows today;
- ``python-columns``: the same numpy pass over plain double columns;
- ``sql-explode``: Spark SQL only: the labels as expressions, one row per candidate
  (``inline``), one ``groupBy(partition, candidate, cluster)``;
- ``sql-conditional``: Spark SQL only: a conditional sum per candidate, cluster and column.

Repeats alternate the order of the variants; the table gives min / median / max seconds.

    .venv/bin/python scripts/bench_passes.py [--rows 2000000] [--features 8] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator

import numpy as np
import pyarrow as pa
from pyspark.ml.functions import array_to_vector
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from segmentation.model.metrics import cluster_statistics, nearest
from segmentation.model.sample_metrics import squared_norms

Pass = Callable[[], object]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--features", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--k-min", type=int, default=2)
    parser.add_argument("--k-max", type=int, default=10)
    args = parser.parse_args(argv)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # the workers need numpy
    spark = (SparkSession.builder.master("local[*]").appName("bench-passes")
             .config("spark.driver.memory", "8g").config("spark.ui.enabled", "false")
             .getOrCreate())
    d = args.features
    names = [f"f{i}" for i in range(d)]
    columns = (spark.range(args.rows).repartition(8)
               .select(*[F.randn(i).alias(n) for i, n in enumerate(names)]).persist())
    vectors = columns.select(array_to_vector(F.array(*names)).alias("features")).persist()
    print(f"{columns.count()} rows x {d} features cached ({vectors.count()} as vectors)")
    rng = np.random.default_rng(0)
    centers = [rng.normal(size=(k, d)) for k in range(args.k_min, args.k_max + 1)]
    variants: dict[str, Pass] = {
        "floor": lambda: columns.agg(*[F.sum(n) for n in names]).collect(),
        "python-vector": lambda: cluster_statistics(vectors, centers),
        "python-columns": lambda: _python_columns(columns, names, centers),
        "sql-explode": lambda: _sql_explode(columns, names, centers),
        "sql-conditional": lambda: _sql_conditional(columns, names, centers),
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    order = list(variants)
    for repeat in range(args.repeats):
        for name in order if repeat % 2 == 0 else order[::-1]:
            start = time.perf_counter()
            variants[name]()
            times[name].append(time.perf_counter() - start)
            print(f"repeat {repeat + 1}: {name} {times[name][-1]:.2f} s", flush=True)
    print(f"\n| variant ({len(centers)} candidates, {sum(map(len, centers))} centres) "
          "| seconds (min / median / max) |\n|---|---|")
    for name, values in times.items():
        print(f"| {name} | {min(values):.2f} / {statistics.median(values):.2f} / "
              f"{max(values):.2f} |")
    spark.stop()
    return 0


def _python_columns(df: DataFrame, names: list[str], centers: list[np.ndarray]) -> object:
    def scan(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        totals: dict[int, np.ndarray] = {}
        for batch in batches:
            x = np.column_stack([batch.column(i).to_numpy() for i in range(len(names))])
            norms = squared_norms(x)
            for c, cen in enumerate(centers):
                labels, k = nearest(x, cen), len(cen)
                part = np.stack([np.bincount(labels, minlength=k),
                                 *(np.bincount(labels, x[:, j], k) for j in range(x.shape[1])),
                                 np.bincount(labels, norms, k)], axis=1)
                totals[c] = part if c not in totals else totals[c] + part
        for c, matrix in totals.items():
            yield pa.RecordBatch.from_pydict({"c": [c] * len(matrix),
                                              "j": list(range(len(matrix))),
                                              "v": matrix.tolist()})

    return df.mapInArrow(scan, "c long, j long, v array<double>").toPandas()


def _labelled(df: DataFrame, names: list[str], centers: list[np.ndarray]) -> DataFrame:
    """The rows with their squared norm ``n`` and, per candidate c, label ``l<c>`` (the
    first nearest centre) and squared distance ``e<c>``, as SQL expressions."""
    x = [F.col(n) for n in names]
    norm = sum((v * v for v in x[1:]), x[0] * x[0])
    added: list[Column] = []
    for c, cen in enumerate(centers):
        scores = [F.lit(float(cen[j] @ cen[j]))
                  - 2.0 * sum((x[i] * float(cen[j, i]) for i in range(1, len(x))),
                              x[0] * float(cen[j, 0]))
                  for j in range(len(cen))]
        best = F.least(*scores)
        label: Column = F.lit(len(cen) - 1)
        for j in reversed(range(len(cen) - 1)):
            label = F.when(scores[j] == best, j).otherwise(label)
        added += [label.alias(f"l{c}"), (best + norm).alias(f"e{c}")]
    return df.select(*x, norm.alias("n"), *added)


def _sql_explode(df: DataFrame, names: list[str], centers: list[np.ndarray]) -> object:
    pairs = [F.struct(F.lit(c).alias("c"), F.col(f"l{c}").alias("j"), F.col(f"e{c}").alias("e"))
             for c in range(len(centers))]
    rows = _labelled(df, names, centers).select(*names, "n", F.inline(F.array(*pairs)))
    return (rows.groupBy(F.spark_partition_id().alias("p"), "c", "j")
            .agg(F.count(F.lit(1)), *[F.sum(n) for n in names], F.sum("n"), F.sum("e"))
            .toPandas())


def _sql_conditional(df: DataFrame, names: list[str], centers: list[np.ndarray]) -> object:
    sums: list[Column] = []
    for c, cen in enumerate(centers):
        for j in range(len(cen)):
            mine = F.col(f"l{c}") == j
            sums += [F.count_if(mine), *[F.sum(F.when(mine, F.col(n))) for n in names],
                     F.sum(F.when(mine, F.col("n"))), F.sum(F.when(mine, F.col(f"e{c}")))]
    return (_labelled(df, names, centers).groupBy(F.spark_partition_id()).agg(*sums)
            .toPandas())


if __name__ == "__main__":
    sys.exit(main())
