"""Per-feature distributions across segments, drawn from the profiles' quartiles.

The run stores no raw values, only per-segment statistics, so each box is built with
matplotlib's ``bxp`` from q25/median/q75 and min/max. Where quartiles are missing but the
mean is known (a feature without sampled values), the box falls back to mean ± 1 std,
drawn hatched and dashed so it is never mistaken for quartiles. Segments below the privacy
minimum have no statistics at all: their slot says "withheld".
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from segmentation.report.colors import UNKNOWN_COLOR
from segmentation.report.figures import Plot, grid_figure, save
from segmentation.report.fmt import compact

#: Features per image: more would make one very tall PNG.
FEATURES_PER_IMAGE = 12
#: Ratio of the highest whisker to the typical (median) segment median, at least 1, beyond
#: which a log1p feature is drawn on a log axis: its boxes would be squashed on a linear one.
LOG_SPAN = 100.0


def plot_distributions(
    profiles: pd.DataFrame, segment_ids: list[int], *, colors: dict[int, str],
    log_features: Iterable[str], out_dir: Path, withheld: Iterable[int] = (),
) -> list[Plot]:
    """Box plots of every numeric feature by segment, at most :data:`FEATURES_PER_IMAGE` per
    image (split evenly: 37 features make pages of 10, 9, 9 and 9); the slot of a segment
    in ``withheld`` says so instead of a box."""
    numeric = profiles[profiles["kind"] != "category"]
    features = list(numeric["feature"].drop_duplicates())
    logged = set(log_features)
    if not features:
        return []
    count = math.ceil(len(features) / FEATURES_PER_IMAGE)
    pages = [list(page) for page in np.array_split(np.array(features, dtype=object), count)]
    plots = []
    for number, page in enumerate(pages, start=1):
        name = "distributions.png" if len(pages) == 1 else f"distributions_{number}.png"
        title = "Feature distributions by segment"
        if len(pages) > 1:
            title += f" ({number} of {len(pages)})"
        plots.append(_plot_page(numeric, page, segment_ids, colors=colors, logged=logged,
                                title=title, out_dir=out_dir, filename=name,
                                withheld=set(withheld)))
    return plots


def box_stats(
    row: pd.Series, *, nonnegative: bool = False
) -> tuple[dict[str, float], bool] | None:
    """``bxp`` statistics of one (segment, feature) row and whether they are the fallback.

    Quartiles when all three are present (whiskers at min/max, or at the box when those are
    suppressed); else mean ± std, cut at 0 for a ``nonnegative`` feature; ``None`` when not
    even the mean is known.
    """
    mean, std = row["mean"], row["std"]
    q1, med, q3 = row["q25"], row["median"], row["q75"]
    if all(np.isfinite([q1, med, q3])):
        low = row["min"] if np.isfinite(row["min"]) else q1
        high = row["max"] if np.isfinite(row["max"]) else q3
        return {"q1": q1, "med": med, "q3": q3, "whislo": low, "whishi": high,
                "mean": mean}, False
    if not np.isfinite(mean):
        return None
    spread = std if np.isfinite(std) else 0.0
    low = max(0.0, mean - spread) if nonnegative else mean - spread
    return {"q1": low, "med": mean, "q3": mean + spread, "whislo": low,
            "whishi": mean + spread, "mean": mean}, True


def _plot_page(
    numeric: pd.DataFrame, features: list[str], segment_ids: list[int], *,
    colors: dict[int, str], logged: set[str], title: str, out_dir: Path, filename: str,
    withheld: set[int],
) -> Plot:
    n_seg = len(segment_ids)
    ncols = 3 if n_seg <= 10 else 2
    ncols = min(ncols, len(features))
    nrows = math.ceil(len(features) / ncols)
    fig, axes = grid_figure(nrows, ncols, cell=(max(3.0, 0.8 + 0.34 * n_seg), 2.1),
                            gap=(0.75, 0.8), margins=(0.7, 0.25, 0.8, 0.9))
    any_fallback = False
    for ax, feature in zip(axes, features, strict=False):
        rows = numeric[numeric["feature"] == feature].set_index("segment")
        any_fallback |= _plot_feature(ax, rows, feature, segment_ids, colors,
                                      logged=feature in logged)
        _mark_withheld(ax, segment_ids, withheld)
    for ax in axes[len(features):]:
        ax.set_axis_off()
    handles = [
        Patch(facecolor="#dddddd", edgecolor="black", label="quartiles (whiskers: min-max)"),
        Line2D([], [], marker="D", color="black", linestyle="none", markersize=5, label="mean"),
        Line2D([], [], color="#555555", linestyle=":", label="overall mean"),
    ]
    if any_fallback:
        handles.append(Patch(facecolor="#dddddd", edgecolor="black", hatch="///",
                             linestyle="--", label="mean ± 1 std (quartiles not available)"))
    fig.legend(handles=handles, loc="lower center", ncols=2 if any_fallback else 3, fontsize=9,
               frameon=False)
    fig.suptitle(title, fontsize=12, y=1 - 0.15 / fig.get_figheight(), va="top")
    caption = ("Boxes from the per-segment quartiles (whiskers: min and max), mean as a "
               "diamond; dotted line: mean of all customers.")
    if withheld:
        caption = caption.replace("all customers", "the customers of the shown segments") + (
            " Segments marked 'withheld' have fewer customers than the privacy minimum.")
    return Plot(save(fig, out_dir, filename), "distributions", title, caption)


def _mark_withheld(ax: Axes, segment_ids: list[int], withheld: set[int]) -> None:
    """A vertical "withheld" in the slot of each withheld segment."""
    for position, segment in enumerate(segment_ids):
        if segment in withheld:
            ax.text(position, 0.5, "withheld", rotation=90, ha="center", va="center",
                    fontsize=8, style="italic", color="#666666",
                    transform=ax.get_xaxis_transform())


def _plot_feature(
    ax: Axes, rows: pd.DataFrame, feature: str, segment_ids: list[int],
    colors: dict[int, str], *, logged: bool,
) -> bool:
    """One feature's boxes; returns whether any box is the mean ± std fallback.

    A ``logged`` feature (log1p before clustering, so >= 0 and usually skewed) gets a
    symmetric-log axis when its boxes span more than :data:`LOG_SPAN` of range.
    """
    stats, fallbacks, positions, ids = [], [], [], []
    for position, segment in enumerate(segment_ids):
        if segment not in rows.index:
            continue
        built = box_stats(rows.loc[segment], nonnegative=logged)
        if built is None:
            continue
        stats.append(built[0])
        fallbacks.append(built[1])
        positions.append(position)
        ids.append(segment)
    if stats:
        artists = ax.bxp(stats, positions=positions, widths=0.6, patch_artist=True,
                         showfliers=False, showcaps=len(segment_ids) <= 10,
                         medianprops={"color": "black", "linewidth": 1.5})
        # one marker collection instead of bxp's one line artist per box: 800 boxes draw faster
        ax.scatter(positions, [s["mean"] for s in stats], marker="D", s=16, color="black",
                   edgecolors="white", linewidths=0.6, zorder=3)
        for box, segment, fallback in zip(artists["boxes"], ids, fallbacks, strict=True):
            box.set_facecolor(colors.get(segment, UNKNOWN_COLOR))
            box.set_alpha(0.85)
            if fallback:
                box.set_hatch("///")
                box.set_linestyle("--")
    overall = rows["overall_mean"].dropna()
    if not overall.empty:
        ax.axhline(overall.iloc[0], color="#555555", linestyle=":", linewidth=1.2, zorder=0)
    scale = ""
    if logged and stats and _spans_decades(stats):
        ax.set_yscale("symlog", linthresh=1.0)
        ax.set_ylim(bottom=0)
        scale = " (log scale)"
    ax.yaxis.set_major_formatter(lambda value, _pos: compact(value))
    ax.set_xticks(range(len(segment_ids)), [str(s) for s in segment_ids],
                  fontsize=8 if len(segment_ids) <= 10 else 7)
    ax.set_xlim(-0.7, len(segment_ids) - 0.3)
    ax.set_title(feature + scale, fontsize=10)
    ax.set_xlabel("segment", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return any(fallbacks)


def _spans_decades(stats: list[dict[str, float]]) -> bool:
    """Whether the top whisker exceeds :data:`LOG_SPAN` times the typical segment median."""
    typical = max(1.0, float(np.median([s["med"] for s in stats])))
    return max(s["whishi"] for s in stats) > LOG_SPAN * typical
