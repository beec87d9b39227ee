"""One exit code per thing the user must do, the same everywhere: the README's table names
every code this package returns, and a finished run whose small files are damaged is the
input's fault (3), not a bug (70).

The other codes have their cases where their components run: a config key (test_errors),
an output that exists (test_errors), Spark's failures (test_internal_errors, 5), every
service that cannot be reached or refuses the credentials (6: test_tracking, test_database,
tests/connect, test_s3), a bug (test_internal_errors, 70) and an interrupt (test_kill, 130).
"""

from __future__ import annotations

import io
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from support.cli import ROOT

from segmentation import cli
from segmentation.core import errors

FIXTURE = ROOT / "tests" / "fixtures" / "run-v1"


def readme_codes() -> dict[int, str]:
    """The README's table of exit codes: code -> meaning."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("| exit code | meaning |", 1)[1].split("\n\n", 1)[0]
    return {int(m.group(1)): m.group(2) for m in re.finditer(r"^\| (\d+) \| (.+?) \|", table,
                                                               re.MULTILINE)}


def package_codes() -> set[int]:
    """Every exit code the package defines: its error classes' and its constants'."""
    classes, seen = [errors.SegmentationError], set()
    while classes:
        cls = classes.pop()
        seen.add(cls.exit_code)
        classes.extend(cls.__subclasses__())
    constants = {value for name, value in vars(errors).items() if name.endswith("EXIT_CODE")}
    return (seen | constants) - {errors.SegmentationError.exit_code}


def test_the_readme_table_names_every_exit_code_and_only_those() -> None:
    assert set(readme_codes()) == package_codes() == {2, 3, 4, 5, 6, 70, 130}


def test_a_service_that_cannot_be_reached_is_6_wherever_it_is_named() -> None:
    assert errors.SparkUnavailableError.exit_code == errors.ServiceError.exit_code == 6
    for service in ("Spark Connect", "database", "MLflow", "object store"):
        assert service in readme_codes()[6], service


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 3]


def without_thresholds(data: bytes) -> bytes:
    """A run of the first format (no private/thresholds.csv) whose segments.csv lost the
    drift thresholds scoring reads from it."""
    return pd.read_csv(io.BytesIO(data)).drop(columns="distance_p99").to_csv(
        index=False).encode()


@pytest.mark.parametrize(("damage", "change", "named"), [
    ("manifest.json", truncated, "is not valid JSON"),
    ("segments.csv", lambda data: b"customer,value\n1,2\n", "lacks column(s) segment"),
    ("segments.csv", without_thresholds, "lacks column(s) distance_p99"),
], ids=["truncated manifest", "other segments file", "segments without thresholds"])
def test_a_damaged_run_is_an_input_error_naming_the_file(
    spark, make_customers, tmp_path: Path, capsys, damage: str,
    change: Callable[[bytes], bytes], named: str
) -> None:
    """A model's run cut short by a copy (a truncated manifest), a segments file replaced
    by something else or edited: exit 3 and one line naming the file, not a bug (70)."""
    run = shutil.copytree(FIXTURE, tmp_path / "run")
    assert not (run / "private").exists()
    (run / damage).write_bytes(change((run / damage).read_bytes()))
    out = tmp_path / "scored"
    code = cli.main(["score", "--model", str(run), "--input", str(make_customers(50, seed=2)),
                     "--output", str(out)])
    errors_seen = [line for line in capsys.readouterr().err.splitlines()
                   if line.startswith("error:")]
    assert code == 3, errors_seen
    assert len(errors_seen) == 1 and str(run / damage) in errors_seen[0], errors_seen
    assert named in errors_seen[0], errors_seen
    assert not out.exists()
