"""Compact number formatting for plot annotations and tables (12.3k, 4.56M, 0.42), and
durations as the page shows them; a missing value is "–"."""

from __future__ import annotations

import math

from segmentation.core import progress

_SUFFIXES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))


def compact(value: object, *, digits: int = 3) -> str:
    """``value`` with ``digits`` significant digits and a k/M/B/T suffix; "–" if missing.

    >>> [compact(v) for v in (12345, 999.96, 1234567, 0.4204, 7.0, -2500, float("nan"))]
    ['12.3k', '1k', '1.23M', '0.42', '7', '-2.5k', '–']
    """
    number = _number(value)
    if number is None:
        return "–"
    for divisor, suffix in _SUFFIXES:
        scaled = float(f"{number / divisor:.{digits}g}")
        if abs(scaled) >= 1:
            return f"{scaled:.{digits}g}{suffix}"
    return f"{number:.{digits}g}"


def duration(seconds: object) -> str:
    """Seconds as the page shows them ("1 h 02 min", "3 min 07 s", "12.4 s":
    :func:`segmentation.core.progress.duration` spaced); "–" if missing.

    >>> duration(12.42), duration(187), duration(3725), duration(None)
    ('12.4 s', '3 min 07 s', '1 h 02 min', '–')
    """
    number = _number(seconds)
    return "–" if number is None else progress.duration(number, spaced=True)


def _number(value: object) -> float | None:
    """``value`` as a finite float; None when it is missing or not a number."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
