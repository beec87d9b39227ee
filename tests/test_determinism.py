"""The same config and input give the same segment per customer, and the same stability
numbers, on local[1] and local[2].

Each run is a separate `segment run` process (its own JVM, its own master), as a user would
run it; both run at the same time to keep the test short. The cluster counterpart (a
2-worker standalone cluster) is tests/cluster/test_cluster.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segmentation.model.selection import STABILITY_COLUMNS

ROOT = Path(__file__).resolve().parents[1]
SEGMENT = str(Path(sys.executable).parent / "segment")


def _labels(run: Path) -> pd.DataFrame:
    return pd.read_parquet(run / "labels").sort_values("customer_id").reset_index(drop=True)


def _centers(run: Path) -> np.ndarray:
    stage = next(p for p in (run / "model" / "stages").iterdir() if "KMeans" in p.name)
    data = pd.read_parquet(stage / "data").sort_values("clusterIdx")
    return np.array([np.asarray(v["values"], dtype=float) for v in data["clusterCenter"]])


@pytest.mark.slow
def test_local1_and_local2_give_identical_labels(make_customers, tmp_path: Path) -> None:
    customers = make_customers(2000, seed=11)
    runs, procs = {}, {}
    for master in ("local[1]", "local[2]"):
        out = tmp_path / f"run-{master[6]}"
        runs[master] = out
        log = open(tmp_path / f"{master[6]}.log", "wb")  # noqa: SIM115 - closed below
        procs[master] = (subprocess.Popen(
            [SEGMENT, "run", "--master", master, "--config", str(ROOT / "conf/default.yaml"),
             "--set", f"input.path={customers}", "--set", f"output.path={out}",
             "--set", "input.partitions=4", "--set", "model.k_min=2", "--set", "model.k_max=4",
             "--set", "model.restarts=1", "--set", "evaluation.sample_size=300",
             "--set", "output.pca_sample_size=0",
             "--set", "spark.spark.sql.shuffle.partitions=4",
             "--set", "spark.spark.ui.enabled=false"],
            cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT), log)
    for master, (proc, log) in procs.items():
        try:
            rc = proc.wait(timeout=600)
        finally:
            log.close()
        text = (tmp_path / f"{master[6]}.log").read_text()
        assert rc == 0, f"{master} run failed:\n{text[-4000:]}"
        # 2,000 customers in local files: a short job, its driver compiles with C1 alone.
        assert "client compiler only, for small local input" in text

    one, two = runs["local[1]"], runs["local[2]"]
    a, b = _labels(one), _labels(two)
    assert len(a) == 2000
    assert a["customer_id"].tolist() == b["customer_id"].tolist()
    assert (a["segment"] == b["segment"]).all(), "a customer changed segment"
    m1 = json.loads((one / "manifest.json").read_text())
    m2 = json.loads((two / "manifest.json").read_text())
    assert m1["chosen_k"] == m2["chosen_k"]
    assert m1["segments"] == m2["segments"]
    # Centres agree to rounding (not necessarily bit for bit: see docs/cluster.md).
    # As a set of rows: a restart tie may be resolved differently, permuting cluster indices.
    c1, c2 = _centers(one), _centers(two)
    np.testing.assert_allclose(c1[np.lexsort(np.round(c1, 6).T[::-1])],
                               c2[np.lexsort(np.round(c2, 6).T[::-1])], rtol=0, atol=1e-9)
    np.testing.assert_allclose(a["distance"], b["distance"], rtol=0, atol=1e-9)
    # The bootstrap stability: numpy on the same evaluation sample with the same seeds.
    stability = ["k", *STABILITY_COLUMNS]
    pd.testing.assert_frame_equal(pd.read_csv(one / "metrics.csv")[stability],
                                  pd.read_csv(two / "metrics.csv")[stability])
    pd.testing.assert_series_equal(pd.read_csv(one / "segments.csv")["stability"],
                                   pd.read_csv(two / "segments.csv")["stability"])
    assert pd.read_csv(one / "metrics.csv")["stability"].notna().all()
