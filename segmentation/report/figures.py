"""Shared plumbing of the report's figures: creation, saving and segment-coloured labels.

Figures are plain :class:`matplotlib.figure.Figure` objects rendered by the Agg canvas,
never pyplot figures: nothing touches the process-wide backend or pyplot's figure
registry, so the report runs headless, leaks no figures, and does not disturb a notebook
that imports it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

from segmentation.report.colors import UNKNOWN_COLOR, text_color_on

#: Resolution of every PNG.
DPI = 110
#: Largest figure side in inches (a 40-feature heatmap must stay a sane image).
MAX_INCHES = 30.0


@dataclass(frozen=True)
class Plot:
    """One written image and how the page presents it."""

    filename: str
    section: str
    title: str
    caption: str = ""


def new_figure(width: float, height: float) -> Figure:
    """A constrained-layout figure on an Agg canvas, sides capped at :data:`MAX_INCHES`."""
    fig = Figure(figsize=(min(width, MAX_INCHES), min(height, MAX_INCHES)), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def grid_figure(
    nrows: int, ncols: int, *, cell: tuple[float, float], gap: tuple[float, float],
    margins: tuple[float, float, float, float],
) -> tuple[Figure, list[Axes]]:
    """A grid of equal axes with fixed margins and gaps, all in inches.

    Constrained layout costs seconds on a grid of dozens of axes; grids whose labels have a
    known size use this instead. ``cell`` is one axes' (width, height), ``gap`` the
    (horizontal, vertical) space between axes, ``margins`` (left, right, top, bottom).
    """
    left, right, top, bottom = margins
    width = left + right + ncols * cell[0] + (ncols - 1) * gap[0]
    height = top + bottom + nrows * cell[1] + (nrows - 1) * gap[1]
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(
        nrows, ncols, left=left / width, right=1 - right / width, top=1 - top / height,
        bottom=bottom / height, wspace=gap[0] / cell[0], hspace=gap[1] / cell[1],
    )
    axes = [fig.add_subplot(grid[i, j]) for i in range(nrows) for j in range(ncols)]
    return fig, axes


def save(fig: Figure, out_dir: Path, filename: str) -> str:
    """Write ``fig`` as a PNG into ``out_dir`` and release its memory; returns the name."""
    fig.savefig(out_dir / filename, dpi=DPI, facecolor="white")
    fig.clear()
    return filename


def paint_segment_labels(
    labels: Iterable[Text], segment_ids: Iterable[int | None], colors: dict[int, str]
) -> None:
    """Give each tick label its segment's colour as a background (``None``: left plain)."""
    for label, segment in zip(labels, segment_ids, strict=True):
        if segment is None:
            continue
        background = colors.get(segment, UNKNOWN_COLOR)
        label.set_color(text_color_on(background))
        label.set_bbox({"facecolor": background, "edgecolor": "none", "pad": 1.5})


def note(ax: Axes, text: str) -> None:
    """A centred grey message in an otherwise empty axes."""
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, ha="center", va="center", color="#666666", transform=ax.transAxes)
