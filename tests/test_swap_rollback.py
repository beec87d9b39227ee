"""The swap on a file system without symbolic links (HDFS, object stores) when its second
rename fails: the previous outputs are put back, byte for byte, and the failure is one line
(the README promises the previous run survives any failure).

The file system is pyarrow's, on a local folder named as HDFS would be (so the job takes
the rename-aside swap), with renames of the staging directory made to fail: at once, or
after copying part of it (an object store's rename is a copy).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.fs as pafs
import pytest

from segmentation.core.atomic import ClaimedOutput
from segmentation.core.errors import OutputError
from segmentation.core.fs import ArrowFS
from segmentation.core.lock import OutputLock


class FailingStagingRename(ArrowFS):
    """Renames out of a staging directory fail, after copying its first file when
    ``partial``."""

    def __init__(self, partial: bool) -> None:
        super().__init__(pafs.LocalFileSystem())
        self.partial = partial

    def rename(self, source: str, target: str) -> None:
        if ".staging-" not in source:
            return super().rename(source, target)
        if self.partial:
            self.mkdirs(target)
            first = sorted(self.list_names(source))[0]
            self.write_bytes(f"{target}/{first}", self.read_bytes(f"{source}/{first}"))
        raise OSError("connection reset during the rename")


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.mark.parametrize("partial", [False, True], ids=["rename fails", "copy stops half-way"])
@pytest.mark.parametrize("had_outputs", [True, False], ids=["previous run", "first run"])
def test_a_failed_second_rename_puts_the_previous_outputs_back(
        tmp_path: Path, partial: bool, had_outputs: bool) -> None:
    out = tmp_path / "out"
    if had_outputs:
        out.mkdir()
        (out / "segments.csv").write_text("segment,size\n0,10\n")
        (out / "_SUCCESS").write_text("")
    before = tree(out) if had_outputs else None
    fs, path = FailingStagingRename(partial), f"hdfs://namenode{out}"
    with OutputLock(fs, path) as lock, pytest.raises(OutputError) as failed:
        with ClaimedOutput(fs, path, "overwrite", "output.path", lock).staging() as staged:
            staged.write_text("a-new-file.csv", "new\n")
            staged.write_text("segments.csv", "segment,size\n0,99\n")
    message = str(failed.value)
    assert "\n" not in message and f"output.path {path}" in message
    assert "connection reset during the rename" in message
    if had_outputs:
        assert "the previous outputs are back in place" in message
        assert tree(out) == before
    else:
        assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == (["out"] if had_outputs else [])
