"""The profile heatmap (segments x features) and the migration heatmap (previous x new)."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import Colormap

from segmentation.report.figures import Plot, new_figure, paint_segment_labels, save
from segmentation.report.fmt import compact

#: |z| beyond this saturates the colour: one extreme feature must not wash out the rest.
Z_CLIP = 3.0
#: Label of the extra first row that shows the overall means.
OVERALL = "all customers"
#: Its label when segments are withheld: the overall means are over the others only.
OVERALL_SHOWN = "shown segments"


def plot_profiles(
    profiles: pd.DataFrame, segment_ids: list[int], *, colors: dict[int, str], out_dir: Path,
    withheld: dict[int, str] | None = None,
) -> Plot:
    """Segments x features coloured by z, each cell annotated with the mean in its units.

    Numeric features come first, then category shares, each in the order of the profiles
    table; a first row gives the overall means for reference. A segment in ``withheld``
    (id -> text) is a grey row carrying that text instead of values.
    """
    withheld = withheld or {}
    features = _feature_order(profiles)
    ids = segment_ids + sorted(set(profiles["segment"]) - set(segment_ids))
    means = _pivot(profiles, "mean", ids, features)
    z = _pivot(profiles, "z", ids, features).clip(-Z_CLIP, Z_CLIP)
    overall = profiles.groupby("feature")["overall_mean"].first().reindex(features)
    means.loc[OVERALL] = overall
    z.loc[OVERALL] = 0.0
    for segment in withheld:
        means.loc[segment], z.loc[segment] = np.nan, np.nan
    rows = [OVERALL, *ids]
    means, z = means.loc[rows], z.loc[rows]

    n_rows, n_cols = len(rows), len(features)
    wide = n_cols > 15 or n_rows > 12
    cell_w, cell_h = (0.55, 0.36) if wide else (0.85, 0.5)
    longest = max(len(f) for f in features)
    fig = new_figure(3.2 + cell_w * n_cols, 2.2 + cell_h * n_rows + 0.075 * min(longest, 40))
    ax = fig.subplots()
    image = ax.imshow(z.to_numpy(dtype=float), cmap=diverging(), vmin=-Z_CLIP, vmax=Z_CLIP,
                      aspect="auto", interpolation="nearest")
    hidden_rows = [i for i, row in enumerate(rows) if row in withheld]
    _annotate(ax, means.to_numpy(dtype=float), z.to_numpy(dtype=float),
              fontsize=6.5 if wide else 8.5, skip_rows=hidden_rows)
    for i in hidden_rows:
        ax.text((n_cols - 1) / 2, i, withheld[rows[i]], ha="center", va="center",
                fontsize=8 if wide else 9, style="italic", color="#444444", zorder=3,
                bbox={"facecolor": "#e6e6e6", "edgecolor": "none", "pad": 2})
    ax.axhline(0.5, color="black", linewidth=1.2)
    categories = int((profiles.drop_duplicates("feature")["kind"] == "category").sum())
    if 0 < categories < n_cols:
        ax.axvline(n_cols - categories - 0.5, color="black", linewidth=1.2)
    ax.set_xticks(range(n_cols), features, rotation=45, ha="right", rotation_mode="anchor",
                  fontsize=8 if wide else 9)
    ax.set_yticks(range(n_rows), [OVERALL_SHOWN if withheld else OVERALL,
                                  *(f"segment {s}" for s in ids)],
                  fontsize=8 if wide else 9)
    paint_segment_labels(ax.get_yticklabels(), [None, *ids], colors)
    ax.tick_params(length=0)
    cell_grid(ax, n_rows, n_cols)
    fig.colorbar(image, ax=ax, extend="both", shrink=min(1.0, 3.0 / max(1.0, cell_h * n_rows)),
                 label=f"z = (segment mean − overall mean) / overall std, clipped to ±{Z_CLIP:g}")
    reference = "the shown segments" if withheld else "all customers"
    ax.set_title(f"Segment profiles: colour = deviation from {reference} (z); "
                 "text = segment mean (category: share)", fontsize=11)
    first = ("the customers of the shown segments" if withheld else "all customers")
    return Plot(save(fig, out_dir, "profile_heatmap.png"), "profiles", "Segment profiles",
                f"Rows: segments (first row: {first}); columns: numeric features, then "
                "category levels. Grey cells: no value.")


def plot_migration(
    migration: pd.DataFrame, *, colors: dict[int, str], kept_share: float | None, out_dir: Path
) -> Plot:
    """Customers moving from each previous segment to each new one: counts and row shares.

    A suppressed cell (empty ``count``) is grey and says "withheld"; row shares are over
    the row's shown cells.
    """
    migration = migration.astype({"count": float})
    withheld = migration[migration["count"].isna()]
    counts = migration.pivot_table(index="previous_segment", columns="segment", values="count",
                                   aggfunc="sum", fill_value=0).sort_index().sort_index(axis=1)
    index = sorted(set(counts.index) | set(withheld["previous_segment"]))
    columns = sorted(set(counts.columns) | set(withheld["segment"]))
    counts = counts.reindex(index=index, columns=columns, fill_value=0)
    hidden = np.zeros(counts.shape, dtype=bool)
    for row in withheld.itertuples(index=False):
        hidden[index.index(row.previous_segment), columns.index(row.segment)] = True
    totals = counts.sum(axis=1).replace(0, np.nan)
    shares = counts.div(totals, axis=0).fillna(0.0).mask(hidden)
    previous, new = [int(p) for p in counts.index], [int(s) for s in counts.columns]
    small = max(len(previous), len(new)) > 10
    fig = new_figure(3.5 + (0.6 if small else 0.95) * len(new),
                     2.5 + (0.42 if small else 0.65) * len(previous))
    ax = fig.subplots()
    image = ax.imshow(shares.to_numpy(dtype=float), aspect="auto", interpolation="nearest",
                      cmap=matplotlib.colormaps["Blues"].with_extremes(bad="#e6e6e6"),
                      vmin=0.0, vmax=1.0)
    for (i, j), count in np.ndenumerate(counts.to_numpy()):
        share = shares.iat[i, j]
        text = "withheld" if hidden[i, j] else f"{compact(count)}\n{share:.0%}"
        ax.text(j, i, text, ha="center", va="center", fontsize=6 if small else 8.5,
                color="white" if share > 0.55 else "black",
                style="italic" if hidden[i, j] else "normal")
    ax.set_xticks(range(len(new)), [str(s) for s in new])
    ax.set_yticks(range(len(previous)), [str(p) for p in previous])
    paint_segment_labels(ax.get_xticklabels(), new, colors)
    paint_segment_labels(ax.get_yticklabels(), previous, colors)
    ax.set_xlabel("segment in this run")
    ax.set_ylabel("segment in the previous run")
    ax.tick_params(length=0)
    cell_grid(ax, len(previous), len(new))
    fig.colorbar(image, ax=ax, label="share of the previous segment's customers")
    kept = f" ({kept_share:.1%} kept their segment)" if kept_share is not None else ""
    ax.set_title(f"Migration from the previous run{kept}\ncell: customers and row share",
                 fontsize=11)
    return Plot(save(fig, out_dir, "migration.png"), "migration", "Migration between runs",
                "Rows: segments of the previous run; columns: segments of this run; colour: "
                "share of the row's customers in shown cells. Cells below the privacy "
                "minimum, and cells that would give them away, are withheld.")


def _feature_order(profiles: pd.DataFrame) -> list[str]:
    numeric = profiles.loc[profiles["kind"] != "category", "feature"].drop_duplicates()
    category = profiles.loc[profiles["kind"] == "category", "feature"].drop_duplicates()
    return [*numeric, *category]


def _pivot(profiles: pd.DataFrame, value: str, ids: list[int], features: list[str]
           ) -> pd.DataFrame:
    table = profiles.pivot_table(index="segment", columns="feature", values=value,
                                 aggfunc="first", dropna=False)
    table = table.reindex(index=ids, columns=features).astype(float)
    table.index = table.index.astype(object)
    return table


def diverging() -> Colormap:
    """Red above, blue below the overall mean; missing cells light grey."""
    return matplotlib.colormaps["RdBu_r"].with_extremes(bad="#e6e6e6")


def _annotate(ax: Axes, values: np.ndarray, z: np.ndarray, *, fontsize: float,
              skip_rows: list[int] | None = None) -> None:
    """Each cell's value in compact form, white on the saturated colours (rows in
    ``skip_rows`` left bare)."""
    for (i, j), value in np.ndenumerate(values):
        if skip_rows and i in skip_rows:
            continue
        dark = np.isfinite(z[i, j]) and abs(z[i, j]) >= 0.6 * Z_CLIP
        ax.text(j, i, compact(value), ha="center", va="center", fontsize=fontsize,
                color="white" if dark else "black")


def cell_grid(ax: Axes, n_rows: int, n_cols: int) -> None:
    """Thin white lines between cells."""
    ax.set_xticks(np.arange(-0.5, n_cols, 1), minor=True)
    ax.set_yticks(np.arange(-0.5, n_rows, 1), minor=True)
    ax.grid(which="minor", color="white", linewidth=0.8)
    ax.tick_params(which="minor", length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
