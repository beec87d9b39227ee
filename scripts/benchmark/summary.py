"""Per-variant spreads, paired wall-time ratios and quality, and their markdown tables."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from . import GB, OK
from .variants import Variant

#: Paired wall-time ratios (numerator, denominator) and the issue-6 target of each.
RATIOS = {"a/b": ("a", "b", "<= 1.0 at 2M"), "c/a": ("c", "a", ">= 4 at 2M"),
          "d/a": ("d", "a", "Connect against classic"),
          "e/a": ("e", "a", "<= 1.10 at 2M: Delta table against Parquet"),
          "f/a": ("f", "a", "<= 1.10 at 2M: Iceberg table against Parquet"),
          "a/a0": ("a", "a0", "this checkout against --baseline")}


def spread(values: Sequence[float]) -> dict[str, float]:
    """min, median and max of a non-empty sequence."""
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def finished(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The runs that ran to completion (not failed under a cap or killed at a time cap)."""
    return [run for run in runs if run["status"] == OK]


def summarize(runs: dict[str, list[dict[str, Any]]], variants: Sequence[Variant]
              ) -> dict[str, Any]:
    """Per-variant spreads (of every run, an unfinished one up to where it stopped), paired
    wall-time ratios of the repeats where both variants finished, and the quality
    comparison of finished runs."""
    per_variant = {
        v.key: {"title": v.title, "runs": runs[v.key],
                "wall_seconds": spread([r["wall_seconds"] for r in runs[v.key]]),
                "peak_rss_bytes": spread([r["peak_rss_bytes"] for r in runs[v.key]])}
        for v in variants
    }
    ratios = {}
    for name, (num, den, target) in RATIOS.items():
        values = [n["wall_seconds"] / d["wall_seconds"]
                  for n, d in zip(runs.get(num, []), runs.get(den, []))
                  if n["status"] == d["status"] == OK]
        if values:
            ratios[name] = {"target": target, "values": values, **spread(values)}
    return {"variants": per_variant, "ratios": ratios, "quality": quality(runs)}


def quality(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Chosen k of each variant and the WCSS of each at (a)'s chosen k (first finished
    repeat; a variant without one is left out).

    Every variant is seeded, so repeats give the same clustering; the JSON keeps each
    run's per-k WCSS to check that.
    """
    first = {key: done[0] for key, variant_runs in runs.items()
             if (done := finished(variant_runs))}
    result: dict[str, Any] = {"chosen_k": {key: run["chosen_k"] for key, run in first.items()}}
    if "a" not in first:
        return result
    k = str(first["a"]["chosen_k"])
    wcss = {key: run["wcss"].get(k) for key, run in first.items()}
    result.update(k=int(k), wcss_at_k=wcss)
    if wcss.get("b"):
        for other in ("a", "c"):
            if wcss.get(other) is not None:
                result[f"wcss_rel_diff_{other}_vs_b"] = wcss[other] / wcss["b"] - 1
    return result


def markdown(report: dict[str, Any]) -> str:
    """The results as markdown tables, as pasted into BENCHMARKS.md."""
    q = report["quality"]
    k = q.get("k")
    k_label = "(a)'s k" if k is None else f"k={k}"
    lines = [
        f"\n### {report['customers']:,} customers, k = {report['k_range'][0]}.."
        f"{report['k_range'][1]}, {report['repeats']} repeat(s)",
        "",
        f"Load average (1, 5, 15 min) at start {fmt_load(report['load_average_start'])}, "
        f"at end {fmt_load(report['load_average_end'])}; "
        f"Spark driver memory: {report['driver_memory']}.",
        "",
        "| variant | wall s (min / median / max) | peak tree RSS GB (min / median / max) "
        f"| chosen k | WCSS at {k_label} |",
        "|---|---|---|---|---|",
    ]
    for key, v in report["variants"].items():
        rss = v["peak_rss_bytes"]
        wcss = q.get("wcss_at_k", {}).get(key)
        lines.append(
            f"| ({key}) {v['title']} | {wall_cell(v)} | {rss['min'] / GB:.2f} / "
            f"{rss['median'] / GB:.2f} / {rss['max'] / GB:.2f} | "
            f"{outcome_cell(q['chosen_k'].get(key), v['runs'])} | "
            f"{'-' if wcss is None else f'{wcss:.6g}'} |")
    if report["ratios"]:
        lines += ["", "| wall-time ratio (paired by repeat) | min | median | max | target |",
                  "|---|---|---|---|---|"]
        for name, r in report["ratios"].items():
            lines.append(f"| {name} | {r['min']:.2f} | {r['median']:.2f} | {r['max']:.2f} "
                         f"| {r['target']} |")
    differences = [f"WCSS of ({key}) relative to (b) at k={k}: "
                   f"{100 * q[f'wcss_rel_diff_{key}_vs_b']:+.3f} %"
                   for key in ("a", "c") if f"wcss_rel_diff_{key}_vs_b" in q]
    if differences:
        lines += ["", *differences]
    if "a" in report["variants"] and finished(report["variants"]["a"]["runs"]):
        lines += ["", stage_line(finished(report["variants"]["a"]["runs"]))]
    return "\n".join(lines)


def wall_cell(variant: dict[str, Any]) -> str:
    """min / median / max wall seconds; when a run did not finish, each run's seconds, a
    time-capped one as a lower bound (">= 900.0")."""
    runs, wall = variant["runs"], variant["wall_seconds"]
    if len(finished(runs)) == len(runs):
        return f"{wall['min']:.1f} / {wall['median']:.1f} / {wall['max']:.1f}"
    return ", ".join(f"{'>= ' if run['status'].startswith('time cap') else ''}"
                     f"{run['wall_seconds']:.1f}" for run in runs)


def outcome_cell(chosen_k: int | None, runs: list[dict[str, Any]]) -> str:
    """The chosen k, and the status of every distinct way a run did not finish."""
    statuses = dict.fromkeys(run["status"] for run in runs if run["status"] != OK)
    return "; ".join([*([] if chosen_k is None else [str(chosen_k)]), *statuses])


def stage_line(runs: list[dict[str, Any]]) -> str:
    """(a)'s median seconds per job stage, longest first, and the rest of its wall time."""
    stages = runs[0]["details"]["timings"]
    medians = {s: statistics.median(r["details"]["timings"][s] for r in runs) for s in stages}
    outside = statistics.median(r["wall_seconds"] - r["details"]["job_seconds"] for r in runs)
    parts = [f"{name} {seconds:.1f}"
             for name, seconds in sorted(medians.items(), key=lambda item: -item[1])]
    return (f"(a) stages, median s: {', '.join(parts)}; outside the job "
            f"(interpreter, imports, JVM start and stop): {outside:.1f}")


def fmt_load(load: Sequence[float]) -> str:
    return " / ".join(f"{v:.2f}" for v in load)

