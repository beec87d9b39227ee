"""Reading a finished run directory's small files (CSV and JSON) into pandas.

The report needs only what the Spark job writes as small files (the run directory's
layout is :mod:`segmentation.outputs.layout`): ``manifest.json``, ``metrics.csv``,
``segments.csv``, ``profiles.csv`` and, when present, ``scatter.csv``,
``centroids_2d.csv`` and ``migration.csv``. Everything is validated here, once, so the
plotting code can assume well-formed tables: a missing file or column is an
:class:`~segmentation.core.errors.InputDataError` naming the path and what is missing. Each
file's columns are the layout's; the few the report cannot do without are required, the
others (which runs of an older layout version may lack) are added blank.

Privacy: the segments below the run's ``output.min_segment_size`` (marked ``suppressed``,
or for runs written before that column, by size) are withheld here once for every plot:
their statistics blank, their description "fewer than N customers: statistics withheld",
their centroid and sample points dropped; migration cells below the threshold likewise.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import numpy as np
import pandas as pd

from segmentation.core.errors import InputDataError
from segmentation.core.fs import local_path
from segmentation.model.columns import SEGMENT_COL
from segmentation.model.selection import selection_rule
from segmentation.outputs.describe import describe_segments
from segmentation.outputs.layout import (
    ATTRIBUTE_COLUMNS,
    ATTRIBUTE_STATISTICS,
    ATTRIBUTES_CSV,
    CENTROIDS_COLUMNS,
    CENTROIDS_CSV,
    DEFAULT_MIN_SEGMENT_SIZE,
    MANIFEST,
    METRICS_COLUMNS,
    METRICS_CSV,
    MIGRATION_COLUMNS,
    MIGRATION_CSV,
    PREVIOUS_SEGMENT_COL,
    PROFILE_COLUMNS,
    PROFILE_STATISTICS,
    PROFILES_CSV,
    SCATTER_COLUMNS,
    SCATTER_CSV,
    SEGMENTS_COLUMNS,
    SEGMENTS_CSV,
    SMALL_FILES,
    STABILITY_COL,
    SUPPRESSED_COL,
    parse_csv,
    parse_json,
)
from segmentation.outputs.privacy import (
    hidden_segments,
    marked,
    suppress_small_cells,
    withheld_text,
    withhold,
)

log = logging.getLogger(__name__)

#: Columns read as text (every other column is numeric, unparseable values NaN).
_TEXT_COLUMNS = ("feature", "kind", "description", "attribute", "level", "flagged", "test",
                 SUPPRESSED_COL)


@dataclass(frozen=True)
class RunData:
    """The small files of one finished run, validated and typed.

    Attributes
    ----------
    path : pathlib.Path
        The run directory.
    manifest : dict
        ``manifest.json`` as read (optional keys may be absent).
    metrics : pandas.DataFrame
        One row per k tried, sorted by k; every metric column present (NaN if not written).
    segments : pandas.DataFrame
        ``segment, size, share, stability, description, suppressed``, sorted by segment
        (``stability`` NaN where not written); descriptions
        filled in from the profiles where the job left them empty, and the withheld text
        for suppressed segments.
    profiles : pandas.DataFrame
        The tidy profiles table with every statistic column present (NaN when suppressed)
        and ``suppressed``.
    attributes : pandas.DataFrame or None
        ``attributes.csv`` (runs with ``features.profile_columns``), ``flagged`` and
        ``suppressed`` as booleans, every statistic of a withheld segment blank.
    scatter, centroids, migration : pandas.DataFrame or None
        The optional tables, ``None`` when the run did not write them; no point or centroid
        of a suppressed segment; a suppressed migration cell has an empty ``count``.
    min_segment_size : int
        The run's privacy threshold.
    """

    path: Path
    manifest: dict[str, Any]
    metrics: pd.DataFrame
    segments: pd.DataFrame
    profiles: pd.DataFrame
    scatter: pd.DataFrame | None
    centroids: pd.DataFrame | None
    migration: pd.DataFrame | None
    min_segment_size: int = DEFAULT_MIN_SEGMENT_SIZE
    attributes: pd.DataFrame | None = None

    @property
    def withheld(self) -> list[int]:
        """Ids of the segments whose statistics are withheld."""
        return [int(s) for s in self.segments.loc[self.segments[SUPPRESSED_COL], SEGMENT_COL]]

    @property
    def chosen_k(self) -> int | None:
        """The k of the final model (from the manifest, or the only k tried)."""
        value = self.manifest.get("chosen_k")
        if value is not None:
            return int(value)
        if len(self.metrics) == 1:
            return int(self.metrics["k"].iloc[0])
        return None

    @property
    def warnings(self) -> list[str]:
        """The run's warnings (range edge, no stable structure); none before version 4."""
        value = self.manifest.get("warnings")
        return [str(w) for w in value] if isinstance(value, list) else []

    @property
    def select_by(self) -> str | None:
        """The selection rule's name (a metric column or ``fixed``), if recorded."""
        value = self.manifest.get("select_by")
        return str(value) if value else None

    @property
    def selection_rule(self) -> str:
        """The sentence the run wrote about how k was chosen.

        Manifests of format version 1 held a shorter rule; theirs is worded from the
        recorded ``select_by`` and the k tried, as the run would word it now.
        """
        written = self.manifest.get("selection_rule")
        if self.manifest.get("format_version", 1) >= 2 and isinstance(written, str):
            return written
        return selection_rule(self.select_by, self.chosen_k, list(self.metrics["k"]))


def load_run(run_dir: str | os.PathLike[str]) -> RunData:
    """Read and validate the small files of the run directory ``run_dir``.

    Parameters
    ----------
    run_dir : str or path-like
        A local directory or a ``file:`` URI (the report does not read remote file systems).

    Raises
    ------
    InputDataError
        The directory does not exist, a required file or column is missing, or a file
        cannot be parsed; the message names the path.
    """
    path = local_run_dir(run_dir)
    if not path.is_dir():
        raise InputDataError(f"run directory {path} does not exist or is not a directory")
    missing = [name for name in SMALL_FILES if not (path / name).is_file()]
    if missing:
        raise InputDataError(
            f"run directory {path} is incomplete: missing {', '.join(missing)} "
            "(is the run finished?)"
        )
    manifest = _read_manifest(path / MANIFEST)
    metrics = _read_csv(path / METRICS_CSV, METRICS_COLUMNS, required=("k",))
    metrics = metrics.dropna(subset=["k"]).sort_values("k", ignore_index=True)
    metrics["k"] = metrics["k"].astype(int)
    segments = _read_csv(path / SEGMENTS_CSV, SEGMENTS_COLUMNS, required=(SEGMENT_COL, "size"))
    profiles = _read_csv(path / PROFILES_CSV, PROFILE_COLUMNS,
                         required=(SEGMENT_COL, "feature", "kind", "mean", "overall_mean", "z"))
    profiles = profiles.dropna(subset=[SEGMENT_COL]).astype({SEGMENT_COL: int})
    profiles["feature"] = profiles["feature"].astype(str)
    profiles["kind"] = profiles["kind"].astype(str)
    min_size = _min_segment_size(manifest)
    segments = segments.dropna(subset=[SEGMENT_COL, "size"]).astype({SEGMENT_COL: int})
    hidden = hidden_segments(segments, min_size)
    profiles = withhold(profiles, profiles[SEGMENT_COL].isin(hidden),
                        [c for c in PROFILE_STATISTICS if not c.startswith("overall_")])
    scatter = _without(_read_optional(path / SCATTER_CSV, SCATTER_COLUMNS), hidden)
    centroids = _without(_read_optional(path / CENTROIDS_CSV, CENTROIDS_COLUMNS), hidden)
    return RunData(path=path, manifest=manifest, metrics=metrics,
                   segments=_complete_segments(segments, profiles, hidden, min_size),
                   profiles=profiles, scatter=scatter, centroids=centroids,
                   migration=_read_migration(path / MIGRATION_CSV, min_size),
                   min_segment_size=min_size,
                   attributes=_read_attributes(path / ATTRIBUTES_CSV, hidden))


def _min_segment_size(manifest: dict[str, Any]) -> int:
    """The run's threshold: its ``privacy`` entry, else its config, else the default."""
    config = manifest.get("config")
    for source in (manifest.get("privacy"), config.get("output") if isinstance(config, dict)
                   else None):
        value = source.get("min_segment_size") if isinstance(source, dict) else None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return DEFAULT_MIN_SEGMENT_SIZE


def _read_attributes(path: Path, hidden: set[int]) -> pd.DataFrame | None:
    """``attributes.csv`` if the run wrote one, the ``hidden`` segments' statistics blank."""
    if not path.is_file():
        return None
    frame = _read_csv(path, ATTRIBUTE_COLUMNS, required=(SEGMENT_COL, "attribute", "kind"))
    if "difference_p_value" not in pd.read_csv(path, nrows=0).columns:
        frame = _with_column_tests(frame)
    frame = frame.dropna(subset=[SEGMENT_COL]).astype({SEGMENT_COL: int})
    frame["level"] = frame["level"].fillna("").astype(str)
    frame["flagged"] = frame["flagged"].astype(str).str.lower() == "true"
    frame[SUPPRESSED_COL] = marked(frame) | frame[SEGMENT_COL].isin(hidden)
    return withhold(frame.drop(columns=SUPPRESSED_COL), frame[SUPPRESSED_COL],
                    [c for c in ATTRIBUTE_STATISTICS if c != "flagged"])


def _with_column_tests(frame: pd.DataFrame) -> pd.DataFrame:
    """A first-version ``attributes.csv`` in today's columns: its numeric ``p_value`` was
    the segment's own (now ``difference_p_value``), its columns had no test name, and
    numeric columns had no test of their own (left blank)."""
    numeric = frame["kind"] == "numeric"
    frame["difference_p_value"] = frame["p_value"].where(numeric)
    frame["p_value"] = frame["p_value"].mask(numeric)
    frame["test"] = frame["test"].astype(object).mask(~numeric, "chi-square")
    return frame


def _without(frame: pd.DataFrame | None, hidden: set[int]) -> pd.DataFrame | None:
    """``frame`` without the rows of withheld segments (None stays None)."""
    return None if frame is None else frame[~frame[SEGMENT_COL].isin(hidden)]


def _read_migration(path: Path, min_size: int) -> pd.DataFrame | None:
    """``migration.csv`` with ``count`` empty in suppressed cells (cells below ``min_size``
    are withheld here for runs written before the job withheld them)."""
    if not path.is_file():
        return None
    frame = _read_csv(path, MIGRATION_COLUMNS, required=(PREVIOUS_SEGMENT_COL, SEGMENT_COL))
    frame = frame.dropna(subset=[PREVIOUS_SEGMENT_COL, SEGMENT_COL]).astype(
        {PREVIOUS_SEGMENT_COL: int, SEGMENT_COL: int})
    if SUPPRESSED_COL in frame.columns:
        return withhold(frame, marked(frame), ["count"])
    return suppress_small_cells(frame, min_size)


def local_run_dir(run_dir: str | os.PathLike[str]) -> Path:
    """``run_dir`` as a local path; ``file:`` URIs accepted, other schemes refused."""
    text = os.fspath(run_dir)
    local = local_path(text)
    if local is None:
        raise InputDataError(
            f"run directory {text}: the report reads local directories only; "
            f"copy the run's small files to a local directory first"
        )
    return Path(unquote(local) if text.startswith("file:") else local)


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        data = parse_json(path.read_bytes(), path)
    except OSError as exc:
        raise InputDataError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise InputDataError(f"{path} must hold a JSON object, not {type(data).__name__}")
    return data


def _read_csv(path: Path, columns: Sequence[str], *, required: Sequence[str]) -> pd.DataFrame:
    """A CSV of the layout's ``columns``: the ``required`` ones checked, the others added
    as NaN where missing, but for ``suppressed``, whose absence tells a run written before
    the privacy layout (:mod:`segmentation.outputs.privacy` then withholds by size)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputDataError(f"cannot read {path}: {exc}") from exc
    frame = parse_csv(data, path, required)
    if frame.empty:
        raise InputDataError(f"{path} has no rows")
    for column in columns:
        if column not in frame.columns and column != SUPPRESSED_COL:
            frame[column] = np.nan
        if column in frame.columns and column not in _TEXT_COLUMNS:
            frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return frame


def _read_optional(path: Path, columns: Sequence[str]) -> pd.DataFrame | None:
    """The layout's ``columns`` of a file a run may not have written (None then), without
    ``suppressed`` and without rows of a withheld point or centroid."""
    if not path.is_file():
        log.debug("%s not written by the run; skipped", path.name)
        return None
    required = [c for c in columns if c != SUPPRESSED_COL]
    frame = _read_csv(path, required, required=required).dropna(subset=required)
    return frame.astype({c: int for c in required if "pc" not in c})[required]


def _complete_segments(segments: pd.DataFrame, profiles: pd.DataFrame, hidden: set[int],
                       min_size: int) -> pd.DataFrame:
    """Sorted segments with shares and descriptions filled in where the job left gaps, and
    withheld segments marked and described as withheld."""
    segments = segments.sort_values(SEGMENT_COL, ignore_index=True)
    total = segments["size"].sum()
    if total > 0:
        segments["share"] = segments["share"].fillna(segments["size"] / total)
    described = describe_segments(profiles[~profiles[SUPPRESSED_COL]])
    text = segments["description"].astype("string").str.strip()
    gaps = text.isna() | (text == "")
    segments["description"] = text.where(~gaps, segments[SEGMENT_COL].map(described)).fillna("")
    segments[SUPPRESSED_COL] = segments[SEGMENT_COL].isin(hidden)
    segments.loc[segments[SUPPRESSED_COL], "description"] = withheld_text(min_size)
    segments.loc[segments[SUPPRESSED_COL], STABILITY_COL] = np.nan
    return segments
