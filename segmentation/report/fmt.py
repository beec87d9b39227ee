"""Compact number formatting for plot annotations and tables (12.3k, 4.56M, 0.42)."""

from __future__ import annotations

import math

_SUFFIXES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))


def compact(value: object, *, digits: int = 3) -> str:
    """``value`` with ``digits`` significant digits and a k/M/B/T suffix; "–" if missing.

    >>> [compact(v) for v in (12345, 999.96, 1234567, 0.4204, 7.0, -2500, float("nan"))]
    ['12.3k', '1k', '1.23M', '0.42', '7', '-2.5k', '–']
    """
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "–"
    if not math.isfinite(number):
        return "–"
    for divisor, suffix in _SUFFIXES:
        scaled = float(f"{number / divisor:.{digits}g}")
        if abs(scaled) >= 1:
            return f"{scaled:.{digits}g}{suffix}"
    return f"{number:.{digits}g}"


def duration(seconds: object) -> str:
    """Seconds as "1 h 02 min", "3 min 07 s" or "12.4 s"; "–" if missing.

    >>> duration(12.42), duration(187), duration(3725)
    ('12.4 s', '3 min 07 s', '1 h 02 min')
    """
    try:
        total = float(seconds)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "–"
    if not math.isfinite(total):
        return "–"
    if total < 60:
        return f"{total:.1f} s"
    minutes, secs = divmod(round(total), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
