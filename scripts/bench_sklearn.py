"""Variant (b) of the benchmark: the scikit-learn reference k sweep on one machine.

What a scikit-learn user would write for the same job as ``segment run`` on numeric
features: read the Parquet table with pandas, prepare it as this project does (``log1p`` of
the skewed columns, median imputation, ``StandardScaler``), then for every k fit
``KMeans(n_clusters=k, n_init=1, random_state=0)`` and score it with ``silhouette_score``
on a seeded 20,000-row sample; the k with the best silhouette wins. Prints one JSON object
on stdout: per-k WCSS (``inertia_``), silhouette and seconds, the chosen k, stage timings.

``scripts/bench.py`` runs this as a whole process, so its wall time includes the
interpreter start and the imports.

Usage::

    python scripts/bench_sklearn.py --input DIR --numeric a,b --log1p b [--k-min 2 --k-max 10]
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import pandas as pd
from bench_reference import parse_args, print_result
from sklearn.cluster import KMeans
from sklearn.impute import SimpleImputer
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler

SILHOUETTE_SAMPLE = 20_000


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sweep and print its JSON result."""
    args = parse_args(argv, __doc__.splitlines()[0])
    numeric, log1p = args.numeric.split(","), [c for c in args.log1p.split(",") if c]
    timings: dict[str, float] = {}
    began = time.perf_counter()
    frame = pd.read_parquet(args.input, columns=numeric)
    timings["read"] = time.perf_counter() - began
    began = time.perf_counter()
    x = prepare(frame, log1p)
    timings["prepare"] = time.perf_counter() - began
    began = time.perf_counter()
    per_k = [fit_and_score(x, k) for k in range(args.k_min, args.k_max + 1)]
    timings["sweep"] = time.perf_counter() - began
    print_result("sklearn", len(x), per_k, timings)
    return 0


def prepare(frame: pd.DataFrame, log1p: list[str]) -> np.ndarray:
    """The project's numeric preparation: log1p, then median imputation, then scaling.

    The project applies ``log1p`` before imputing (the median of log1p values is the
    log1p of the median, so the order barely matters). scikit-learn's scaler divides by
    the population standard deviation, Spark's by the sample one: WCSS differs by a factor
    n / (n - 1), negligible at benchmark sizes.
    """
    values = frame.astype("float64")
    values[log1p] = np.log1p(values[log1p])
    imputed = SimpleImputer(strategy="median").fit_transform(values)
    return StandardScaler().fit_transform(imputed)


def fit_and_score(x: np.ndarray, k: int) -> dict[str, float]:
    """One KMeans fit at ``k`` and its silhouette on the seeded sample, with their seconds."""
    began = time.perf_counter()
    model = KMeans(n_clusters=k, n_init=1, random_state=0).fit(x)
    fitted = time.perf_counter()
    silhouette = silhouette_score(x, model.labels_, sample_size=min(SILHOUETTE_SAMPLE, len(x)),
                                  random_state=0)
    return {"k": k, "wcss": float(model.inertia_), "silhouette": float(silhouette),
            "iterations": int(model.n_iter_), "fit_seconds": fitted - began,
            "silhouette_seconds": time.perf_counter() - fitted}


if __name__ == "__main__":
    raise SystemExit(main())
