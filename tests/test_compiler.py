"""A driver for a job on a few MB of local files compiles with C1 alone; any other keeps
both compilers (segmentation.core.compiler)."""

from __future__ import annotations

from pathlib import Path

from segmentation.core.compiler import (
    CLIENT_COMPILER_ONLY,
    SMALL_INPUT_BYTES,
    local_bytes,
    small_input,
)
from segmentation.core.session import driver_java_options


def sized(path: Path, size: int) -> Path:
    """A file of ``size`` bytes (sparse: nothing written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as file:
        file.truncate(size)
    return path


def test_local_files_up_to_the_limit_are_small(tmp_path: Path) -> None:
    csv = sized(tmp_path / "mall.csv", 4_000)
    table = tmp_path / "table"
    sized(table / "part-0.parquet", SMALL_INPUT_BYTES // 2)
    sized(table / "sub" / "part-1.parquet", SMALL_INPUT_BYTES // 2 - 4_000)
    assert local_bytes(str(table)) == SMALL_INPUT_BYTES - 4_000
    assert small_input([str(csv)]) and small_input([f"file://{csv}"])
    assert small_input([str(table)])
    assert small_input([str(table), str(csv)])  # exactly the limit


def test_anything_else_is_not(tmp_path: Path) -> None:
    big = sized(tmp_path / "big" / "part-0.parquet", SMALL_INPUT_BYTES + 1).parent
    csv = sized(tmp_path / "mall.csv", 4_000)
    assert not small_input([str(big)])
    assert not small_input([str(big.parent)])  # the whole tree counts
    assert not small_input([None])  # a catalog table or a database
    assert not small_input([str(csv), None])
    assert not small_input(["s3a://bucket/customers", str(csv)])
    assert not small_input([str(tmp_path / "missing")])
    assert not small_input([])


def test_the_driver_options_carry_the_choice() -> None:
    assert CLIENT_COMPILER_ONLY in driver_java_options(True).split()
    assert CLIENT_COMPILER_ONLY not in driver_java_options(False)
    assert driver_java_options(False) == driver_java_options()
