"""Hand-made run directories (what the Spark job writes) for the report's tests."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

BASE_FEATURES = ["age", "annual_income", "spend_12m", "orders_12m", "days_since_last_order"]
CHANNELS = ["web", "store", "app"]


def write_run_dir(
    path: Path,
    *,
    n_segments: int = 4,
    n_numeric: int = 5,
    ks: Sequence[int] = range(2, 7),
    select_by: str = "silhouette",
    suppressed: Sequence[int] = (),
    scatter: bool = True,
    migration: bool = False,
    seed: int = 0,
    before_privacy: bool = False,
) -> Path:
    """Write a plausible finished run directory (what the Spark job writes) into ``path``.

    Segment ids are ``0, 10, 20, ...`` (not contiguous, as after relabelling); the chosen k
    is ``n_segments``; segments in ``suppressed`` are tiny: with ``before_privacy`` as runs
    wrote them before layout version 3 (no quartiles/min/max, everything else exported, no
    ``suppressed`` column), else with every statistic, description and centroid withheld.
    """
    rng = np.random.default_rng(seed)
    path.mkdir(parents=True, exist_ok=True)
    ids = [10 * i for i in range(n_segments)]
    chosen_k = n_segments
    numeric = (BASE_FEATURES + [f"behaviour_metric_{i:02d}" for i in range(n_numeric)])[
        :n_numeric
    ]

    sizes = rng.integers(2_000, 60_000, size=n_segments).astype(float)
    for index in suppressed:
        sizes[index] = 17
    total = sizes.sum()
    hidden = np.isin(np.arange(n_segments), list(suppressed))
    segments = pd.DataFrame({
        "segment": ids,
        "size": sizes.astype(int),
        "share": sizes / total,
        "description": [f"test description <{s}> & more" for s in ids],
        "suppressed": hidden,
    })
    if before_privacy:
        segments = segments.drop(columns="suppressed")
    else:
        segments.loc[hidden, "description"] = np.nan
    segments.to_csv(path / "segments.csv", index=False)

    rows = []
    for feature in numeric:
        overall_mean = float(rng.choice([0.7, 42.0, 1_500.0, 85_000.0, 2.5e6]))
        overall_std = overall_mean * 0.4
        for index, segment in enumerate(ids):
            z = float(rng.normal(0, 1.3))
            mean = max(0.0, overall_mean + z * overall_std)
            std = overall_std * 0.6
            quiet = index in suppressed
            rows.append({
                "segment": segment, "feature": feature, "kind": "numeric",
                "count": int(sizes[index]), "mean": mean, "std": std,
                "min": np.nan if quiet else max(0.0, mean - 2.5 * std),
                "q25": np.nan if quiet else max(0.0, mean - 0.67 * std),
                "median": np.nan if quiet else max(0.0, mean - 0.1 * std),
                "q75": np.nan if quiet else mean + 0.67 * std,
                "max": np.nan if quiet else mean + 4 * std,
                "overall_mean": overall_mean, "overall_std": overall_std,
                "z": (mean - overall_mean) / overall_std,
            })
    shares = rng.dirichlet(np.ones(len(CHANNELS)) * 2, size=n_segments)
    overall_shares = (shares * sizes[:, None]).sum(axis=0) / total
    for level, (name, overall) in enumerate(zip(CHANNELS, overall_shares, strict=True)):
        overall_std = float(np.sqrt(overall * (1 - overall)))
        for index, segment in enumerate(ids):
            share = float(shares[index, level])
            rows.append({
                "segment": segment, "feature": f"channel={name}", "kind": "category",
                "count": int(sizes[index]), "mean": share, "std": np.nan, "min": np.nan,
                "q25": np.nan, "median": np.nan, "q75": np.nan, "max": np.nan,
                "overall_mean": overall, "overall_std": overall_std,
                "z": (share - overall) / overall_std,
            })
    profiles = pd.DataFrame(rows)
    if not before_privacy:
        profiles["suppressed"] = profiles["segment"].isin([ids[i] for i in suppressed])
        statistics = [c for c in profiles.columns if c not in ("segment", "feature", "kind",
                                                                "suppressed")]
        profiles.loc[profiles["suppressed"], statistics] = np.nan
    profiles.to_csv(path / "profiles.csv", index=False)

    ks = list(ks)
    karr = np.array(ks, dtype=float)
    bump = np.exp(-((karr - chosen_k) ** 2) / 4)
    pd.DataFrame({
        "k": ks,
        "wcss": 1e6 / karr**0.9,
        "silhouette": 0.25 + 0.3 * bump,
        "davies_bouldin": 1.6 - 0.6 * bump,
        "calinski_harabasz": 4_000 + 3_000 * bump,
        "dunn": 0.05 + 0.08 * bump,
        "silhouette_euclidean": 0.2 + 0.25 * bump,
        "iterations": rng.integers(5, 30, size=len(ks)),
        "seconds": rng.uniform(2, 20, size=len(ks)),
    }).to_csv(path / "metrics.csv", index=False)

    if scatter:
        centres = rng.normal(0, 3, size=(n_segments, 2))
        frames = [
            pd.DataFrame({"pc1": centre[0] + rng.normal(0, 0.8, 120),
                          "pc2": centre[1] + rng.normal(0, 0.8, 120), "segment": segment})
            for index, (segment, centre) in enumerate(zip(ids, centres, strict=True))
            if index not in suppressed
        ]
        pd.concat(frames).to_csv(path / "scatter.csv", index=False)
        centroids = pd.DataFrame({"segment": ids, "pc1": centres[:, 0], "pc2": centres[:, 1]})
        if not before_privacy:
            centroids.loc[hidden, ["pc1", "pc2"]] = np.nan
            centroids["suppressed"] = hidden
        centroids.to_csv(path / "centroids_2d.csv", index=False)

    manifest = {
        "chosen_k": chosen_k,
        "select_by": select_by,
        "rows_read": int(total) + 250,
        "rows_used": int(total),
        "rows_dropped": {"missing_values": 200, "duplicate_ids": 50},
        "input": {"path": "/data/customers <2024>.parquet", "id_column": "customer_id"},
        "features": {"numeric": numeric, "categorical": ["channel"],
                     "log1p": [f for f in numeric if f != "age"]},
        "duration_seconds": 187.4,
        "started_at": "2024-05-01T10:00:00+00:00",
        "finished_at": "2024-05-01T10:03:07+00:00",
        "timings": {"read": 3.2, "sweep": 150.0, "final": 20.1},
        "versions": {"python": "3.11.2", "pyspark": "4.3.0"},
        "pca": {"explained_variance": [0.41, 0.22]},
        "config": {"model": {"k_min": min(ks), "k_max": max(ks)}},
    }
    if migration:
        moves = []
        for previous in ids:
            for new in ids:
                count = int(rng.integers(5_000, 9_000)) if previous == new else int(
                    rng.integers(0, 800))
                moves.append({"previous_segment": previous, "segment": new, "count": count})
        pd.DataFrame(moves).to_csv(path / "migration.csv", index=False)
        manifest["migration"] = {"kept_share": 0.83, "previous_run": "/runs/previous"}
    (path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (path / "_SUCCESS").write_text("", encoding="utf-8")
    return path
