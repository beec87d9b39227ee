"""The targets of issues 6 and 18, each checked on the size it applies to."""

from __future__ import annotations

import operator
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from segmentation.synthetic.customers import SEGMENTS

from .summary import finished, outcome_cell

#: The generator's number of ground-truth segments: the k that (a) should choose.
TRUE_K = len(SEGMENTS)
#: What a target's check returns: (met, measured figure), or None when a run it needs is
#: missing or did not finish.
Measure = Callable[[dict[str, Any], dict[int, dict[str, Any]]], tuple[bool, str] | None]


@dataclass(frozen=True)
class Target:
    """One target of issues 6 and 18: the size it applies to (None: every size) and its check of
    that size's report (with every size's report, for a target relative to another)."""

    size: int | None
    text: str
    measure: Measure


def ratio_check(name: str, compare: Callable[[float, float], bool], bound: float) -> Measure:
    """The median paired wall-time ratio ``name`` compared with ``bound``."""
    def measure(report: dict[str, Any], _reports: dict[int, dict[str, Any]]
                ) -> tuple[bool, str] | None:
        ratio = report["ratios"].get(name)
        return None if ratio is None else (compare(ratio["median"], bound),
                                           f"{ratio['median']:.2f}")
    return measure


def chosen_k_check(report: dict[str, Any], _reports: dict[int, dict[str, Any]]
                   ) -> tuple[bool, str] | None:
    """(a) chose the generator's number of segments."""
    k = report["quality"]["chosen_k"].get("a")
    return None if k is None else (k == TRUE_K, f"k = {k}")


def wcss_check(report: dict[str, Any], _reports: dict[int, dict[str, Any]]
               ) -> tuple[bool, str] | None:
    """(a)'s WCSS at its chosen k within 1 % of (b)'s at that k."""
    diff = report["quality"].get("wcss_rel_diff_a_vs_b")
    return None if diff is None else (abs(diff) <= 0.01, f"{100 * diff:+.3f} %")


def scaling_check(report: dict[str, Any], reports: dict[int, dict[str, Any]]
                  ) -> tuple[bool, str] | None:
    """(a) finished at this size within max(5.5 x its median wall at 20M, 1500 s)."""
    runs = variant_runs(report, "a")
    base = finished(variant_runs(reports.get(20_000_000), "a"))
    if not runs or not base:
        return None
    if len(finished(runs)) < len(runs):
        return False, outcome_cell(None, runs)
    wall = statistics.median(run["wall_seconds"] for run in runs)
    limit = max(5.5 * statistics.median(run["wall_seconds"] for run in base), 1500.0)
    return wall <= limit, f"{wall:.1f} s, limit {limit:.1f} s"


def variant_runs(report: dict[str, Any] | None, key: str) -> list[dict[str, Any]]:
    """The runs of variant ``key`` in a size's report; none without the size or variant."""
    variant = (report or {"variants": {}})["variants"].get(key)
    return [] if variant is None else variant["runs"]


TARGETS = (
    Target(2_000_000, "median paired a/b <= 1.0", ratio_check("a/b", operator.le, 1.0)),
    Target(2_000_000, "median paired c/a >= 4", ratio_check("c/a", operator.ge, 4.0)),
    Target(20_000_000, "median paired a/b <= 1.0", ratio_check("a/b", operator.le, 1.0)),
    Target(100_000_000, "(a) finished, wall <= max(5.5 x (a)'s median wall at 20M, 1500 s)",
           scaling_check),
    Target(None, f"(a) chose k = {TRUE_K} (the generator's segments)", chosen_k_check),
    Target(None, "(a)'s WCSS at its k within 1 % of (b)'s", wcss_check),
)


def evaluate_targets(reports: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every target that applies to a size present, size by size: its measured figure,
    whether it is met (None: not measured) and the one-line result."""
    by_size = {report["customers"]: report for report in reports}
    lines = []
    for size, report in by_size.items():
        for target in TARGETS:
            if target.size not in (None, size):
                continue
            lines.append({"customers": size, "target": target.text,
                          **target_outcome(target.measure(report, by_size))})
    return lines


def target_outcome(outcome: tuple[bool, str] | None) -> dict[str, Any]:
    """A check's outcome as the JSON fields measured, met and result of its line."""
    if outcome is None:
        return {"measured": None, "met": None, "result": "not measured"}
    met, figure = outcome
    return {"measured": figure, "met": met, "result": "met" if met else f"not met: {figure}"}


def targets_markdown(targets: Sequence[dict[str, Any]]) -> str:
    """The targets table, after the per-size sections."""
    lines = ["\n### Targets (issues 6 and 18)", "", "| customers | target | measured | result |",
             "|---|---|---|---|"]
    lines += [f"| {t['customers']:,} | {t['target']} | {t['measured'] or '-'} | {t['result']} |"
              for t in targets]
    return "\n".join(lines)

