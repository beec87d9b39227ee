"""Atomic outputs: a finished run replaces the previous one in one step; a failed or
killed run changes nothing that was there before."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from segmentation.core.atomic import atomic_output


def _run(spark, path: Path, text: str, mode: str = "overwrite") -> None:
    with atomic_output(str(path), mode, spark=spark) as out:
        out.write_text("segments.csv", text)


def test_swap_replaces_previous_run_and_cleans_up(spark, tmp_path):
    target = tmp_path / "out"
    _run(spark, target, "first")
    _run(spark, target, "second")
    assert (target / "segments.csv").read_text() == "second"
    assert (target / "_SUCCESS").exists()
    assert target.is_symlink()
    hidden = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("."))
    assert len(hidden) == 1 and hidden[0].startswith(".out.run-")  # the one current run


def test_failure_leaves_previous_run_untouched(spark, tmp_path):
    target = tmp_path / "out"
    _run(spark, target, "first")
    with pytest.raises(RuntimeError), atomic_output(str(target), "overwrite", spark=spark) as out:
        out.write_text("segments.csv", "half")
        raise RuntimeError("job died")
    assert (target / "segments.csv").read_text() == "first"
    assert not [p for p in tmp_path.iterdir() if ".staging-" in p.name]


def test_real_directory_from_before_is_replaced(spark, tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")
    _run(spark, target, "new")
    assert (target / "segments.csv").read_text() == "new"
    assert not (target / "old.txt").exists()


def test_user_symlink_target_is_kept(spark, tmp_path):
    elsewhere = tmp_path / "mounted"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("keep")
    os.symlink(elsewhere, tmp_path / "out")
    _run(spark, tmp_path / "out", "new")
    assert (elsewhere / "keep.txt").read_text() == "keep"
    assert (tmp_path / "out" / "segments.csv").read_text() == "new"


def test_interrupted_swap_is_restored_and_stale_staging_removed(spark, tmp_path):
    target = tmp_path / "out"
    moved_aside = tmp_path / ".out.previous-abc"
    moved_aside.mkdir()
    (moved_aside / "segments.csv").write_text("previous")
    (tmp_path / ".out.staging-def").mkdir()
    with pytest.raises(RuntimeError), atomic_output(str(target), "overwrite", spark=spark):
        assert (target / "segments.csv").read_text() == "previous"
        raise RuntimeError("stop before writing")
    assert (target / "segments.csv").read_text() == "previous"
    assert not (tmp_path / ".out.staging-def").exists()
