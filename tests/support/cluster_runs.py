"""Runs of the segmentation job on a cluster compared with a local-mode run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

RUN_TIMEOUT = 900  # seconds for one job run; the machine is shared, runs are slow under load
#: A small, fast sweep; identical for the cluster runs and the local reference runs.
SWEEP = [
    "--set", "model.k_min=2", "--set", "model.k_max=6", "--set", "model.restarts=2",
    "--set", "input.partitions=4", "--set", "evaluation.sample_size=500",
    "--set", "output.pca_sample_size=300", "--set", "spark.spark.sql.shuffle.partitions=4",
    "--set", "spark.spark.ui.enabled=false",
]


def segment_args(customers: Path, out: Path) -> list[str]:
    """Overrides of conf/default.yaml (the caller passes --config)."""
    return ["--set", f"input.path={customers}", "--set", f"output.path={out}", *SWEEP]


def finish(proc: subprocess.Popen[bytes], log: Path, timeout: float = RUN_TIMEOUT) -> str:
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        pytest.fail(f"job did not finish in {timeout}s:\n{log.read_text()[-4000:]}")
    text = log.read_text()
    assert rc == 0, f"job failed (exit {rc}):\n{text[-6000:]}"
    return text


def labels(run: Path) -> pd.DataFrame:
    frame = pd.read_parquet(run / "labels")
    return frame.sort_values("customer_id").reset_index(drop=True)


def centers(run: Path) -> np.ndarray:
    """The saved KMeans centres, in cluster index order (read straight from the model files)."""
    stage = next(p for p in (run / "model" / "stages").iterdir() if "KMeans" in p.name)
    data = pd.read_parquet(stage / "data").sort_values("clusterIdx")
    return np.array([np.asarray(v["values"], dtype=float) for v in data["clusterCenter"]])


def assert_same_labels(run: Path, reference: Path) -> None:
    got, want = labels(run), labels(reference)
    assert got["customer_id"].tolist() == want["customer_id"].tolist()
    differ = (got["segment"] != want["segment"]).sum()
    assert differ == 0, f"{differ} of {len(got)} customers got another segment"
    manifest = json.loads((run / "manifest.json").read_text())
    expected = json.loads((reference / "manifest.json").read_text())
    assert manifest["chosen_k"] == expected["chosen_k"]
    assert manifest["segments"] == expected["segments"]
    # Compared as a set: which restart wins a tie (equal cost up to rounding) and so the
    # order of MLlib's cluster indices may differ between masters (see docs/cluster.md).
    got_c, want_c = sorted_rows(centers(run)), sorted_rows(centers(reference))
    print(f"max |centre difference| {run.name} vs {reference.name}: "
          f"{float(np.max(np.abs(got_c - want_c))):.3g}; final seed "
          f"{manifest['final_seed']} vs {expected['final_seed']}")
    np.testing.assert_allclose(got_c, want_c, rtol=0, atol=1e-9)
    np.testing.assert_allclose(got["distance"], want["distance"], rtol=0, atol=1e-9)


def sorted_rows(x: np.ndarray) -> np.ndarray:
    return x[np.lexsort(np.round(x, 6).T[::-1])]
