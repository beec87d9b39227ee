"""The run directory, defined once: its file names, which files a finished run has, the
columns of its CSV files, and its manifest (with a ``format_version``, read back with
validation).

The segmentation job writes this layout, scoring writes a smaller one like it, and
relabelling, scoring and the report read it back. Pure Python (no Spark): the report reads
a run's small files anywhere pandas runs.

Manifest versions: 1 is what runs wrote before the field existed (no ``format_version``
key); 2 adds ``format_version`` and writes ``selection_rule`` as the whole sentence the
report shows; 3 adds the privacy layout: a ``suppressed`` column in ``segments.csv``,
``profiles.csv``, ``centroids_2d.csv`` and ``migration.csv``, the manifest's ``privacy``
entry, and ``private/thresholds.csv`` (what scoring needs of every segment, which stays with
the data); 4 adds the bootstrap stability: ``stability``, ``stability_q25`` and
``stability_q75`` in ``metrics.csv``, ``stability`` in ``segments.csv``, and the manifest's
``warnings`` (a list of sentences) and ``stability`` entries. Readers accept every version
up to :data:`FORMAT_VERSION`; the report reads older runs without the stability.

Which files may leave the cluster: :data:`EXPORTABLE` (aggregates with small segments
withheld) and :data:`STAYS_WITH_DATA` (per-customer labels, the model with every centre,
the private thresholds: as sensitive as the customer data).
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from segmentation.core.atomic import SUCCESS_MARKER
from segmentation.core.errors import InputDataError
from segmentation.model.columns import DISTANCE_COL, SEGMENT_COL
from segmentation.model.selection import METRIC_NAMES, STABILITY_COLUMNS
from segmentation.outputs.config import OutputConfig

FORMAT_VERSION = 4
#: ``output.min_segment_size`` when a run did not record one.
DEFAULT_MIN_SEGMENT_SIZE: int = OutputConfig.min_segment_size

MANIFEST = "manifest.json"
LABELS = "labels"
MODEL = "model"
PROFILES_TABLE = "profiles"
METRICS_CSV = "metrics.csv"
SEGMENTS_CSV = "segments.csv"
PROFILES_CSV = "profiles.csv"
SCATTER_CSV = "scatter.csv"
CENTROIDS_CSV = "centroids_2d.csv"
MIGRATION_CSV = "migration.csv"
ATTRIBUTES_CSV = "attributes.csv"
REPORT_DIR = "report"
PRIVATE_DIR = "private"
#: What scoring needs of every segment, small ones included (not exported).
THRESHOLDS_CSV = f"{PRIVATE_DIR}/thresholds.csv"

#: Parts of a run that may be copied out of the cluster (the report reads only these).
EXPORTABLE = (SUCCESS_MARKER, MANIFEST, METRICS_CSV, SEGMENTS_CSV, PROFILES_CSV, PROFILES_TABLE,
              ATTRIBUTES_CSV,
              SCATTER_CSV, CENTROIDS_CSV, MIGRATION_CSV, REPORT_DIR)
#: Parts of a run that stay where the customer data is: they hold per-customer values or
#: the centres and thresholds of segments whose statistics are withheld.
STAYS_WITH_DATA = (LABELS, MODEL, PRIVATE_DIR)

#: Boolean column marking a row whose statistics are withheld (segment below
#: ``output.min_segment_size``, or a migration cell below it).
SUPPRESSED_COL = "suppressed"

#: Every finished segmentation run has these (``_SUCCESS`` is written last).
RUN_FILES = (SUCCESS_MARKER, MANIFEST, SEGMENTS_CSV, MODEL, LABELS, METRICS_CSV, PROFILES_CSV)
#: The small files of a run, which the report reads (a local copy of them is enough).
SMALL_FILES = (SUCCESS_MARKER, MANIFEST, SEGMENTS_CSV, METRICS_CSV, PROFILES_CSV)

#: ``metrics.csv``: one row per k tried (the stability columns blank with stability off).
METRICS_COLUMNS = ["k", *METRIC_NAMES, *STABILITY_COLUMNS, "iterations", "seconds",
                   "fitted_rows"]
#: ``segments.csv``: a segment's bootstrap Jaccard (Hennig), blank when withheld.
STABILITY_COL = "stability"
#: ``segments.csv`` of a segmentation run.
SEGMENTS_COLUMNS = [SEGMENT_COL, "size", "share", "mean_distance", "distance_p99",
                    STABILITY_COL, "description", SUPPRESSED_COL]
#: ``segments.csv`` of a scoring run.
SCORED_SEGMENTS_COLUMNS = [SEGMENT_COL, "size", "share", "drifted", "drift_share",
                           "distance_p99", "description", SUPPRESSED_COL]
#: ``private/thresholds.csv``: every segment's drift threshold (scoring reads it).
THRESHOLD_COLUMNS = [SEGMENT_COL, "distance_p99"]
#: ``profiles.csv`` (and the ``profiles/`` Parquet table): one row per segment and feature.
PROFILE_STATISTICS = ["count", "mean", "std", "min", "q25", "median", "q75", "max",
                      "overall_mean", "overall_std", "z"]
#: Every statistic is blank in the rows of a segment below ``output.min_segment_size``
#: (``suppressed`` true); ``overall_*`` and ``z`` are over the customers of the shown segments.
PROFILE_COLUMNS = [SEGMENT_COL, "feature", "kind", *PROFILE_STATISTICS, SUPPRESSED_COL]
SCATTER_COLUMNS = ["pc1", "pc2", SEGMENT_COL]
#: ``centroids_2d.csv``: pc1/pc2 blank for a suppressed segment.
CENTROIDS_COLUMNS = [SEGMENT_COL, "pc1", "pc2", SUPPRESSED_COL]
PREVIOUS_SEGMENT_COL = "previous_segment"
#: ``migration.csv``: count blank in a suppressed cell.
MIGRATION_COLUMNS = [PREVIOUS_SEGMENT_COL, SEGMENT_COL, "count", SUPPRESSED_COL]
#: ``attributes.csv`` (with ``features.profile_columns``): per segment and profile column
#: (``level`` for text and boolean columns), blank where ``suppressed``. Numeric: count,
#: mean, std, quartiles, ``overall`` (the shown segments' mean), the difference from the
#: other shown segments with its 95 % interval and Welch p-value. Levels: count, share,
#: ``overall`` share, the adjusted residual, ``flagged`` beyond +-2, and the chi-square
#: test of the column (``statistic``, ``dof``, ``p_value``).
ATTRIBUTE_STATISTICS = ["count", "share", "mean", "std", "q25", "median", "q75", "overall",
                        "difference", "difference_low", "difference_high",
                        "difference_p_value", "residual", "flagged", "test", "statistic",
                        "dof", "dof2", "p_value"]
ATTRIBUTE_COLUMNS = [SEGMENT_COL, "attribute", "level", "kind", *ATTRIBUTE_STATISTICS,
                     SUPPRESSED_COL]
#: ``labels/``: the id column (named by the run's config), then these.
LABEL_COLUMNS = [SEGMENT_COL, DISTANCE_COL]


@dataclass(frozen=True)
class RunManifest:
    """A segmentation run's ``manifest.json``, checked to hold what other jobs rely on."""

    data: dict[str, Any]
    format_version: int

    @property
    def chosen_k(self) -> int:
        return int(self.data["chosen_k"])

    @property
    def config(self) -> dict[str, Any]:
        """The run's resolved configuration, as written."""
        return dict(self.data["config"])

    @property
    def id_column(self) -> str:
        return str(self.data["config"]["input"]["id_column"])

    @property
    def min_segment_size(self) -> int:
        """The run's privacy threshold (``output.min_segment_size``; 50 if not recorded)."""
        output = self.data["config"].get("output")
        value = output.get("min_segment_size") if isinstance(output, Mapping) else None
        return int(value) if isinstance(value, int) else DEFAULT_MIN_SEGMENT_SIZE


def read_manifest(data: Any, where: str) -> RunManifest:
    """Validate the parsed ``manifest.json`` of the run at ``where``.

    A manifest without ``format_version`` is version 1. A newer version, a features run's
    manifest or one that lacks what scoring and relabelling need fail with one line.
    """
    source = f"{where}/{MANIFEST}"
    if not isinstance(data, Mapping):
        raise InputDataError(f"{source} must hold a JSON object, not {type(data).__name__}")
    version = data.get("format_version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InputDataError(f"{source} has format_version {version!r}, not a positive integer")
    if version > FORMAT_VERSION:
        raise InputDataError(
            f"{source} has format_version {version}, newer than this version of segmentation "
            f"reads ({FORMAT_VERSION}): upgrade segmentation to use this run"
        )
    if data.get("job") not in (None, "segment"):
        raise InputDataError(
            f"{source} is the manifest of a {data['job']} run, not of a segmentation run "
            "(expected the output.path of a completed `segment run`)"
        )
    _require(data, source, "chosen_k", int)
    config = _require(data, source, "config", Mapping)
    source_cfg = _require(config, source, "input", Mapping, prefix="config.")
    _require(source_cfg, source, "id_column", str, prefix="config.input.")
    features = _require(config, source, "features", Mapping, prefix="config.")
    _require(features, source, "numeric", list, prefix="config.features.")
    return RunManifest(dict(data), version)


def _require(data: Mapping[str, Any], source: str, key: str, kind: type, *, prefix: str = ""
             ) -> Any:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, kind):
        what = "missing" if value is None else f"a {type(value).__name__}"
        raise InputDataError(
            f"{source} is not a segmentation run's manifest: {prefix}{key} is {what}"
        )
    return value


def parse_json(data: bytes, where: object) -> Any:
    """The value of a run's JSON file ``where`` (its bytes ``data``): a file cut short or
    edited by hand is the input's fault, told in one line naming it."""
    try:
        return json.loads(data.decode("utf-8"))
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise InputDataError(f"{where} is not valid JSON: {exc}") from exc


def parse_csv(data: bytes, where: object, required: Sequence[str]) -> pd.DataFrame:
    """The rows of a run's CSV file ``where`` (its bytes ``data``), its ``required``
    columns checked: a file cut short or edited into something else is the input's fault,
    told in one line naming it."""
    try:
        frame = pd.read_csv(io.BytesIO(data))
    except ValueError as exc:  # pandas' parser errors are ValueErrors
        raise InputDataError(f"cannot read {where}: {exc}") from exc
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputDataError(
            f"{where} lacks column(s) {', '.join(missing)} "
            f"(present: {', '.join(map(str, frame.columns)) or 'none'})"
        )
    return frame
