"""WCSS of `segment run` at every k against scikit-learn's KMeans(n_init=10), on real data.

The public Mall customers file (200 customers; not part of this repository) is converted to
Parquet (gender as 0/1, age, annual income, spending score), segmented by `segment run`
with `features.scale: false` for k = 2..10, and each k's WCSS (metrics.csv) is divided by
scikit-learn's on the same four columns. A ratio at most 1.005 at every k passes.

    .venv/bin/python scripts/check_quality.py [--mall ../shared/data/Mall_Customers.csv]
                                              [--remote sc://HOST:PORT] [--work DIR] [--set K=V]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import yaml
from sklearn.cluster import KMeans

from segmentation.outputs.layout import MANIFEST, METRICS_CSV

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = ["gender", "age", "income", "score"]
LIMIT = 1.005


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mall", default=str(ROOT.parent / "shared/data/Mall_Customers.csv"))
    parser.add_argument("--remote", help="run over this Spark Connect server")
    parser.add_argument("--work", help="directory for the Parquet file and the run")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="a config override for the run (repeatable)")
    args = parser.parse_args(argv)
    work = Path(args.work or tempfile.mkdtemp(prefix="quality-"))
    raw = pd.read_csv(args.mall)
    frame = pd.DataFrame({
        "customer_id": raw["CustomerID"].astype("int64"),
        "gender": (raw["Gender"] == "Female").astype(float),
        "age": raw["Age"].astype(float),
        "income": raw["Annual Income (k$)"].astype(float),
        "score": raw["Spending Score (1-100)"].astype(float),
    })
    (work / "mall").mkdir(parents=True, exist_ok=True)
    frame.to_parquet(work / "mall" / "part-0.parquet", index=False)
    config = {
        "input": {"path": str(work / "mall"), "partitions": 2},
        "features": {"numeric": COLUMNS, "scale": False},
        "model": {"k_min": 2, "k_max": 10},
        "output": {"path": str(work / "run"), "mode": "overwrite", "pca_sample_size": 0},
    }
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    remote = ["--remote", args.remote] if args.remote else ["--master", "local[2]"]
    done = subprocess.run([sys.executable, "-m", "segmentation.cli", "run", "--config",
                           str(work / "config.yaml"), *remote,
                           *[f"--set={o}" for o in args.overrides]],
                          capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
        return done.returncode
    metrics = pd.read_csv(work / "run" / METRICS_CSV).set_index("k")
    x = frame[COLUMNS].to_numpy()
    rows = []
    for k, wcss in metrics["wcss"].items():
        reference = KMeans(n_clusters=int(k), n_init=10, random_state=0).fit(x).inertia_
        rows.append({"k": int(k), "wcss": wcss, "sklearn": reference, "ratio": wcss / reference})
    table = pd.DataFrame(rows)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    chosen = json.loads((work / "run" / MANIFEST).read_text())["chosen_k"]
    worst = float(table["ratio"].max())
    print(f"chosen k = {chosen}; worst ratio {worst:.4f} (limit {LIMIT})")
    return 0 if worst <= LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
