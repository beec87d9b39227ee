"""The Spark-line matrix (scripts/matrix.sh, tests/matrix): one shared data set and the newest
line's runs (test_reference.py), each other line's end-to-end subset in its own environment
(test_line.py), then the newest line scoring every line's saved model (test_across_lines.py).

Everything lives in ``$SEGMENT_MATRIX_DIR``; without it these modules skip (the primary
suite collects them but the matrix runs them). The commands run in this process through
:func:`segmentation.cli.main`, so they share the test session's JVM and are measured by
coverage; Spark Connect clients, spark-submit and the other line's client are processes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from segmentation import cli
from segmentation.core.sparkversion import client_version, spark_line
from segmentation.outputs import layout
from support.cluster_runs import SWEEP

MATRIX_VARIABLE = "SEGMENT_MATRIX_DIR"
#: The shared inputs: `segment generate` / `generate-transactions` sizes and seed.
CUSTOMERS, TRANSACTION_CUSTOMERS, SEED = 3000, 300, 7
#: Run files compared across lines with rtol 1e-9 (seconds are wall time); segments.csv
#: must be byte-identical and labels/ row-identical.
CLOSE_FILES = [layout.METRICS_CSV, layout.PROFILES_CSV, layout.SCATTER_CSV,
               layout.CENTROIDS_CSV, layout.MIGRATION_CSV]
#: The matrix's small sweep (retrained from the default run, locally and over Spark
#: Connect): the cluster tests' sweep at k = 2..4, one start per k, no stability resamples.
SMALL = [*SWEEP, "--set", "model.k_max=4", "--set", "model.restarts=1",
         "--set", "evaluation.stability_resamples=0"]


def matrix_dir() -> Path:
    """``$SEGMENT_MATRIX_DIR``; the calling module is skipped without it."""
    value = os.environ.get(MATRIX_VARIABLE)
    if not value:
        pytest.skip(f"the Spark-line matrix runs with scripts/matrix.sh (sets {MATRIX_VARIABLE})",
                    allow_module_level=True)
    return Path(value)


def line() -> str:
    """This environment's Spark line, e.g. ``"3.5"``."""
    return "{}.{}".format(*spark_line(client_version()))


def segment_here(*args: str) -> None:
    """``segment ARGS`` in this process (the test session's Spark); it must succeed."""
    assert cli.main(list(args)) == 0, f"segment {' '.join(args)} failed (see the log above)"


def labels(run: Path) -> pd.DataFrame:
    return pd.read_parquet(run / layout.LABELS).sort_values("customer_id", ignore_index=True)


def chosen_k(run: Path) -> int:
    return json.loads((run / layout.MANIFEST).read_text())["chosen_k"]


def assert_same_labels(run: Path, reference: Path) -> None:
    """Identical labels (every row, sorted by id)."""
    pd.testing.assert_frame_equal(labels(run), labels(reference), check_exact=True)


def assert_same_run(run: Path, reference: Path) -> None:
    """One answer: identical labels, segments.csv and chosen k; the other small files to
    1e-9 relative."""
    assert_same_labels(run, reference)
    assert chosen_k(run) == chosen_k(reference)
    segments = layout.SEGMENTS_CSV
    assert (run / segments).read_bytes() == (reference / segments).read_bytes()
    for name in CLOSE_FILES:
        assert (run / name).is_file() == (reference / name).is_file(), name
        if not (reference / name).is_file():
            continue
        got, want = pd.read_csv(run / name), pd.read_csv(reference / name)
        got, want = (f.drop(columns="seconds", errors="ignore") for f in (got, want))
        pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-9, atol=0,
                                      obj=name)
