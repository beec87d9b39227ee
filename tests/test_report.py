"""The local report: hand-made run directories in, PNGs and one HTML page out (no Spark)."""

from __future__ import annotations

import doctest
import html
import json
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pytest

import segmentation.report.colors
import segmentation.report.fmt
import segmentation.report.selection
from segmentation.errors import InputDataError
from segmentation.report import build_report
from segmentation.report.boxes import box_stats, plot_distributions
from segmentation.report.colors import segment_colors
from segmentation.report.load import load_run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
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
) -> Path:
    """Write a plausible finished run directory (what the Spark job writes) into ``path``.

    Segment ids are ``0, 10, 20, ...`` (not contiguous, as after relabelling); the chosen k
    is ``n_segments``; segments in ``suppressed`` are tiny and have no quartiles/min/max.
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
    pd.DataFrame({
        "segment": ids,
        "size": sizes.astype(int),
        "share": sizes / total,
        "description": [f"test description <{s}> & more" for s in ids],
    }).to_csv(path / "segments.csv", index=False)

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
    pd.DataFrame(rows).to_csv(path / "profiles.csv", index=False)

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
        pd.DataFrame({"segment": ids, "pc1": centres[:, 0], "pc2": centres[:, 1]}).to_csv(
            path / "centroids_2d.csv", index=False
        )

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


def assert_png(path: Path) -> np.ndarray:
    """``path`` is a PNG with visible content; returns its pixels."""
    assert path.read_bytes()[:8] == PNG_MAGIC, f"{path.name} is not a PNG"
    pixels = matplotlib.image.imread(path)
    assert pixels.ndim == 3 and min(pixels.shape[:2]) > 100, f"{path.name}: {pixels.shape}"
    assert pixels[..., :3].std() > 0.02, f"{path.name} is blank"
    return pixels


def referenced_images(page: str) -> set[str]:
    return set(re.findall(r'<img src="([^"]+)"', page))


def check_report(run: Path, expected: set[str]) -> str:
    """Render the report of ``run``; every expected image is written, valid and referenced."""
    index = Path(build_report(str(run)))
    assert index == run / "report" / "index.html"
    page = index.read_text(encoding="utf-8")
    pngs = {p.name for p in index.parent.glob("*.png")}
    assert pngs == expected
    for name in expected:
        assert_png(index.parent / name)
    assert referenced_images(page) == expected
    metrics = pd.read_csv(run / "metrics.csv")
    table = page[page.index('<section id="k">'):page.index('<section id="segments">')]
    for k in metrics["k"]:
        assert f'<td class="num">{k}</td>' in table
    for description in pd.read_csv(run / "segments.csv")["description"]:
        assert html.escape(description) in page
    return page


@pytest.fixture(scope="module")
def default_page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    run = write_run_dir(tmp_path_factory.mktemp("default") / "run")
    expected = {"k_selection.png", "sizes.png", "profile_heatmap.png", "distributions.png",
                "scatter.png"}
    return run, check_report(run, expected)


def test_default_run_renders_every_plot_and_table(default_page: tuple[Path, str]) -> None:
    run, page = default_page
    assert 'class="chosen"><td class="num">4</td>' in page
    assert "k = 4 chosen by the highest Silhouette (squared Euclidean) over k = 2..6" in page
    for fact in ("customer_id", "missing_values: 200", "duplicate_ids: 50", "3 min 07 s",
                 "pyspark 4.3.0"):
        assert fact in page


def test_page_escapes_run_text(default_page: tuple[Path, str]) -> None:
    _, page = default_page
    assert "/data/customers &lt;2024&gt;.parquet" in page
    assert "<2024>" not in page
    assert "&lt;10&gt; &amp; more" in page


def test_each_segment_keeps_its_colour_in_every_plot(default_page: tuple[Path, str]) -> None:
    run, page = default_page
    colors = segment_colors([0, 10, 20, 30])
    for name in ("sizes.png", "scatter.png", "profile_heatmap.png", "distributions.png"):
        pixels = (matplotlib.image.imread(run / "report" / name)[..., :3] * 255).round()
        codes = np.unique(pixels.reshape(-1, 3).astype(int) @ np.array([65536, 256, 1]))
        present = np.stack([codes // 65536, codes // 256 % 256, codes % 256], axis=1)
        for segment, colour in colors.items():
            rgb = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
            if name == "distributions.png":  # boxes are drawn at alpha 0.85 on white
                rgb = np.round(0.85 * rgb + 0.15 * 255)
            nearest = np.abs(present - rgb).max(axis=1).min()
            assert nearest <= 2, f"segment {segment}'s colour {colour} missing from {name}"
    for colour in colors.values():
        assert f"background:{colour}" in page


@pytest.mark.slow
def test_twenty_segments_and_forty_features(tmp_path: Path) -> None:
    run = write_run_dir(tmp_path / "run", n_segments=20, n_numeric=37, ks=range(2, 21))
    expected = {"k_selection.png", "sizes.png", "profile_heatmap.png", "scatter.png",
                "distributions_1.png", "distributions_2.png", "distributions_3.png",
                "distributions_4.png"}
    check_report(run, expected)
    assert len(set(segment_colors(range(20)).values())) == 20
    heatmap = matplotlib.image.imread(run / "report" / "profile_heatmap.png")
    assert heatmap.shape[1] <= 30 * 110 and heatmap.shape[0] <= 30 * 110


def test_fixed_single_k(tmp_path: Path) -> None:
    # the job records the configured select_by even when model.k fixes k
    run = write_run_dir(tmp_path / "run", n_segments=3, ks=[3], select_by="silhouette")
    page = check_report(run, {"k_selection.png", "sizes.png", "profile_heatmap.png",
                              "distributions.png", "scatter.png"})
    assert "k = 3 fixed by the configuration (no sweep)" in page


def test_suppressed_quartiles_and_no_scatter(tmp_path: Path) -> None:
    run = write_run_dir(tmp_path / "run", suppressed=[1, 3], scatter=False)
    page = check_report(run, {"k_selection.png", "sizes.png", "profile_heatmap.png",
                              "distributions.png"})
    assert "No scatter sample in this run" in page


def test_migration_heatmap_and_rerender(tmp_path: Path) -> None:
    run = write_run_dir(tmp_path / "run", migration=True, n_segments=3, ks=[2, 3, 4])
    page = check_report(run, {"k_selection.png", "sizes.png", "profile_heatmap.png",
                              "distributions.png", "scatter.png", "migration.png"})
    assert "83.0%" in page
    (run / "migration.csv").unlink()
    build_report(run)  # the report directory is replaced whole: no stale migration plot
    assert not (run / "report" / "migration.png").exists()
    assert [p.name for p in run.iterdir() if p.name.startswith(".report")] == []


def test_missing_descriptions_are_written_from_the_profiles(tmp_path: Path) -> None:
    run = write_run_dir(tmp_path / "run", n_segments=2, ks=[2, 3], scatter=False)
    segments = pd.read_csv(run / "segments.csv")
    segments["description"] = [np.nan, "  "]
    segments.to_csv(run / "segments.csv", index=False)
    descriptions = load_run(run).segments["description"]
    assert descriptions.str.match(r"(high|low|older|younger|mostly|few|close to average)").all()


def test_box_stats_fall_back_to_mean_and_std() -> None:
    row = pd.Series({"mean": 10.0, "std": 2.0, "min": np.nan, "q25": np.nan,
                     "median": np.nan, "q75": np.nan, "max": np.nan})
    stats, fallback = box_stats(row)
    assert fallback
    assert (stats["q1"], stats["med"], stats["q3"]) == (8.0, 10.0, 12.0)
    row.update(pd.Series({"q25": 9.0, "median": 10.5, "q75": 11.0}))
    stats, fallback = box_stats(row)
    assert not fallback
    assert (stats["whislo"], stats["whishi"]) == (9.0, 11.0)  # min/max suppressed
    assert box_stats(pd.Series({k: np.nan for k in row.index})) is None


def test_no_numeric_features_means_no_distribution_plots(tmp_path: Path) -> None:
    run = load_run(write_run_dir(tmp_path / "run", n_segments=2, ks=[2], scatter=False))
    categories = run.profiles[run.profiles["kind"] == "category"]
    assert plot_distributions(categories, [0, 10], colors={}, log_features=[],
                              out_dir=tmp_path) == []


def test_report_imports_neither_spark_nor_pyplot() -> None:
    code = ("import sys, segmentation.report; print(sorted(m for m in sys.modules "
            "if m.startswith(('pyspark', 'matplotlib.pyplot'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.strip() == "[]"


def test_missing_run_dir(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(InputDataError, match=re.escape(str(missing))):
        build_report(str(missing))


@pytest.mark.parametrize("name", ["metrics.csv", "_SUCCESS", "manifest.json"])
def test_missing_required_file(tmp_path: Path, name: str) -> None:
    run = write_run_dir(tmp_path / "run", n_segments=2, ks=[2])
    (run / name).unlink()
    with pytest.raises(InputDataError, match=rf"{re.escape(str(run))}.*missing {name}"):
        build_report(run)
    assert not (run / "report").exists()


def test_malformed_files_name_the_path(tmp_path: Path) -> None:
    run = write_run_dir(tmp_path / "run", n_segments=2, ks=[2])
    pd.read_csv(run / "segments.csv").drop(columns="size").to_csv(run / "segments.csv")
    with pytest.raises(InputDataError, match=r"segments\.csv lacks column\(s\) size \(present"):
        build_report(run)
    (run / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(InputDataError, match=r"cannot read .*manifest\.json"):
        build_report(run)


def test_remote_paths_are_refused_and_file_uris_accepted(tmp_path: Path) -> None:
    with pytest.raises(InputDataError, match="local directories only"):
        build_report("s3a://bucket/run")
    run = write_run_dir(tmp_path / "run", n_segments=2, ks=[2], scatter=False)
    assert load_run(run.as_uri()).path == run


@pytest.mark.parametrize("module", [segmentation.report.fmt, segmentation.report.colors,
                                    segmentation.report.selection])
def test_docstring_examples(module: object) -> None:
    result = doctest.testmod(module)  # type: ignore[arg-type]
    assert result.attempted > 0 and result.failed == 0
