"""Bootstrap stability (issue 16): the measures against independent oracles, the rules that
turn them into sentences, and whole runs on data without structure and at the range edge."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score
from support.report_runs import write_run_dir
from support.runs import job_config, write_parquet

from segmentation.core.errors import ConfigError
from segmentation.model.selection import choose_k, selection_rule
from segmentation.model.stability import (
    StabilityAtK,
    adjusted_rand_index,
    best_jaccard,
    segment_jaccard,
    stability_at_k,
)
from segmentation.model.verdicts import (
    no_structure_warning,
    range_edge_warning,
    segment_rating,
)
from segmentation.report import build_report
from segmentation.run.config import config_from_dict
from segmentation.run.job import run_segmentation


@pytest.mark.parametrize("seed", range(6))
def test_ari_matches_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 400))
    a = rng.integers(0, int(rng.integers(1, 8)), n)
    b = np.where(rng.random(n) < 0.7, a * 3 + 1, rng.integers(0, 5, n))  # related, renamed
    assert adjusted_rand_index(a, b) == pytest.approx(adjusted_rand_score(a, b), abs=1e-12)
    assert adjusted_rand_index(a, a[::-1]) == pytest.approx(
        adjusted_rand_score(a, a[::-1]), abs=1e-12)


@pytest.mark.parametrize(("a", "b"), [([0, 0, 0], [1, 1, 1]), ([0, 1, 2], [2, 0, 1]),
                                      ([0, 0, 1, 1], [0, 1, 0, 1])])
def test_ari_edge_cases_match_sklearn(a: list[int], b: list[int]) -> None:
    assert adjusted_rand_index(np.array(a), np.array(b)) == pytest.approx(
        adjusted_rand_score(a, b), abs=1e-12)


def test_jaccard_by_hand() -> None:
    # reference cluster 0 = rows {0,1,2,3}, cluster 1 = {4,5}, cluster 2 absent;
    # other: A = {0,1,2}, B = {3,4}, C = {5}
    reference = np.array([0, 0, 0, 0, 1, 1])
    other = np.array([7, 7, 7, 4, 4, 9])
    # cluster 0: with A 3/4, with B 1/5; cluster 1: with B 1/3, with C 1/2
    got = best_jaccard(reference, other, 3)
    np.testing.assert_allclose(got[:2], [3 / 4, 1 / 2])
    assert np.isnan(got[2])


def test_segment_jaccard_uses_only_the_rows_of_each_resample() -> None:
    x = np.array([[0.0], [0.1], [5.0], [5.1], [10.0]])
    centers = np.array([[0.05], [5.05], [10.0]])
    rows = np.array([0, 1, 2, 3, 3])  # row 4 not drawn; row 3 twice
    fake = StabilityAtK(k=2, ari=np.array([1.0]), resamples=[rows, rows],
                        centers=[np.array([[0.05], [5.05]])] * 2)
    # on rows {0,1,2,3}: clusters {0,1} and {2,3} match exactly; cluster 2 has no row
    got = segment_jaccard(x, centers, fake)
    np.testing.assert_allclose(got[:2], [1.0, 1.0])
    assert np.isnan(got[2])


def test_stability_is_seeded_and_high_on_separated_groups() -> None:
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(c, 0.1, size=(200, 2)) for c in ((0, 0), (5, 0), (0, 5))])
    one = stability_at_k(x, 3, resamples=5, sample_size=300, restarts=2, seed=7, max_iter=30,
                         tol=1e-4)
    two = stability_at_k(x, 3, resamples=5, sample_size=300, restarts=2, seed=7, max_iter=30,
                         tol=1e-4)
    np.testing.assert_array_equal(one.ari, two.ari)
    assert one.summary()["stability"] == pytest.approx(1.0)


def metrics(ks: list[int], silhouette: list[float], stability: list[float] | None = None
            ) -> pd.DataFrame:
    frame = pd.DataFrame({"k": ks, "silhouette": silhouette})
    frame["stability"] = stability if stability is not None else np.nan
    return frame


def test_stability_rule_skips_k_with_a_poor_silhouette() -> None:
    frame = metrics([2, 3, 4, 5], [0.60, 0.80, 0.75, 0.70], [0.99, 0.85, 0.95, 0.97])
    assert choose_k(frame, "stability", silhouette_share=0.9) == 4  # 0.70 < 0.72, 0.60 too
    assert choose_k(frame, "stability", silhouette_share=0.5) == 2
    assert "at least 90% of the best" in selection_rule("stability", 4, [2, 3, 4, 5],
                                                        silhouette_share=0.9)


def test_range_edge_warnings() -> None:
    rising = metrics([2, 3, 4], [0.3, 0.4, 0.5])
    assert "raise model.k_max" in range_edge_warning(rising, 4, "silhouette")
    flat_top = metrics([2, 3, 4], [0.3, 0.5, 0.5])
    assert range_edge_warning(flat_top, 4, "silhouette") is None  # not better than k - 1
    assert "two segments, or none" in range_edge_warning(metrics([2, 3], [0.5, 0.4]), 2,
                                                         "silhouette")
    assert "lower model.k_min" in range_edge_warning(metrics([4, 5], [0.5, 0.4]), 4,
                                                     "silhouette")
    assert range_edge_warning(metrics([3, 4, 5], [0.3, 0.5, 0.4]), 4, "silhouette") is None
    assert range_edge_warning(metrics([6], [0.5]), 6, "fixed") is None


def test_no_structure_needs_both_low_stability_and_low_silhouette() -> None:
    assert no_structure_warning(metrics([2, 3], [0.3, 0.2], [0.3, 0.5])) is not None
    assert no_structure_warning(metrics([2, 3], [0.3, 0.2], [0.3, 0.9])) is None
    assert no_structure_warning(metrics([2, 3], [0.6, 0.2], [0.3, 0.5])) is None
    assert no_structure_warning(metrics([2, 3], [0.3, 0.2])) is None  # stability off


def test_segment_ratings_follow_hennig() -> None:
    assert [segment_rating(v) for v in (0.75, 0.7499, 0.6, 0.5999)] == [
        "stable", "doubtful", "doubtful", "unstable"]


def test_config_checks() -> None:
    base = {"input": {"path": "in"}, "features": {"numeric": ["a"]}, "output": {"path": "out"}}
    with pytest.raises(ConfigError, match="stability_resamples is 0"):
        config_from_dict({**base, "model": {"select_by": "stability"},
                          "evaluation": {"stability_resamples": 0}})
    with pytest.raises(ConfigError, match="stability_silhouette_share=1.5"):
        config_from_dict({**base, "model": {"stability_silhouette_share": 1.5}})
    cfg = config_from_dict(base)
    assert (cfg.evaluation.stability_resamples, cfg.model.select_by) == (20, "silhouette")


def test_one_gaussian_blob_has_no_stable_structure(spark, tmp_path: Path, caplog) -> None:
    rng = np.random.default_rng(5)
    blob = pd.DataFrame(rng.standard_normal((20_000, 4)), columns=["a", "b", "c", "d"])
    blob.insert(0, "customer_id", [f"c{i:05d}" for i in range(len(blob))])
    data = write_parquet(blob, tmp_path / "blob", files=2)
    cfg = job_config(data, tmp_path / "run", model={"select_by": "stability", "k_max": 6,
                                                    "restarts": 3})
    cfg["features"] = {"numeric": ["a", "b", "c", "d"]}
    with caplog.at_level(logging.WARNING, logger="segmentation.run.job"):
        manifest = run_segmentation(spark, config_from_dict(cfg))
    assert any("no stable segment structure" in w for w in manifest["warnings"])
    assert "no stable segment structure" in caplog.text
    written = pd.read_csv(tmp_path / "run" / "metrics.csv")
    assert written["stability"].max() < 0.6
    assert (tmp_path / "run" / "_SUCCESS").exists() and manifest["chosen_k"] in range(2, 7)
    page = Path(build_report(tmp_path / "run")).read_text(encoding="utf-8")
    assert "no stable segment structure" in page


def test_chosen_k_at_k_max_is_flagged(spark, make_customers, tmp_path: Path, caplog) -> None:
    data = make_customers(2000, seed=3)  # six true segments; the range stops at 4
    cfg = job_config(data, tmp_path / "run", model={"k_max": 4, "restarts": 3})
    with caplog.at_level(logging.WARNING, logger="segmentation.run.job"):
        manifest = run_segmentation(spark, config_from_dict(cfg))
    assert manifest["chosen_k"] == 4
    expected = "the best k may lie above 4; raise model.k_max"
    assert any(expected in w for w in manifest["warnings"])
    assert expected in caplog.text
    on_disk = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert on_disk["warnings"] == manifest["warnings"]
    page = Path(build_report(tmp_path / "run")).read_text(encoding="utf-8")
    assert expected in page and 'class="warning"' in page


def test_report_shows_stability_boxes_ratings_and_warnings(tmp_path: Path) -> None:
    run = write_run_dir(tmp_path / "run", n_segments=3, ks=range(2, 6), suppressed=(2,))
    metrics = pd.read_csv(run / "metrics.csv")
    metrics["stability"] = [0.9, 0.95, 0.7, 0.6]
    metrics["stability_q25"] = metrics["stability"] - 0.1
    metrics["stability_q75"] = metrics["stability"] + 0.03
    metrics.to_csv(run / "metrics.csv", index=False)
    segments = pd.read_csv(run / "segments.csv")
    segments.insert(3, "stability", [0.7491, 0.5, np.nan])  # the third is withheld
    segments.to_csv(run / "segments.csv", index=False)
    manifest = json.loads((run / "manifest.json").read_text())
    manifest.update(format_version=4, warnings=["k = 3 is <odd> & flagged"])
    (run / "manifest.json").write_text(json.dumps(manifest))
    page = Path(build_report(run)).read_text(encoding="utf-8")
    assert "0.74 doubtful" in page and "0.50 unstable" in page  # rounded down, never up
    assert page.count("k = 3 is &lt;odd&gt; &amp; flagged") == 2  # top of page and of k
    assert "<th>stability ↑</th>" in page and "box from the first to the third" in page
