"""The choice-of-k panels, the segment size charts and the 2-D PCA scatter."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from segmentation.model.selection import METRICS, STABILITY
from segmentation.model.verdicts import STRUCTURE_STABILITY
from segmentation.report.colors import UNKNOWN_COLOR
from segmentation.report.figures import (
    Plot,
    grid_figure,
    new_figure,
    note,
    paint_segment_labels,
    save,
)
from segmentation.report.fmt import compact

LINE_COLOR = "#4c72b0"
CHOSEN_COLOR = "#c44e52"
#: Pie wedges smaller than this get no label (their share is in the bar chart and table).
MIN_PIE_LABEL_SHARE = 0.03


def plot_k_selection(
    metrics: pd.DataFrame, *, chosen_k: int | None, select_by: str | None, rule: str,
    out_dir: Path,
) -> Plot:
    """One panel per recorded metric against k, the chosen k marked in each; the stability
    as a box per k (quartiles, mean marked)."""
    panels = [m for m in (*METRICS, STABILITY) if metrics[m.column].notna().any()]
    ncols = min(3, max(1, len(panels)))
    nrows = max(1, math.ceil(len(panels) / ncols))
    fig, axes = grid_figure(nrows, ncols, cell=(3.8, 2.5), gap=(0.85, 1.2),
                            margins=(0.85, 0.2, 1.0, 0.55))
    for ax, info in zip(axes, panels, strict=False):
        data = metrics[["k", info.column]].dropna()
        if info is STABILITY:
            _stability_boxes(ax, metrics)
        else:
            ax.plot(data["k"], data[info.column], marker="o", color=LINE_COLOR)
        chosen = data[data["k"] == chosen_k]
        if not chosen.empty:
            ax.axvline(float(chosen["k"].iloc[0]), color=CHOSEN_COLOR, linestyle="--", linewidth=1)
            ax.plot(chosen["k"], chosen[info.column], marker="o", markersize=12,
                    markerfacecolor="none", markeredgecolor=CHOSEN_COLOR, markeredgewidth=2)
        if len(data) == 1:
            k, value = int(data["k"].iloc[0]), data[info.column].iloc[0]
            ax.set_xlim(k - 1, k + 1)
            ax.annotate(compact(value), (k, value), xytext=(0, 10), textcoords="offset points",
                        ha="center")
        selected = info.column == select_by and len(metrics) > 1
        ax.set_title(f"{info.label}\n{info.direction}" + (" — selection rule" if selected else ""),
                     fontsize=10, fontweight="bold" if selected else "normal")
        ax.set_xlabel("k (number of segments)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_formatter(lambda value, _pos: compact(value, digits=4))
        ax.grid(alpha=0.3)
    for ax in axes[len(panels):]:
        note(ax, "" if panels else "metrics.csv records no quality metric")
    marker = "; dashed line: chosen k" if chosen_k is not None else ""
    title = textwrap.fill(f"Choice of k: {rule}{marker}", width=int(fig.get_figwidth() * 9))
    fig.suptitle(title, fontsize=12, y=1 - 0.12 / fig.get_figheight(), va="top")
    return Plot(save(fig, out_dir, "k_selection.png"), "k", "Quality metrics against k",
                "One panel per quality metric over the k tried; the red circle and dashed line "
                "mark the chosen k. Stability: per k, a box from the first to the third "
                "quartile of the bootstrap adjusted Rand index, its mean marked; dotted: "
                f"{STRUCTURE_STABILITY}, below which no k counts as stable.")


def _stability_boxes(ax: Axes, metrics: pd.DataFrame) -> None:
    """The stability of each k: its interquartile box, the mean as a dot on a line."""
    data = metrics[["k", "stability", "stability_q25", "stability_q75"]].dropna(
        subset=["stability"])
    low = data["stability_q25"].fillna(data["stability"])
    high = data["stability_q75"].fillna(data["stability"])
    ax.bar(data["k"], (high - low).clip(lower=0.004), bottom=low, width=0.55,
           color=LINE_COLOR, alpha=0.3, edgecolor=LINE_COLOR)
    ax.plot(data["k"], data["stability"], marker="o", color=LINE_COLOR)
    ax.axhline(STRUCTURE_STABILITY, color="#666666", linestyle=":", linewidth=1)
    ax.set_ylim(min(0.0, float(low.min()) - 0.05), 1.05)


def plot_sizes(segments: pd.DataFrame, *, colors: dict[int, str], out_dir: Path) -> Plot:
    """Customers per segment as bars (count and share on each) and as a pie."""
    ids = [int(s) for s in segments["segment"]]
    sizes = segments["size"].to_numpy(dtype=float)
    shares = segments["share"].to_numpy(dtype=float)
    palette = [colors.get(s, UNKNOWN_COLOR) for s in ids]
    n = len(ids)
    fig = new_figure(max(10.0, 4.5 + 0.55 * n + 5.0), 5.0)
    bar_ax, pie_ax = fig.subplots(1, 2, width_ratios=[max(1.5, 0.12 * n + 1.0), 1.0])

    positions = range(n)
    bar_ax.bar(positions, sizes, color=palette, edgecolor="white")
    many = n > 8
    for x, size, share in zip(positions, sizes, shares, strict=True):
        text = f"{compact(size)} · {share:.1%}" if many else f"{compact(size)}\n{share:.1%}"
        bar_ax.annotate(text, (x, size), xytext=(0, 3), textcoords="offset points",
                        ha="center", va="bottom", fontsize=8 if many else 9,
                        rotation=90 if many else 0)
    bar_ax.set_ylim(0, max(sizes.max(), 1.0) * (1.35 if many else 1.2))
    bar_ax.set_xticks(list(positions), [str(s) for s in ids])
    paint_segment_labels(bar_ax.get_xticklabels(), ids, colors)
    bar_ax.set_xlabel("segment")
    bar_ax.set_ylabel("customers")
    bar_ax.yaxis.set_major_formatter(lambda value, _pos: compact(value))
    bar_ax.set_title("Customers per segment (count · share)")
    bar_ax.grid(axis="y", alpha=0.3)

    labels = [str(s) if share >= MIN_PIE_LABEL_SHARE else "" for s, share in zip(ids, shares,
                                                                                  strict=True)]
    pie_ax.pie(sizes, labels=labels, colors=palette, startangle=90, counterclock=False,
               autopct=lambda pct: f"{pct:.0f}%" if pct >= 5 else "", pctdistance=0.75,
               labeldistance=1.07, wedgeprops={"edgecolor": "white", "linewidth": 1},
               textprops={"fontsize": 9 if n <= 10 else 7})
    pie_ax.set_title("Share of customers (labels: segment id)")
    pie_ax.set_aspect("equal")
    fig.suptitle(f"Segment sizes: {n} segments, {compact(sizes.sum())} customers", fontsize=12)
    return Plot(save(fig, out_dir, "sizes.png"), "segments", "Segment sizes",
                "Customers per segment: counts and shares (pie labels: segment ids; wedges "
                "under 3% unlabelled).")


def plot_scatter(
    scatter: pd.DataFrame, centroids: pd.DataFrame | None, *, colors: dict[int, str],
    explained: list[float] | None, out_dir: Path,
) -> Plot:
    """The sampled customers on the first two principal components, centroids marked."""
    ids = sorted(scatter["segment"].unique())
    fig = new_figure(10.0, 7.0)
    ax = fig.subplots()
    size = 14 if len(scatter) <= 2000 else 6
    for segment in ids:
        points = scatter[scatter["segment"] == segment]
        ax.scatter(points["pc1"], points["pc2"], s=size, alpha=0.55, linewidths=0,
                   color=colors.get(segment, UNKNOWN_COLOR), label=str(segment),
                   rasterized=True)
    if centroids is not None and not centroids.empty:
        outline = [patheffects.withStroke(linewidth=3, foreground="white")]
        for row in centroids.itertuples(index=False):
            ax.scatter(row.pc1, row.pc2, marker="X", s=220, color=colors.get(row.segment,
                       UNKNOWN_COLOR), edgecolors="black", linewidths=1.3, zorder=3)
            ax.annotate(str(row.segment), (row.pc1, row.pc2), xytext=(8, 6),
                        textcoords="offset points", fontsize=10, fontweight="bold",
                        path_effects=outline, zorder=4)
    ax.set_xlabel(_pc_label(1, explained))
    ax.set_ylabel(_pc_label(2, explained))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), title="segment", markerscale=2,
              ncols=1 if len(ids) <= 14 else 2, fontsize=9, frameon=False)
    title = f"Sample of {compact(len(scatter))} customers on the first two principal components"
    ax.set_title(title + ("\n✕ segment centroids" if centroids is not None else ""))
    return Plot(save(fig, out_dir, "scatter.png"), "scatter", "PCA projection of a sample",
                "A seeded sample of customers (segments below the privacy minimum left out) "
                "projected on the first two principal components of its prepared features; "
                "crosses: segment centroids.")


def explained_variance(manifest: dict[str, Any]) -> list[float] | None:
    """The first two explained-variance ratios from the manifest, as fractions, if there."""
    pca = manifest.get("pca")
    values = pca.get("explained_variance") if isinstance(pca, dict) else None
    if not isinstance(values, list) or len(values) < 2:
        return None
    try:
        ratios = [float(v) for v in values[:2]]
    except (TypeError, ValueError):
        return None
    return [r / 100 if r > 1 else r for r in ratios]


def _pc_label(number: int, explained: list[float] | None) -> str:
    if explained is None:
        return f"PC{number}"
    return f"PC{number} ({explained[number - 1]:.0%} of variance)"
