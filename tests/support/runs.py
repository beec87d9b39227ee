"""Configs and inputs of real segmentation runs shared by several test modules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from segmentation.synthetic.customers import NUMERIC_COLUMNS

LOG1P = ["annual_income", "spend_12m", "orders_12m", "days_since_last_order", "avg_basket",
         "tenure_months"]


def job_config(input_path: Path, output_path: Path, **sections) -> dict:
    data = {
        "input": {"path": str(input_path), "partitions": 4},
        "features": {"numeric": NUMERIC_COLUMNS, "categorical": ["channel"], "log1p": LOG1P},
        "model": {"k_min": 2, "k_max": 8, "max_iter": 30},
        "evaluation": {"sample_size": 1500},
        "output": {"path": str(output_path), "mode": "overwrite", "pca_sample_size": 500},
    }
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return data


def write_parquet(frame: pd.DataFrame, path: Path, files: int) -> Path:
    path.mkdir(parents=True)
    for i, rows in enumerate(np.array_split(np.arange(len(frame)), files)):
        pq.write_table(pa.Table.from_pandas(frame.iloc[rows], preserve_index=False),
                       path / f"part-{i:05d}.parquet")
    return path


def fixed_k_config(data: Path, out: Path, k: int, **model) -> dict:
    cfg = job_config(data, out, model={"select_by": "fixed", "k": k, "restarts": 3, **model})
    cfg["output"]["pca_sample_size"] = 0
    return cfg
