"""What the two reference scripts of the benchmark share: their arguments and their result.

``bench_sklearn.py`` and ``bench_mllib.py`` take the same input table, feature columns and
k range, choose k by the best silhouette the same way, and print the same JSON line that
``bench.py`` reads.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any


def parse_args(argv: Sequence[str] | None, description: str) -> argparse.Namespace:
    """Input table, feature columns (comma-separated) and the k range."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--input", required=True, help="Parquet customer table (directory)")
    parser.add_argument("--numeric", required=True, help="numeric feature columns, a,b,c")
    parser.add_argument("--log1p", default="", help="columns to log1p, a subset of --numeric")
    parser.add_argument("--k-min", type=int, default=2)
    parser.add_argument("--k-max", type=int, default=10)
    return parser.parse_args(argv)


def print_result(variant: str, rows: int, per_k: list[dict[str, Any]],
                 timings: dict[str, float]) -> None:
    """Print the JSON result line: the k with the best silhouette (ties: the smaller k)."""
    best = max(per_k, key=lambda r: r["silhouette"])
    print(json.dumps({"variant": variant, "rows": rows, "chosen_k": best["k"],
                      "per_k": per_k, "timings": timings}))
