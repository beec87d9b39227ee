"""A finished segmentation run read back: what scoring and relabelling need of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
from pyspark.ml import PipelineModel
from pyspark.sql import SparkSession

from segmentation.core.configfile import build_dataclass
from segmentation.core.errors import ConfigError, InputDataError
from segmentation.core.fs import FileSystem, absolute, file_system
from segmentation.core.sparkversion import check_model_line
from segmentation.data.config import FeaturesConfig
from segmentation.model.columns import SEGMENT_COL
from segmentation.outputs.layout import (
    LABELS,
    MANIFEST,
    MODEL,
    RUN_FILES,
    SEGMENTS_CSV,
    THRESHOLD_COLUMNS,
    THRESHOLDS_CSV,
    RunManifest,
    parse_csv,
    parse_json,
    read_manifest,
)


@dataclass(frozen=True)
class FinishedRun:
    """The parts of a finished run's directory that scoring and relabelling read."""

    path: str
    manifest: RunManifest
    #: segments.csv: ``segment, size, share, mean_distance, distance_p99, description``
    #: (and ``suppressed`` from layout version 3: withheld segments have blank statistics)
    segments: pd.DataFrame
    model: PipelineModel
    #: ``segment, distance_p99`` of every segment: ``private/thresholds.csv``, or for runs
    #: written before it existed, the columns of ``segments.csv``.
    thresholds: pd.DataFrame

    @property
    def labels_path(self) -> str:
        return f"{self.path}/{LABELS}"

    @property
    def features(self) -> FeaturesConfig:
        """The run's resolved ``features`` section."""
        try:
            return build_dataclass(FeaturesConfig, self.manifest.config["features"],
                                   "features.")
        except ConfigError as exc:
            raise InputDataError(f"{self.path}/{MANIFEST}: {exc}") from exc

    @property
    def id_column(self) -> str:
        return self.manifest.id_column


def load_finished_run(spark: SparkSession, path: str, *, key: str) -> FinishedRun:
    """Read the run directory ``path`` (given as ``key``); fail unless the run finished."""
    path = path.rstrip("/")
    fs = file_system(path, spark)
    if not fs.is_dir(path):
        raise InputDataError(f"{key} {path} does not exist or is not a directory")
    missing = [name for name in RUN_FILES if not fs.exists(f"{path}/{name}")]
    if missing:
        raise InputDataError(
            f"{key} {path} is not a finished segmentation run: missing {', '.join(missing)} "
            "(expected the output.path of a completed `segment run`)"
        )
    manifest = f"{path}/{MANIFEST}"
    return read_run(fs, path, parse_json(fs.read_bytes(manifest), manifest))


def read_run(fs: FileSystem, path: str, manifest: Any) -> FinishedRun:
    """The run whose files are complete at ``path`` on ``fs`` and whose manifest is
    ``manifest`` (parsed JSON): a finished run, or one still in its staging directory."""
    checked = read_manifest(manifest, path)
    private = f"{path}/{THRESHOLDS_CSV}"
    # runs before the privacy layout (format 3) keep the thresholds in segments.csv
    separate = fs.exists(private)
    segments = parse_csv(fs.read_bytes(f"{path}/{SEGMENTS_CSV}"), f"{path}/{SEGMENTS_CSV}",
                         [SEGMENT_COL, "size"] if separate else [*THRESHOLD_COLUMNS, "size"])
    thresholds = (parse_csv(fs.read_bytes(private), private, THRESHOLD_COLUMNS)
                  if separate else segments)[THRESHOLD_COLUMNS]
    check_model_line(fs, f"{path}/{MODEL}", key=path)
    model = PipelineModel.load(absolute(f"{path}/{MODEL}"))
    return FinishedRun(path, checked, segments, model, thresholds)
