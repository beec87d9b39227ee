"""Short readable descriptions of segments from their standardised profile deviations.

A segment is described by the few features on which it differs most from the whole
population, measured by ``z = (segment mean - overall mean) / overall std`` from the tidy
profiles table. Pure pandas: the Spark job calls it to fill ``segments.csv`` and the report
calls it when a description is missing.

Examples
--------
>>> import pandas as pd
>>> profiles = pd.DataFrame({
...     "segment": [0, 0, 0, 1, 1, 1],
...     "feature": ["annual_income", "age", "channel=web"] * 2,
...     "kind": ["numeric", "numeric", "category"] * 2,
...     "z": [1.8, -0.9, 0.7, 0.1, 0.2, -0.3],
... })
>>> describe_segments(profiles)
{0: 'high annual income, younger, mostly web channel', 1: 'close to average'}
"""

from __future__ import annotations

import pandas as pd

#: Columns of the tidy profiles table that descriptions need.
REQUIRED_COLUMNS = ("segment", "feature", "kind", "z")

#: The description of a segment that differs from the population on no feature.
AVERAGE = "close to average"


def describe_segments(
    profiles: pd.DataFrame, *, max_terms: int = 3, min_abs_z: float = 0.5
) -> dict[int, str]:
    """One phrase per segment naming the features that set it apart.

    For each segment the features with the largest ``|z|`` that reach ``min_abs_z`` are
    named, at most ``max_terms`` of them, strongest first: numeric features as
    "high X"/"low X" (a feature named ``age`` as "older"/"younger"), category levels
    (features named ``column=level``) as "mostly <level> <column>"/"few <level> <column>".
    A categorical column contributes at most one term (its strongest level), since
    "mostly web channel, few store channel" says the same thing twice.

    Parameters
    ----------
    profiles : pandas.DataFrame
        The tidy profiles table, one row per (segment, feature), with at least the columns
        ``segment``, ``feature``, ``kind`` (``numeric`` or ``category``) and ``z``.
    max_terms : int, default 3
        Most features named per segment (>= 1).
    min_abs_z : float, default 0.5
        Smallest ``|z|`` worth naming (>= 0); rows with a missing ``z`` are never named.

    Returns
    -------
    dict of int to str
        Every segment of ``profiles``; "close to average" when no feature passes.

    Raises
    ------
    ValueError
        A required column is missing, or ``max_terms``/``min_abs_z`` is out of range.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in profiles.columns]
    if missing:
        raise ValueError(
            f"profiles table lacks column(s) {', '.join(missing)} "
            f"(present: {', '.join(map(str, profiles.columns)) or 'none'})"
        )
    if max_terms < 1:
        raise ValueError(f"max_terms={max_terms} should be >= 1")
    if not min_abs_z >= 0:
        raise ValueError(f"min_abs_z={min_abs_z} should be >= 0")

    descriptions: dict[int, str] = {}
    for segment, rows in profiles.groupby("segment", sort=True):
        terms = _strongest_terms(rows, max_terms=max_terms, min_abs_z=min_abs_z)
        descriptions[int(segment)] = ", ".join(terms) if terms else AVERAGE
    return descriptions


def _strongest_terms(rows: pd.DataFrame, *, max_terms: int, min_abs_z: float) -> list[str]:
    """The phrases of one segment's strongest deviations (ties broken by feature name)."""
    z = pd.to_numeric(rows["z"], errors="coerce")
    candidates = rows.assign(_z=z, _abs=z.abs())
    candidates = candidates[candidates["_abs"] >= min_abs_z]
    candidates = candidates.sort_values(["_abs", "feature"], ascending=[False, True])
    terms: list[str] = []
    used_columns: set[str] = set()
    for feature, kind, value in zip(
        candidates["feature"], candidates["kind"], candidates["_z"], strict=True
    ):
        feature = str(feature)
        if str(kind) == "category":
            column = feature.partition("=")[0]
            if column in used_columns:
                continue
            used_columns.add(column)
            terms.append(category_phrase(feature, value))
        else:
            terms.append(numeric_phrase(feature, value))
        if len(terms) == max_terms:
            break
    return terms


def numeric_phrase(feature: str, z: float) -> str:
    """"high X"/"low X" for a numeric feature; "older"/"younger" for ``age``.

    >>> numeric_phrase("spend_12m", -1.2), numeric_phrase("Age", 0.8)
    ('low spend 12m', 'older')
    """
    if feature.strip().lower() == "age":
        return "older" if z > 0 else "younger"
    return f"{'high' if z > 0 else 'low'} {humanise(feature)}"


def category_phrase(feature: str, z: float) -> str:
    """"mostly <level> <column>"/"few <level> <column>" for a ``column=level`` share.

    >>> category_phrase("channel=web", 1.1), category_phrase("region=north_east", -0.7)
    ('mostly web channel', 'few north east region')
    """
    column, sep, level = feature.partition("=")
    subject = f"{humanise(level)} {humanise(column)}" if sep else humanise(feature)
    return f"{'mostly' if z > 0 else 'few'} {subject}"


def humanise(name: str) -> str:
    """A column name as words: underscores to spaces, runs of spaces collapsed.

    >>> humanise("days_since__last_order")
    'days since last order'
    """
    words = name.replace("_", " ").split()
    return " ".join(words) if words else name

