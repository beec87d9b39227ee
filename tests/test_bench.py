"""Tests of the benchmark tooling (scripts/bench.py and its two reference scripts).

No timing is asserted: the machine's load decides the numbers. The end-to-end tests run
the real script on tiny tables (two sizes in one invocation; a time-capped and a
memory-capped variant) and check the shape of its JSON; the others check the pieces that
the numbers depend on (run order, process-tree memory, summaries, arguments, targets).
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from benchmark.cli import parse_args
from benchmark.measure import Cap, tree_rss_bytes
from benchmark.runs import run_order
from benchmark.summary import outcome_cell, summarize, wall_cell
from benchmark.targets import evaluate_targets
from benchmark.variants import build_variants

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "bench.py"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache of generated tables for the end-to-end tests of this module."""
    return tmp_path_factory.mktemp("bench-data")


def run_bench(data_dir: Path, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """scripts/bench.py with k = 2..3 on the shared data dir, its JSON written to ``out``."""
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args, "--k-min", "2", "--k-max", "3",
         "--data-dir", str(data_dir), "--out", str(out)],
        capture_output=True, text=True, timeout=600, check=False,
    )


@pytest.mark.slow
def test_bench_runs_all_variants_end_to_end(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    done = run_bench(data_dir, out, "--customers", "3000", "--repeats", "1")
    assert done.returncode == 0, done.stderr[-3000:]
    assert (data_dir / "customers-3000").is_dir()
    assert "| wall-time ratio" in done.stdout and "pyspark:" in done.stdout
    assert "### Targets (issues 6 and 18)" in done.stdout
    result = json.loads(out.read_text())
    assert result["machine"]["cores"] >= 1 and result["machine"]["pyspark"]
    assert [report["customers"] for report in result["sizes"]] == [3000]
    for report in result["sizes"]:
        assert report["repeats"] == 1 and report["logs"].endswith(f"logs-{report['customers']}")
        assert set(report["variants"]) == {"a", "b", "c"}
        for variant in report["variants"].values():
            (run,) = variant["runs"]
            assert run["status"] == "ok"
            assert run["wall_seconds"] > 0 and run["peak_rss_bytes"] > 0
            assert run["chosen_k"] in (2, 3)
            assert set(run["wcss"]) == {"2", "3"}
            assert run["rows"] == report["customers"]
        for name in ("a/b", "c/a"):
            ratio = report["ratios"][name]
            assert ratio["min"] <= ratio["median"] <= ratio["max"]
            assert len(ratio["values"]) == 1
        quality = report["quality"]
        assert set(quality["chosen_k"]) == {"a", "b", "c"}
        assert math.isfinite(quality["wcss_rel_diff_a_vs_b"])
    # Only the every-size targets apply to this size: (a)'s k (2 or 3, not 6) and WCSS.
    targets = result["targets"]
    assert [(t["customers"], t["met"]) for t in targets][::2] == [(3000, False)]
    assert all(t["result"] in ("met", f"not met: {t['measured']}") for t in targets)
    assert len(targets) == 2


def capped_report(data_dir: Path, tmp_path: Path, *args: str) -> tuple[dict, str]:
    """The one size report and the stdout of a 3,000-row, 1-repeat run that exits 0."""
    out = tmp_path / "capped.json"
    done = run_bench(data_dir, out, "--customers", "3000", "--repeats", "1", *args)
    assert done.returncode == 0, done.stderr[-3000:]
    (report,) = json.loads(out.read_text())["sizes"]
    return report, done.stdout


@pytest.mark.slow
def test_time_capped_variant_is_recorded_and_does_not_abort(data_dir: Path, tmp_path: Path
                                                            ) -> None:
    """(a) cannot start Spark in 1 s: it is killed, recorded as capped, and (b) still runs,
    at each of two sizes (their own repeat counts) in one invocation."""
    out = tmp_path / "capped.json"
    done = run_bench(data_dir, out, "--customers", "3000,4000:2", "--repeats", "1",
                     "--only", "a,b", "--time-cap", "a=1")
    assert done.returncode == 0, done.stderr[-3000:]
    reports = json.loads(out.read_text())["sizes"]
    assert [(r["customers"], r["repeats"]) for r in reports] == [(3000, 1), (4000, 2)]
    for report in reports:
        runs_a, runs_b = report["variants"]["a"]["runs"], report["variants"]["b"]["runs"]
        assert len(runs_a) == len(runs_b) == report["repeats"]
        for run_a, run_b in zip(runs_a, runs_b):
            assert run_a["status"] == "time cap 1 s" and run_a["chosen_k"] is None
            assert 1 <= run_a["wall_seconds"] < 30 and "wcss" not in run_a
            assert run_b["status"] == "ok" and run_b["chosen_k"] in (2, 3)
        assert report["ratios"] == {}
        assert report["quality"] == {"chosen_k": {"b": runs_b[0]["chosen_k"]}}
    assert "| time cap 1 s |" in done.stdout and "| >= " in done.stdout


@pytest.mark.slow
def test_memory_capped_variant_that_fails_is_recorded(data_dir: Path, tmp_path: Path) -> None:
    """Under a 200 MB address-space cap (b)'s imports fail: a recorded failure naming an
    error line of its stderr, and the benchmark still exits 0. Which error depends on where
    the cap hits (MemoryError or ImportError mostly; inside CPython's import machinery
    also IndexError or SystemError), so the line is checked against (b)'s kept log."""
    report, _stdout = capped_report(data_dir, tmp_path, "--only", "b", "--memory-cap", "b=200m")
    (run_b,) = report["variants"]["b"]["runs"]
    assert run_b["status"].startswith("failed (exit 1): ")
    reason = run_b["status"].removeprefix("failed (exit 1): ")
    assert re.search(r"\w+Error\b", reason), run_b["status"]
    logged = [line.strip() for line in Path(run_b["log"]).read_text().splitlines()]
    assert any(line.startswith(reason) for line in logged), reason  # cut at 200 characters
    assert run_b["chosen_k"] is None and run_b["peak_rss_bytes"] > 0


def test_run_order_rotates() -> None:
    variants = ["a", "b", "c"]
    orders = [run_order(variants, repeat) for repeat in range(4)]
    assert orders == [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"], ["a", "b", "c"]]
    assert run_order(["a"], 3) == ["a"]


def test_tree_rss_counts_descendants() -> None:
    """A child holding 100 MB shows up in its parent's tree total, not in another tree."""
    child = subprocess.Popen(
        [sys.executable, "-c",
         "import sys; x = b'1' * (100 << 20); print('ready', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        alone = tree_rss_bytes(child.pid)
        assert alone >= 100 << 20
        assert tree_rss_bytes(os.getpid()) >= alone
        assert tree_rss_bytes(2**22 + 12345) == 0  # no such process
    finally:
        child.communicate("")


def _variants(keys: str = "abc") -> list:
    """The variants named by ``keys`` (of a, b, c) on a made-up path, without a Connect
    server or a baseline."""
    every = build_variants(Path("x"), 2, 10, None, None, {})
    return [v for v in every if v.key in keys]


def run(wall: float, wcss: float = 100.0, k: int = 6, status: str = "ok") -> dict:
    """A hand-built run record; one that did not finish has no k and no WCSS."""
    if status != "ok":
        return {"status": status, "wall_seconds": wall, "peak_rss_bytes": 1, "chosen_k": None}
    return {"status": status, "wall_seconds": wall, "peak_rss_bytes": 1, "chosen_k": k,
            "wcss": {str(k): wcss}}


def test_summary_of_a_subset_has_no_ratios() -> None:
    runs = {"a": [run(s, 10.0) for s in (3.0, 1.0, 2.0)]}
    (variant_a,) = _variants("a")
    report = summarize(runs, [variant_a])
    assert report["ratios"] == {}
    assert report["variants"]["a"]["wall_seconds"] == {"min": 1.0, "median": 2.0, "max": 3.0}
    assert report["quality"] == {"chosen_k": {"a": 6}, "k": 6, "wcss_at_k": {"a": 10.0}}


def test_ratios_pair_repeats() -> None:
    def runs(walls: list[float], wcss: float) -> list[dict]:
        return [run(w, wcss) for w in walls]

    report = summarize({"a": runs([10.0, 30.0], 101.0), "b": runs([20.0, 10.0], 100.0),
                        "c": runs([40.0, 60.0], 110.0)},
                       _variants("abc"))
    assert report["ratios"]["a/b"]["values"] == [0.5, 3.0]
    assert report["ratios"]["c/a"]["values"] == [4.0, 2.0]
    assert report["quality"]["wcss_rel_diff_a_vs_b"] == pytest.approx(0.01)
    assert report["quality"]["wcss_rel_diff_c_vs_b"] == pytest.approx(0.10)


def test_only_rejects_unknown_variants() -> None:
    assert parse_args(["--customers", "10", "--only", "a,c"]).only == ["a", "c"]
    with pytest.raises(SystemExit):
        parse_args(["--customers", "10", "--only", "a,z"])
    assert parse_args(["--customers", "10", "--only", "d"]).only == ["d"]


def test_ratios_and_quality_skip_unfinished_runs() -> None:
    report = summarize({"a": [run(10.0), run(20.0)],
                        "b": [run(900.0, status="time cap 900 s"), run(10.0)]},
                       _variants("ab"))
    assert report["ratios"]["a/b"]["values"] == [2.0]
    assert report["quality"]["chosen_k"] == {"a": 6, "b": 6}
    assert wall_cell(report["variants"]["b"]) == ">= 900.0, 10.0"
    assert outcome_cell(6, report["variants"]["b"]["runs"]) == "6; time cap 900 s"


def test_customers_takes_sizes_with_their_own_repeats() -> None:
    args = parse_args(["--customers", "2000000:2,20000000,100000000", "--repeats", "3",
                       "--memory-cap", "b=20g", "--time-cap", "c=900"])
    assert args.sizes == [(2_000_000, 2), (20_000_000, 3), (100_000_000, 3)]
    assert args.out.name == "bench-customers-2000000_20000000_100000000.json"
    assert args.caps == {"b": Cap(memory_bytes=20 << 30), "c": Cap(seconds=900.0)}
    assert parse_args(["--customers", "10"]).sizes == [(10, 3)]


@pytest.mark.parametrize("argv, message", [
    (["--customers", "2000000:x"], "expected SIZE[:REPEATS],... with whole numbers"),
    (["--customers", "2000000,"], "expected SIZE[:REPEATS],... with whole numbers"),
    (["--customers", "10:0"], "sizes and repeats must be >= 1"),
    (["--customers", "10,10:2"], "10 is listed twice"),
    (["--customers", "10", "--memory-cap", "z=2g"], "--memory-cap takes VARIANT=VALUE"),
    (["--customers", "10", "--memory-cap", "b=2q"], "--memory-cap takes VARIANT=VALUE"),
    (["--customers", "10", "--time-cap", "c=-1"], "--time-cap takes VARIANT=VALUE"),
])
def test_bad_arguments_are_one_line_errors(argv: list[str], message: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(argv)
    assert message in capsys.readouterr().err.splitlines()[-1]


def sized(customers: int, runs: dict[str, list[dict]]) -> dict:
    """The summary of hand-built runs at one size, as ``bench_size`` reports it."""
    return {**summarize(runs, _variants("".join(runs))), "customers": customers}


def results(targets: list[dict]) -> dict[tuple[int, str], str]:
    return {(t["customers"], t["target"]): t["result"] for t in targets}


def test_targets_met() -> None:
    reports = [
        sized(2_000_000, {"a": [run(10.0, 100.5), run(12.0, 100.5)],
                          "b": [run(20.0), run(20.0)], "c": [run(50.0), run(60.0)]}),
        sized(20_000_000, {"a": [run(100.0)], "b": [run(200.0)]}),
        sized(100_000_000, {"a": [run(1000.0)],
                            "b": [run(5.0, status="failed (exit 1): MemoryError")]}),
    ]
    targets = evaluate_targets(reports)
    assert {t["result"] for t in targets} == {"met", "not measured"}
    got = results(targets)
    assert got[(100_000_000, "(a)'s WCSS at its k within 1 % of (b)'s")] == "not measured"
    assert [t["measured"] for t in targets if t["customers"] == 100_000_000][0] == (
        "1000.0 s, limit 1500.0 s")
    assert len(targets) == 2 + 1 + 1 + 3 * 2  # per size: its own ones and the every-size two


def test_targets_not_met() -> None:
    reports = [
        sized(2_000_000, {"a": [run(30.0, 102.0, k=5)], "b": [run(20.0, k=5)],
                          "c": [run(60.0, k=5)]}),
        sized(20_000_000, {"a": [run(400.0)]}),
        sized(100_000_000, {"a": [run(2500.0)]}),
    ]
    got = results(evaluate_targets(reports))
    assert got[(2_000_000, "median paired a/b <= 1.0")] == "not met: 1.50"
    assert got[(2_000_000, "median paired c/a >= 4")] == "not met: 2.00"
    assert got[(2_000_000, "(a) chose k = 6 (the generator's segments)")] == "not met: k = 5"
    assert got[(2_000_000, "(a)'s WCSS at its k within 1 % of (b)'s")] == "not met: +2.000 %"
    assert got[(20_000_000, "median paired a/b <= 1.0")] == "not measured"
    scaling = "(a) finished, wall <= max(5.5 x (a)'s median wall at 20M, 1500 s)"
    assert got[(100_000_000, scaling)] == "not met: 2500.0 s, limit 2200.0 s"
