"""Privacy of exported aggregates: what of a small segment may leave the cluster.

A segment smaller than ``output.min_segment_size`` exports its size and nothing computed
from its members' values: every statistic of its rows is blank and marked ``suppressed``.
Withholding its rows is not enough when the overall statistics include it (overall mean
times the total, minus the shown segments, gives it back), so the overall statistics are
computed over the customers of the shown segments only (:func:`shown_ids`).

Migration counts say which customers moved where: a cell of fewer than
``min_segment_size`` customers is withheld, and so are further cells until no row or
column of the table lets a withheld cell be recovered from the exported segment sizes
(:func:`suppress_small_cells`); a line whose only cell is withheld gets withheld zero cells
beside it (:func:`with_decoys_of_lone_cells`).

Counts over all rows are exported only when they cannot hold a withheld segment's: the
input's missing values per feature, with every segment's size and each shown segment's
count per feature, would give a withheld segment's by subtraction
(:func:`exported_missing`).

Pure pandas (no Spark): the job, scoring and the report share these rules.

Examples
--------
>>> import pandas as pd
>>> segments = pd.DataFrame({"segment": [0, 1], "size": [120, 3], "mean_distance": [1.5, 9.0]})
>>> withhold(segments, hidden_mask(segments, 50), ["mean_distance"]).to_dict("list")
{'segment': [0, 1], 'size': [120, 3], 'mean_distance': [1.5, nan], 'suppressed': [False, True]}
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from segmentation.model.columns import SEGMENT_COL
from segmentation.outputs.layout import PREVIOUS_SEGMENT_COL, SUPPRESSED_COL


def withheld_text(min_segment_size: int) -> str:
    """How the report and descriptions name a withheld segment.

    >>> withheld_text(1000)
    'fewer than 1,000 customers: statistics withheld'
    """
    return f"fewer than {min_segment_size:,} customers: statistics withheld"


def hidden_mask(segments: pd.DataFrame, min_segment_size: int) -> pd.Series:
    """Per row of a table with ``size``: whether its segment is below the threshold."""
    return segments["size"] < min_segment_size


def shown_ids(sizes: dict[int, int], min_segment_size: int) -> list[int]:
    """The segments whose statistics are exported, in id order."""
    return sorted(s for s, n in sizes.items() if n >= min_segment_size)


def withhold(frame: pd.DataFrame, hidden: pd.Series | np.ndarray, columns: Sequence[str]
             ) -> pd.DataFrame:
    """A copy of ``frame`` with ``columns`` blank where ``hidden``, and ``suppressed`` set."""
    mask = np.asarray(hidden, dtype=bool)
    out = frame.copy()
    for column in columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].where(~mask, None)
        else:
            out[column] = out[column].astype(float).where(~mask, np.nan)
    out[SUPPRESSED_COL] = mask
    return out


def suppress_small_cells(counts: pd.DataFrame, min_segment_size: int) -> pd.DataFrame:
    """``previous_segment, segment, count`` with small cells and those that give them away
    blank, and ``suppressed`` set.

    Primary: every cell with fewer than ``min_segment_size`` customers. Secondary: the row
    and column totals are known (the runs' segment sizes), so while a row or column has a
    withheld part that could be recovered by subtraction (a single withheld cell, or
    withheld cells adding up to fewer than ``min_segment_size``), its smallest shown cell
    is withheld too. Each step withholds one more cell, so it ends.

    This protects each row and column on its own (several lines together still bound a
    withheld cell, as with any cell suppression that is not audited by a linear program).

    >>> counts = pd.DataFrame({"previous_segment": [0, 0, 0, 1, 1, 1, 2, 2, 2],
    ...                        "segment": [0, 1, 2] * 3,
    ...                        "count": [500, 2, 100, 60, 400, 70, 80, 90, 600]})
    >>> suppress_small_cells(counts, 50)["count"].tolist()
    [500, <NA>, <NA>, <NA>, 400, <NA>, <NA>, <NA>, 600]
    """
    counts = with_decoys_of_lone_cells(counts, min_segment_size)
    hidden = (counts["count"] < min_segment_size).to_numpy()
    values = counts["count"].to_numpy(dtype=float)
    lines = [counts[col].astype("Int64").fillna(-1).to_numpy() for col in
             (PREVIOUS_SEGMENT_COL, SEGMENT_COL)]
    changed = True
    while changed:
        changed = False
        for keys in lines:
            for key in np.unique(keys[hidden]):
                line = keys == key
                withheld = values[line & hidden]
                shown = np.flatnonzero(line & ~hidden)
                if shown.size and (withheld.size == 1 or withheld.sum() < min_segment_size):
                    hidden[shown[np.argmin(values[shown])]] = True
                    changed = True
    return withhold(counts, hidden, ["count"]).astype({"count": "Int64"})


def with_decoys_of_lone_cells(counts: pd.DataFrame, min_segment_size: int) -> pd.DataFrame:
    """``counts`` with a zero cell at every other crossing of a line (row or column) whose
    only cell is below ``min_segment_size``.

    Such a cell equals its line's total, an exported segment size, so withholding it hides
    nothing: its position alone says where the small group went. With the line's zero
    cells beside it (withheld like any cell below the threshold, and protected in their
    own lines in turn) a reader cannot tell which of them holds the group.

    >>> counts = pd.DataFrame({"previous_segment": [0, 0, 1], "segment": [0, 1, 1],
    ...                        "count": [500, 90, 4]})
    >>> with_decoys_of_lone_cells(counts, 50).values.tolist()
    [[0, 0, 500], [0, 1, 90], [1, 0, 0], [1, 1, 4]]
    """
    keys = (PREVIOUS_SEGMENT_COL, SEGMENT_COL)
    decoys = []
    for key, other in (keys, keys[::-1]):
        lines = counts.groupby(key, dropna=False)["count"].agg(["size", "max"])
        lone = lines.index[(lines["size"] == 1) & (lines["max"] < min_segment_size)]
        crossing = counts[other].unique()
        for line in lone:
            for value in crossing:
                present = (counts[key].isna() if pd.isna(line) else counts[key] == line) & (
                    counts[other].isna() if pd.isna(value) else counts[other] == value)
                if not present.any() and not (pd.isna(line) and pd.isna(value)):
                    decoys.append({key: line, other: value, "count": 0})
    if not decoys:
        return counts
    added = pd.DataFrame(decoys).astype(counts.dtypes.to_dict())
    return pd.concat([counts, added], ignore_index=True).drop_duplicates(
        subset=list(keys)).sort_values(list(keys), na_position="last", ignore_index=True)


def hidden_segments(segments: pd.DataFrame, min_segment_size: int) -> set[int]:
    """Ids of a run's withheld segments: marked ``suppressed`` (layout version 3 on) or below
    the threshold (older runs exported their values, but nothing reading them should show
    them again)."""
    hidden = hidden_mask(segments, min_segment_size)
    if SUPPRESSED_COL in segments.columns:
        hidden |= marked(segments)
    return {int(s) for s in segments.loc[hidden, SEGMENT_COL]}


def marked(frame: pd.DataFrame) -> pd.Series:
    """The ``suppressed`` column as booleans, however it was read (bool, or text from a CSV
    with empty cells)."""
    return frame[SUPPRESSED_COL].astype(str).str.lower().isin(["true", "1"])


def exported_missing(missing: dict[str, dict[str, int]], segments: pd.DataFrame,
                     policy: str) -> dict[str, dict[str, int]] | None:
    """The input's missing-value counts as a manifest may export them: None when any of
    ``segments`` (as exported, with ``suppressed``) is withheld and the missing-value
    ``policy`` kept such rows in the segments (under ``drop`` every one of them was dropped
    before clustering: no segment holds any)."""
    withheld = bool(segments[SUPPRESSED_COL].any()) and policy != "drop"
    return None if withheld else missing
