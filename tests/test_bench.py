"""Tests of the benchmark tooling (scripts/bench.py and its two reference scripts).

No timing is asserted: the machine's load decides the numbers. The end-to-end test runs
the real script on a tiny table and checks the shape of its JSON; the others check the
pieces that the numbers depend on (run order, process-tree memory, summaries).
"""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "bench.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    """scripts/bench.py imported as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("bench", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench"] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_bench_runs_all_variants_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--customers", "3000", "--repeats", "1",
         "--k-min", "2", "--k-max", "3", "--data-dir", str(tmp_path / "data"),
         "--out", str(out)],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "data" / "customers-3000").is_dir()
    assert "| wall-time ratio" in done.stdout and "pyspark:" in done.stdout
    report = json.loads(out.read_text())
    assert set(report["variants"]) == {"a", "b", "c"}
    for variant in report["variants"].values():
        (run,) = variant["runs"]
        assert run["wall_seconds"] > 0 and run["peak_rss_bytes"] > 0
        assert run["chosen_k"] in (2, 3)
        assert set(run["wcss"]) == {"2", "3"}
        assert run["rows"] == 3000
    for name in ("a/b", "c/a"):
        ratio = report["ratios"][name]
        assert ratio["min"] <= ratio["median"] <= ratio["max"] and len(ratio["values"]) == 1
    quality = report["quality"]
    assert set(quality["chosen_k"]) == {"a", "b", "c"}
    assert math.isfinite(quality["wcss_rel_diff_a_vs_b"])
    assert report["machine"]["cores"] >= 1 and report["machine"]["pyspark"]


def test_run_order_rotates(bench: ModuleType) -> None:
    variants = ["a", "b", "c"]
    orders = [bench.run_order(variants, repeat) for repeat in range(4)]
    assert orders == [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"], ["a", "b", "c"]]
    assert bench.run_order(["a"], 3) == ["a"]


def test_tree_rss_counts_descendants(bench: ModuleType) -> None:
    """A child holding 100 MB shows up in its parent's tree total, not in another tree."""
    child = subprocess.Popen(
        [sys.executable, "-c",
         "import sys; x = b'1' * (100 << 20); print('ready', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        alone = bench.tree_rss_bytes(child.pid)
        assert alone >= 100 << 20
        assert bench.tree_rss_bytes(bench.os.getpid()) >= alone
        assert bench.tree_rss_bytes(2**22 + 12345) == 0  # no such process
    finally:
        child.communicate("")


def _variants(bench: ModuleType, keys: str = "abcd") -> list:
    """The variants named by ``keys`` on a made-up path, without a baseline; no server is
    started."""
    every = bench.build_variants(Path("x"), 2, 10, bench.ConnectServer(Path("x"), None), None)
    return [v for v in every if v.key in keys]


def test_summary_of_a_subset_has_no_ratios(bench: ModuleType) -> None:
    runs = {"a": [{"wall_seconds": s, "peak_rss_bytes": 1, "chosen_k": 6,
                   "wcss": {"6": 10.0}} for s in (3.0, 1.0, 2.0)]}
    (variant_a,) = _variants(bench, "a")
    report = bench.summarize(runs, [variant_a])
    assert report["ratios"] == {}
    assert report["variants"]["a"]["wall_seconds"] == {"min": 1.0, "median": 2.0, "max": 3.0}
    assert report["quality"] == {"chosen_k": {"a": 6}, "k": 6, "wcss_at_k": {"a": 10.0}}


def test_ratios_pair_repeats(bench: ModuleType) -> None:
    def runs(walls: list[float], wcss: float) -> list[dict]:
        return [{"wall_seconds": w, "peak_rss_bytes": 1, "chosen_k": 6, "wcss": {"6": wcss}}
                for w in walls]

    report = bench.summarize({"a": runs([10.0, 30.0], 101.0), "b": runs([20.0, 10.0], 100.0),
                              "c": runs([40.0, 60.0], 110.0)},
                             _variants(bench, "abc"))
    assert report["ratios"]["a/b"]["values"] == [0.5, 3.0]
    assert report["ratios"]["c/a"]["values"] == [4.0, 2.0]
    assert report["quality"]["wcss_rel_diff_a_vs_b"] == pytest.approx(0.01)
    assert report["quality"]["wcss_rel_diff_c_vs_b"] == pytest.approx(0.10)


def test_only_rejects_unknown_variants(bench: ModuleType) -> None:
    assert bench.parse_args(["--customers", "10", "--only", "a,c"]).only == ["a", "c"]
    with pytest.raises(SystemExit):
        bench.parse_args(["--customers", "10", "--only", "a,e"])
    assert bench.parse_args(["--customers", "10", "--only", "d"]).only == ["d"]
