"""Models across lines, run last with .venv (the newest line): every model another line
saved (test_line.py's run of the default config) loads and scores here, giving the
reference labels."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.matrix import assert_same_labels, matrix_dir, segment_here

MATRIX = matrix_dir()
pytestmark = pytest.mark.matrix
RUNS = sorted((MATRIX / "lines").glob("*/run"))


@pytest.mark.parametrize("run", RUNS, ids=[run.parent.name for run in RUNS])
def test_a_model_saved_on_another_line_scores_on_the_newest(spark, run: Path,
                                                             tmp_path: Path) -> None:
    segment_here("score", "--model", str(run), "--input", str(MATRIX / "customers"),
                 "--output", str(tmp_path / "scored"))
    assert_same_labels(tmp_path / "scored", MATRIX / "reference")
