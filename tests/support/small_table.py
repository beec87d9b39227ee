"""A small customer table (60 rows: id, two numeric features, a channel) and the config of
a quick run on it: the input of the tests that run the job on many small variations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def good_table(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "customer_id": np.arange(n, dtype=np.int64),
        "spend": rng.lognormal(3, 1, n),
        "visits": rng.poisson(4, n).astype(np.int64),
        "channel": rng.choice(["web", "store"], n),
    })


def write(df: pd.DataFrame, directory: Path, name: str = "part-0.parquet") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    df.to_parquet(directory / name, index=False)
    return directory


def config(tmp: Path, data: Path, **sections) -> dict:
    cfg = {
        "input": {"path": str(data), "partitions": 2},
        "features": {"numeric": ["spend", "visits"], "categorical": ["channel"]},
        "model": {"k_min": 2, "k_max": 3, "restarts": 2},
        "evaluation": {"sample_size": 200},
        "output": {"path": str(tmp / "out"), "mode": "overwrite", "pca_sample_size": 0},
    }
    for name, values in sections.items():
        cfg.setdefault(name, {}).update(values)
    return cfg
