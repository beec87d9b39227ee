"""The local report: hand-made run directories in, PNGs and one HTML page out (no Spark)."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
from support.report_runs import write_run_dir

from segmentation.core.errors import InputDataError
from segmentation.outputs.layout import PROFILE_STATISTICS
from segmentation.report import build_report
from segmentation.report.boxes import box_stats, plot_distributions
from segmentation.report.colors import segment_colors
from segmentation.report.load import load_run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
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
    segments = pd.read_csv(run / "segments.csv")
    withheld = segments["size"] < 50
    for description in segments.loc[~withheld, "description"]:
        assert html.escape(description) in page
    for description in segments.loc[withheld, "description"]:  # not even from old runs
        assert not isinstance(description, str) or html.escape(description) not in page
    assert page.count("fewer than 50 customers: statistics withheld") == withheld.sum()
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


@pytest.mark.parametrize("before_privacy", [False, True])
def test_withheld_segments_and_no_scatter(tmp_path: Path, before_privacy: bool) -> None:
    run = write_run_dir(tmp_path / "run", suppressed=[1, 3], scatter=False,
                        before_privacy=before_privacy)
    page = check_report(run, {"k_selection.png", "sizes.png", "profile_heatmap.png",
                              "distributions.png"})
    assert "No scatter sample in this run" in page
    assert "Segments 10, 30: fewer than 50 customers" in page
    loaded = load_run(run)
    assert loaded.withheld == [10, 30]
    statistics = [c for c in PROFILE_STATISTICS if not c.startswith("overall_")]
    assert loaded.profiles.loc[loaded.profiles["segment"].isin([10, 30]),
                               statistics].isna().all().all()


def test_withheld_centroids_and_migration_cells_are_not_drawn(tmp_path: Path) -> None:
    run = write_run_dir(tmp_path / "run", suppressed=[2], migration=True, n_segments=3,
                        ks=[3], before_privacy=True)
    loaded = load_run(run)
    assert 20 not in set(loaded.centroids["segment"]) | set(loaded.scatter["segment"])
    cells = loaded.migration.set_index(["previous_segment", "segment"])
    assert cells["suppressed"].any()
    assert cells.loc[cells["suppressed"], "count"].isna().all()
    assert (cells.loc[~cells["suppressed"], "count"] >= 50).all()
    check_report(run, {"k_selection.png", "sizes.png", "profile_heatmap.png",
                       "distributions.png", "scatter.png", "migration.png"})


def test_migration_heatmap_and_rerender(tmp_path: Path) -> None:
    run = write_run_dir(tmp_path / "run", migration=True, n_segments=3, ks=[2, 3, 4])
    page = check_report(run, {"k_selection.png", "sizes.png", "profile_heatmap.png",
                              "distributions.png", "scatter.png", "migration.png"})
    assert "83.0%" in page
    (run / "migration.csv").unlink()
    build_report(run)  # the report directory is replaced whole: no stale migration plot
    assert not (run / "report" / "migration.png").exists()
    # nothing left by the swap but the one complete report the link points to
    live = (run / "report").resolve().name
    assert [p.name for p in run.iterdir() if p.name.startswith(".report")] == [live]


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
    with pytest.raises(InputDataError, match=r"manifest\.json is not valid JSON"):
        build_report(run)


def test_load_run_refuses_remote_paths_and_accepts_file_uris(tmp_path: Path) -> None:
    # build_report reads a remote run through a local copy (tests/test_s3.py)
    with pytest.raises(InputDataError, match="local directories only"):
        load_run("s3a://bucket/run")
    run = write_run_dir(tmp_path / "run", n_segments=2, ks=[2], scatter=False)
    assert load_run(run.as_uri()).path == run
