"""One colour per segment id, the same in every plot and table of a report.

The map is built once from ``segments.csv``: ids in ascending order take the colours of a
qualitative palette (tab10 up to 10 segments; tab20's saturated then light halves up to 20,
so neighbouring ids never get two shades of one hue; evenly spaced hues beyond).
"""

from __future__ import annotations

from collections.abc import Iterable

import matplotlib
from matplotlib.colors import to_hex, to_rgb

#: Colour of anything that has no segment in ``segments.csv`` (should not happen).
UNKNOWN_COLOR = "#9e9e9e"


def segment_colors(segment_ids: Iterable[int]) -> dict[int, str]:
    """Map each distinct segment id (ascending) to a hex colour.

    >>> segment_colors([3, 1])
    {1: '#1f77b4', 3: '#ff7f0e'}
    """
    ids = sorted({int(s) for s in segment_ids})
    return dict(zip(ids, palette(len(ids)), strict=True))


def palette(n: int) -> list[str]:
    """``n`` distinguishable colours."""
    if n <= 10:
        tab10 = matplotlib.colormaps["tab10"]
        colors = [tab10(i) for i in range(n)]
    elif n <= 20:
        tab20 = matplotlib.colormaps["tab20"]
        colors = [tab20(i) for i in [*range(0, 20, 2), *range(1, 20, 2)][:n]]
    else:
        hsv = matplotlib.colormaps["hsv"]
        colors = [hsv(i / n) for i in range(n)]
    return [to_hex(c) for c in colors]


def text_color_on(background: str) -> str:
    """Black or white, whichever reads better on ``background`` (by relative luminance)."""
    r, g, b = to_rgb(background)
    return "black" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.5 else "white"
