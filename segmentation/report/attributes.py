"""The report's section on attributes not clustered (``attributes.csv``).

Two pictures: the level residual heatmap (segments x ``column=level``, coloured by the
adjusted residual, each cell annotated with the segment's share of the level, a flagged
cell framed) and, per numeric column, each shown segment's difference from the other
shown segments with its 95 % interval (a filled marker: the interval excludes 0). The
section's table gives each column's test and its verdict.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.patches import Rectangle

from segmentation.report.figures import Plot, grid_figure, new_figure, paint_segment_labels, save
from segmentation.report.fmt import compact
from segmentation.report.heatmaps import cell_grid, diverging

#: |residual| beyond this saturates the colour.
RESIDUAL_CLIP = 4.0
#: The p-value below which a column is said to separate the segments.
SIGNIFICANCE = 0.05


def plot_attributes(attributes: pd.DataFrame, ids: list[int], *, colors: dict[int, str],
                    out_dir: Path, withheld: dict[int, str]) -> list[Plot]:
    """The section's plots: level residuals (text and boolean columns) and numeric
    differences, each when the run has such columns."""
    plots = []
    levels = attributes[attributes["kind"] == "categorical"]
    if not levels.empty:
        plots.append(_plot_levels(levels, ids, colors=colors, out_dir=out_dir,
                                  withheld=withheld))
    numeric = attributes[(attributes["kind"] == "numeric") & ~attributes["suppressed"]]
    if not numeric.empty:
        plots.append(_plot_differences(numeric, colors=colors, out_dir=out_dir))
    return plots


def _plot_levels(levels: pd.DataFrame, ids: list[int], *, colors: dict[int, str],
                 out_dir: Path, withheld: dict[int, str]) -> Plot:
    cells = levels.assign(cell=levels["attribute"] + "=" + levels["level"].astype(str))
    order = list(dict.fromkeys(cells["cell"]))
    grid = cells.set_index(["segment", "cell"])[["share", "residual", "flagged"]].unstack("cell")
    share, residual, flagged = (grid[name].reindex(index=ids, columns=order)
                                for name in ("share", "residual", "flagged"))
    n_rows, n_cols = len(ids), len(order)
    fig = new_figure(3.0 + 0.85 * n_cols, 2.4 + 0.5 * n_rows)
    ax = fig.subplots()
    values = residual.to_numpy(dtype=float).clip(-RESIDUAL_CLIP, RESIDUAL_CLIP)
    image = ax.imshow(values, cmap=diverging(), vmin=-RESIDUAL_CLIP, vmax=RESIDUAL_CLIP,
                      aspect="auto", interpolation="nearest")
    marked = flagged.fillna(False).astype(bool).to_numpy()
    for (i, j), value in np.ndenumerate(share.to_numpy(dtype=float)):
        if ids[i] in withheld:
            continue
        dark = np.isfinite(values[i, j]) and abs(values[i, j]) >= 0.6 * RESIDUAL_CLIP
        ax.text(j, i, _share(value),
                ha="center", va="center", fontsize=8.5, color="white" if dark else "black",
                weight="bold" if marked[i, j] else "normal")
        if marked[i, j]:
            ax.add_patch(Rectangle((j - 0.46, i - 0.46), 0.92, 0.92, fill=False,
                                   edgecolor="black", linewidth=1.4, zorder=3))
    for i, segment in enumerate(ids):
        if segment in withheld:
            ax.text((n_cols - 1) / 2, i, withheld[segment], ha="center", va="center",
                    fontsize=9, style="italic", color="#444444", zorder=3,
                    bbox={"facecolor": "#e6e6e6", "edgecolor": "none", "pad": 2})
    ax.set_xticks(range(n_cols), order, rotation=45, ha="right", rotation_mode="anchor",
                  fontsize=9)
    ax.set_yticks(range(n_rows), [f"segment {s}" for s in ids], fontsize=9)
    paint_segment_labels(ax.get_yticklabels(), ids, colors)
    ax.tick_params(length=0)
    cell_grid(ax, n_rows, n_cols)
    fig.colorbar(image, ax=ax, extend="both",
                 label=f"adjusted residual (clipped at ±{RESIDUAL_CLIP:g})")
    ax.set_title("Attributes not clustered: colour = adjusted residual; text = the "
                 "segment's share of the level", fontsize=11)
    return Plot(save(fig, out_dir, "attribute_levels.png"), "attributes",
                "Levels by segment",
                "A framed cell is beyond ±2 in a column whose chi-square test is "
                f"significant at {SIGNIFICANCE:.0%}: that segment has clearly more (red) or "
                "fewer (blue) customers of the level than the shown segments together.")


def _share(value: float) -> str:
    """A share as a whole percentage; one that would round to 0 % but is not 0 is "<1%"."""
    if not np.isfinite(value):
        return "–"
    return "<1%" if 0 < value < 0.005 else f"{100 * value:.0f}%"


def _plot_differences(numeric: pd.DataFrame, *, colors: dict[int, str], out_dir: Path
                      ) -> Plot:
    names = list(dict.fromkeys(numeric["attribute"]))
    fig, axes = grid_figure(1, len(names), cell=(3.6, 0.45 * numeric["segment"].nunique()
                                                 + 0.9),
                            gap=(0.9, 0.0), margins=(1.1, 0.3, 0.6, 0.7))
    for ax, name in zip(axes, names, strict=True):
        rows = numeric[numeric["attribute"] == name].sort_values("segment", ascending=False)
        for y, row in enumerate(rows.itertuples()):
            color = colors.get(int(row.segment), "#555555")
            low, high = float(row.difference_low), float(row.difference_high)
            if np.isfinite(low) and np.isfinite(high):
                ax.plot([low, high], [y, y], color=color, linewidth=2)
            clear = np.isfinite(low) and (low > 0 or high < 0)
            ax.plot([float(row.difference)], [y], "o", color=color, markersize=7,
                    markerfacecolor=color if clear else "white")
        ax.axvline(0.0, color="#444444", linewidth=0.8)
        segments = [int(s) for s in rows["segment"]]
        ax.set_yticks(range(len(rows)), [f"segment {s}" for s in segments], fontsize=8.5)
        paint_segment_labels(ax.get_yticklabels(), segments, colors)
        overall = compact(rows["overall"].dropna().iloc[0]) if rows["overall"].notna().any() \
            else "–"
        ax.set_title(f"{name} (mean of the shown segments: {overall})", fontsize=10)
        ax.set_xlabel("difference of the mean from the other shown segments", fontsize=8.5)
        ax.tick_params(labelsize=8)
    return Plot(save(fig, out_dir, "attribute_differences.png"), "attributes",
                "Numeric attributes by segment",
                "Each segment's mean minus the mean of the other shown segments' customers, "
                "with Welch's 95 % interval; a filled marker: the interval excludes 0.")


def tests_table(attributes: pd.DataFrame) -> str:
    """One row per profile column: its test over the shown segments and the verdict."""
    rows = []
    shown = attributes[~attributes["suppressed"]]
    for name, group in shown.groupby("attribute", sort=False):
        first = group.iloc[0]
        p_value = float(first["p_value"])
        verdict = ("separates the segments" if p_value < SIGNIFICANCE
                   else "no clear difference" if np.isfinite(p_value) else "not tested")
        rows.append(f"<tr><td>{escape(str(name))}</td><td>{escape(_test(first))}</td>"
                    f"<td>{escape(_p(p_value))}</td><td>{verdict}</td></tr>")
    return ("<table><tr><th>attribute</th><th>test (shown segments)</th><th>p-value</th>"
            "<th>reading</th></tr>" + "".join(rows) + "</table>")


def _test(row: pd.Series) -> str:
    """``chi-square 3,410 on 5 df``, ``Welch ANOVA F = 81.2 on 5 and 2,310.4 df``."""
    if not isinstance(row["test"], str) or not np.isfinite(float(row["statistic"])):
        return "–"
    if np.isfinite(float(row["dof2"])):
        return (f"{row['test']} F = {compact(row['statistic'])} on {int(row['dof'])} and "
                f"{float(row['dof2']):,.0f} df")
    return f"{row['test']} {compact(row['statistic'])} on {int(row['dof'])} df"


def _p(value: float) -> str:
    return "–" if not np.isfinite(value) else ("< 1e-300" if value == 0 else f"{value:.2g}")
