"""Instants as microseconds since 1970-01-01 UTC, the time the features job carries.

Whole days, calendar months and the default ``as_of`` are computed from these, so that
none of them depends on the session time zone.

Examples
--------
>>> import datetime as dt
>>> friday = dt.datetime(2024, 1, 5, 10, tzinfo=dt.timezone.utc)
>>> from_micros(to_micros(friday)) == friday
True
>>> default_as_of(to_micros(friday)).isoformat()
'2024-01-06T00:00:00+00:00'
"""

from __future__ import annotations

import datetime as dt

DAY_US = 86_400_000_000
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def to_micros(instant: dt.datetime) -> int:
    """Microseconds since 1970-01-01 UTC of an aware datetime."""
    return (instant - EPOCH) // dt.timedelta(microseconds=1)


def from_micros(micros: int) -> dt.datetime:
    """The aware UTC datetime of ``micros`` since 1970-01-01 UTC."""
    return EPOCH + dt.timedelta(microseconds=micros)


def default_as_of(latest_us: int) -> dt.datetime:
    """00:00 UTC of the calendar day after the instant ``latest_us``."""
    return from_micros((latest_us // DAY_US + 1) * DAY_US)
