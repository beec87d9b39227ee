"""Reading inputs and writing a run's outputs atomically, on any Hadoop file system.

Outputs are written into a staging directory next to the destination
(``.<name>.staging-<run id>``) and swapped into place only when every file and
``_SUCCESS`` are there. On a local disk the destination is a symbolic link to the
complete run (``.<name>.run-<run id>``), replaced atomically; a killed run leaves the
previous outputs byte for byte where they were. On other file systems (HDFS, S3) the old
destination is renamed aside and the staging directory renamed into place; a run that dies
between the two renames leaves the previous outputs in ``.<name>.previous-<run id>``,
from which the next run restores them. One run per output path at a time.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pandas as pd
from py4j.protocol import Py4JJavaError
from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession

from segmentation.errors import InputDataError, OutputError

log = logging.getLogger(__name__)

SUCCESS_MARKER = "_SUCCESS"
_STAGING = ".staging-"
_PREVIOUS = ".previous-"
_RUN = ".run-"
_LINK = ".link-"


class HadoopFS:
    """The few Hadoop ``FileSystem`` operations this project needs, for any path scheme."""

    def __init__(self, spark: SparkSession, path: str) -> None:
        jvm = spark.sparkContext._jvm
        assert jvm is not None
        self._jvm = jvm
        self._path_cls = jvm.org.apache.hadoop.fs.Path
        conf = spark.sparkContext._jsc.hadoopConfiguration()
        self._fs = self._path_cls(path).getFileSystem(conf)

    def _p(self, path: str) -> Any:
        return self._path_cls(path)

    def exists(self, path: str) -> bool:
        return bool(self._fs.exists(self._p(path)))

    def is_dir(self, path: str) -> bool:
        p = self._p(path)
        return bool(self._fs.exists(p) and self._fs.getFileStatus(p).isDirectory())

    def mkdirs(self, path: str) -> None:
        self._fs.mkdirs(self._p(path))

    def delete(self, path: str) -> None:
        self._fs.delete(self._p(path), True)

    def rename(self, source: str, target: str) -> None:
        if not self._fs.rename(self._p(source), self._p(target)):
            raise OutputError(f"could not rename {source} to {target}")

    def list_names(self, path: str) -> list[str]:
        if not self.exists(path):
            return []
        return [status.getPath().getName() for status in self._fs.listStatus(self._p(path))]

    def data_files(self, path: str) -> list[str]:
        """Every file under ``path`` (recursively) except Spark's ``_*`` and ``.*`` files."""
        files, listing = [], self._fs.listFiles(self._p(path), True)
        while listing.hasNext():
            file = listing.next().getPath()
            if not any(part.startswith(("_", ".")) for part in
                       str(file.toUri().getPath()).split("/")[-1:]):
                files.append(str(file.toString()))
        return sorted(files)

    def write_bytes(self, path: str, data: bytes) -> None:
        stream = self._fs.create(self._p(path), True)
        try:
            stream.write(bytearray(data))
        finally:
            stream.close()

    def read_bytes(self, path: str) -> bytes:
        stream = self._fs.open(self._p(path))
        try:
            out = self._jvm.java.io.ByteArrayOutputStream()
            self._jvm.org.apache.hadoop.io.IOUtils.copyBytes(stream, out, 65536, False)
            return bytes(out.toByteArray())
        finally:
            stream.close()


def read_parquet(
    spark: SparkSession, path: str, *, ignore_corrupt_files: bool = False
) -> DataFrame:
    """Read a Parquet file or directory (Hive-style partitions too), with clear errors.

    The footers of all part files are read up front (``mergeSchema``), so a file that is
    not Parquet, or part files that disagree on a column's type, fail here with the file
    or column named, instead of midway through the job. ``ignore_corrupt_files`` skips
    unreadable files instead (Spark's ``ignoreCorruptFiles``).
    """
    reader = (
        spark.read.option("ignoreCorruptFiles", str(ignore_corrupt_files).lower())
        .option("mergeSchema", "true")
    )
    try:
        return reader.parquet(path)
    except AnalysisException as exc:
        raise InputDataError(_explain_read_error(path, exc)) from exc
    except Py4JJavaError as exc:
        raise InputDataError(_explain_java_error(spark, path, exc)) from exc


def _explain_java_error(spark: SparkSession, path: str, exc: Py4JJavaError) -> str:
    causes = java_causes(exc)
    for text in causes:
        found = re.search(r"(\S+) is not a Parquet file", text) or re.search(
            r"reading file (\S+?)\.?(?:\s|$)", text)
        if found:
            return (f"{found.group(1)} in input {path} is not a readable Parquet file (set "
                    "input.ignore_corrupt_files: true to skip unreadable files)")
        if "CANNOT_MERGE" in text or "merge incompatible" in text:
            return type_conflict(spark, path) or f"part files of input {path} disagree: {text}"
    return f"cannot read Parquet at {path}: {causes[0] if causes else exc}"


def type_conflict(spark: SparkSession, path: str, *, max_files: int = 200) -> str | None:
    """Name a column whose type differs between two part files of ``path`` (if found)."""
    fs = HadoopFS(spark, path)
    seen: dict[str, tuple[str, str]] = {}
    for file in fs.data_files(path)[:max_files]:
        for field in spark.read.parquet(file).schema.fields:
            kind = field.dataType.simpleString()
            first = seen.setdefault(field.name, (kind, file))
            if first[0] != kind:
                return (f"part files of input {path} disagree on the type of column "
                        f"{field.name!r}: {first[0]} in {first[1]}, {kind} in {file}")
    return None


def java_causes(exc: Py4JJavaError) -> list[str]:
    """First lines of the Java exception and of each of its causes, outermost first."""
    lines = []
    throwable = exc.java_exception
    while throwable is not None and len(lines) < 10:
        text = str(throwable.toString()).strip().splitlines()
        lines.append(text[0] if text else "")
        throwable = throwable.getCause()
    return lines


def _explain_read_error(path: str, exc: AnalysisException) -> str:
    condition = exc.getCondition() or ""
    text = str(exc)
    if condition == "PATH_NOT_FOUND" or "Path does not exist" in text:
        return f"input path {path} does not exist"
    if "UNABLE_TO_INFER_SCHEMA" in condition or "Unable to infer schema" in text:
        return f"input path {path} holds no Parquet data (empty directory or no .parquet files)"
    first_line = text.strip().splitlines()[0] if text.strip() else condition
    return f"cannot read Parquet at {path}: {first_line}"


@dataclass(frozen=True)
class StagedOutput:
    """A staging directory being filled; :func:`atomic_output` swaps it into place."""

    fs: HadoopFS
    path: str

    def file(self, name: str) -> str:
        """Full path of ``name`` inside the staging directory."""
        return f"{self.path}/{name}"

    def write_text(self, name: str, text: str) -> None:
        self.fs.write_bytes(self.file(name), text.encode("utf-8"))

    def write_json(self, name: str, data: Any) -> None:
        self.write_text(name, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")

    def write_csv(self, name: str, frame: pd.DataFrame) -> None:
        self.write_text(name, frame.to_csv(index=False, float_format="%.10g"))


def check_output_target(
    spark: SparkSession, path: str, mode: str, *, name: str = "output.path",
    overwrite_hint: str = "set output.mode: overwrite",
) -> None:
    """Fail early (before any expensive work) when the output cannot be written as configured.

    ``name`` and ``overwrite_hint`` word the message the way the user gave the path (a
    config key, or a command-line option).
    """
    fs = HadoopFS(spark, path)
    restore_interrupted_swap(fs, path)
    if fs.exists(path):
        if not fs.is_dir(path):
            raise OutputError(f"{name} {path} exists and is a file, not a directory")
        if mode == "error":
            raise OutputError(f"{name} {path} already exists ({overwrite_hint} to replace it)")
    parent = _parent(path)
    if fs.exists(parent) and not fs.is_dir(parent):
        raise OutputError(f"the parent of {name} {path} is a file, not a directory")


@contextmanager
def atomic_output(spark: SparkSession, path: str, mode: str) -> Iterator[StagedOutput]:
    """Yield a staging directory; on success mark it ``_SUCCESS`` and swap it into ``path``.

    On any exception the staging directory is removed and ``path`` is left as it was.
    """
    path = path.rstrip("/")
    fs = HadoopFS(spark, path)
    check_output_target(spark, path, mode)
    parent, name = _parent(path), _name(path)
    remove_stale(fs, parent, name)
    run_id = uuid.uuid4().hex[:12]
    staging = f"{parent}/.{name}{_STAGING}{run_id}"
    try:
        fs.mkdirs(staging)
        fs.write_bytes(f"{staging}/.probe", b"")
        fs.delete(f"{staging}/.probe")
    except Exception as exc:
        raise OutputError(f"output.path {path} is not writable: {_first_line(exc)}") from exc
    try:
        yield StagedOutput(fs, staging)
        fs.write_bytes(f"{staging}/{SUCCESS_MARKER}", b"")
        _swap(fs, staging, path, f"{parent}/.{name}{_PREVIOUS}{run_id}", mode)
    except BaseException:
        fs.delete(staging)
        raise
    log.info("outputs written to %s", path)


def _swap(fs: HadoopFS, staging: str, path: str, previous: str, mode: str) -> None:
    if fs.exists(path) and mode == "error":
        raise OutputError(f"output.path {path} appeared while the job ran; not replacing it")
    local = local_path(path)
    if local is not None:
        _swap_local(local_path(staging) or staging, local, local_path(previous) or previous)
        return
    if fs.exists(path):
        fs.rename(path, previous)
        fs.rename(staging, path)
        fs.delete(previous)
    else:
        fs.rename(staging, path)


def _swap_local(staging: str, path: str, previous: str) -> None:
    """Atomic on a local disk: ``path`` is a symbolic link replaced in one ``rename(2)``.

    The complete run is renamed to ``.NAME.run-ID`` and a new link to it replaces ``path``,
    so a reader (or a kill) sees the old run or the new one, never neither. A real
    directory at ``path`` (outputs written before links were used) is moved aside first:
    the only non-atomic step, covered by :func:`restore_interrupted_swap`.
    """
    parent, name = os.path.split(os.path.abspath(path))
    run_dir = staging.replace(_STAGING, _RUN)
    os.rename(staging, run_dir)
    link = os.path.join(parent, f".{name}{_LINK}{os.path.basename(run_dir).rsplit('-', 1)[1]}")
    os.symlink(os.path.basename(run_dir), link)
    old_target = os.path.realpath(path) if os.path.islink(path) else None
    if old_target and not os.path.basename(old_target).startswith(f".{name}{_RUN}"):
        old_target = None  # a link the user made: replace the link, keep what it points to
    if os.path.isdir(path) and not os.path.islink(path):
        os.rename(path, previous)
    os.replace(link, path)
    for leftover in (old_target, previous):
        if leftover and os.path.isdir(leftover):
            shutil.rmtree(leftover)


def local_path(path: str) -> str | None:
    """The local file system path of ``path``, or None for other file systems."""
    if path.startswith("file:"):
        return "/" + path.removeprefix("file:").lstrip("/")
    return None if "://" in path else path


def restore_interrupted_swap(fs: HadoopFS, path: str) -> None:
    """Put back previous outputs that a run killed between its two renames left aside."""
    if fs.exists(path):
        return
    parent, name = _parent(path), _name(path)
    for entry in sorted(fs.list_names(parent)):
        if entry.startswith(f".{name}{_PREVIOUS}"):
            log.warning("restoring previous outputs of %s from an interrupted run", path)
            fs.rename(f"{parent}/{entry}", path)
            return


def remove_stale(fs: HadoopFS, parent: str, name: str) -> None:
    """Delete what killed runs left: staging directories, links, runs no link points to."""
    local = local_path(f"{parent}/{name}")
    current = os.path.basename(os.path.realpath(local)) if local and os.path.islink(local) else None
    for entry in fs.list_names(parent):
        stale = any(entry.startswith(f".{name}{kind}")
                    for kind in (_STAGING, _PREVIOUS, _LINK, _RUN))
        if stale and entry != current:
            log.info("removing %s/%s left by an earlier run that did not finish", parent, entry)
            if local is not None and os.path.islink(os.path.join(parent, entry)):
                os.unlink(os.path.join(parent, entry))
            else:
                fs.delete(f"{parent}/{entry}")


def read_json(spark: SparkSession, path: str) -> Any:
    """Read a small JSON file from any Hadoop path."""
    return json.loads(HadoopFS(spark, path).read_bytes(path).decode("utf-8"))


def _parent(path: str) -> str:
    head, _, _ = path.rstrip("/").rpartition("/")
    return head or "."


def _name(path: str) -> str:
    return path.rstrip("/").rpartition("/")[2]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
