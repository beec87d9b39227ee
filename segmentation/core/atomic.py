"""Writing a job's outputs atomically: a staging directory, swapped into place when complete.

Outputs are written into a staging directory next to the destination
(``.<name>.staging-<run id>``) and swapped into place only when every file and
``_SUCCESS`` are there. On a local disk the destination is a symbolic link to the
complete run (``.<name>.run-<run id>``), replaced atomically; a killed run leaves the
previous outputs byte for byte where they were. On other file systems (HDFS, S3) the old
destination is renamed aside and the staging directory renamed into place; when the second
rename fails, whatever it left is removed and the previous outputs renamed back; a run that
dies between the two renames leaves the previous outputs in ``.<name>.previous-<run id>``,
from which the next run restores them. One run per output path at a time.

The runs of every job and the report use this one mechanism.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from segmentation.core.errors import OutputError, one_line, service_or
from segmentation.core.fs import FileSystem, absolute, file_system, local_path, name_of, parent_of
from segmentation.core.lock import OutputLock

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

SUCCESS_MARKER = "_SUCCESS"
_STAGING = ".staging-"
_PREVIOUS = ".previous-"
_RUN = ".run-"
_LINK = ".link-"


def json_text(data: Any) -> str:
    """``data`` as a job writes it to a JSON file (a manifest): indented, keys sorted."""
    return json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"


@dataclass(frozen=True)
class StagedOutput:
    """A staging directory being filled; :func:`atomic_output` swaps it into place."""

    fs: FileSystem
    path: str

    def file(self, name: str) -> str:
        """Full path of ``name`` inside the staging directory."""
        return f"{self.path}/{name}"

    def write_text(self, name: str, text: str) -> None:
        self.fs.write_bytes(self.file(name), text.encode("utf-8"))

    def write_json(self, name: str, data: Any) -> None:
        self.write_text(name, json_text(data))

    def write_csv(self, name: str, frame: pd.DataFrame) -> None:
        self.write_text(name, frame.to_csv(index=False, float_format="%.10g"))


def _check_target(fs: FileSystem, path: str, mode: str, name: str, overwrite_hint: str
                  ) -> None:
    """Fail early (before any expensive work) when the output cannot be written as configured.

    ``name`` and ``overwrite_hint`` word the message the way the user gave the path (a
    config key, or a command-line option). Runs under the lock: it may restore outputs an
    interrupted swap left aside.
    """
    restore_interrupted_swap(fs, path)
    if fs.exists(path):
        if not fs.is_dir(path):
            raise OutputError(f"{name} {path} exists and is a file, not a directory")
        if mode == "error":
            raise OutputError(f"{name} {path} already exists ({overwrite_hint} to replace it)")


@dataclass(frozen=True)
class ClaimedOutput:
    """An output path this run holds the lock of; :meth:`staging` writes it atomically."""

    fs: FileSystem
    path: str
    mode: str
    name: str
    lock: OutputLock

    @contextmanager
    def staging(self) -> Iterator[StagedOutput]:
        """Yield a staging directory; on success mark it ``_SUCCESS`` and swap it into place.

        On any exception the staging directory is removed and the path is left as it was.
        """
        fs, path, name = self.fs, self.path, self.name
        parent, base = parent_of(path), name_of(path)
        remove_stale(fs, parent, base)  # safe: no other run holds the lock
        run_id = self.lock.holder.run_id
        staging = absolute(f"{parent}/.{base}{_STAGING}{run_id}")  # Spark writes into it
        probe = f"{staging}/.probe"
        step = f"create the staging directory {staging}"
        try:
            fs.mkdirs(staging)
            step = f"write a file in {staging}"
            fs.write_bytes(probe, b"")
            step = f"delete a file in {staging}"
            fs.delete(probe)
        except (OSError, pa.ArrowException) as exc:
            raise service_or(OutputError, f"{name} {path} is not writable: cannot {step}: "
                             f"{one_line(exc)}", exc) from exc
        try:
            yield StagedOutput(fs, staging)
            fs.write_bytes(f"{staging}/{SUCCESS_MARKER}", b"")
            self.lock.check_held()
            _swap(fs, staging, path, f"{parent}/.{base}{_PREVIOUS}{run_id}", self.mode, name)
        except BaseException:
            fs.delete(staging)
            raise
        log.info("outputs written to %s", path)


@contextmanager
def claimed_output(
    path: str, mode: str, *, spark: SparkSession | None = None, name: str = "output.path",
    overwrite_hint: str = "set output.mode: overwrite", settings: Mapping[str, str] | None = None,
) -> Iterator[ClaimedOutput]:
    """Hold the lock of ``path`` for the duration of the ``with`` block, and check it can
    be written as configured before any expensive work.

    ``name`` and ``overwrite_hint`` word messages the way the user gave the path (a config
    key, or a command-line option). Without a session, a remote path's store settings come
    from ``settings`` (a config's ``spark:`` section), else from the environment.

    A job opens this first and writes through :meth:`ClaimedOutput.staging`; a second run
    on the same path is refused here (an :class:`OutputError` naming the holder). A Spark
    session is needed only for paths that are not local.
    """
    path = path.rstrip("/")
    fs = file_system(path, spark, settings=settings)
    parent = parent_of(path)
    step = f"reach its parent directory {parent}"  # the first request to a remote store
    try:
        if fs.exists(parent) and not fs.is_dir(parent):
            raise OutputError(f"the parent of {name} {path} is a file, not a directory")
        step = f"create its parent directory {parent}"
        fs.mkdirs(parent)
    except (OSError, pa.ArrowException) as exc:
        raise service_or(OutputError, f"{name} {path} is not writable: cannot {step}: "
                         f"{one_line(exc)}", exc) from exc
    with OutputLock(fs, path, name=name) as lock:
        _check_target(fs, path, mode, name, overwrite_hint)
        yield ClaimedOutput(fs, path, mode, name, lock)


@contextmanager
def atomic_output(
    path: str, mode: str, *, spark: SparkSession | None = None, name: str = "output.path",
    settings: Mapping[str, str] | None = None,
) -> Iterator[StagedOutput]:
    """:func:`claimed_output` and its staging directory in one step, for short jobs."""
    with claimed_output(path, mode, spark=spark, name=name, settings=settings) as claim, \
            claim.staging() as out:
        yield out


@contextmanager
def replaced_directory(path: str, *, overwrite: bool, name: str = "--output",
                       flag: str = "--overwrite") -> Iterator[StagedOutput]:
    """A directory written whole: refused when ``path`` holds anything unless ``overwrite``,
    which replaces it entirely (part files of an earlier, larger write never survive).

    Written like a job's outputs: under the path's lock, into a staging directory that is
    swapped into place when complete.
    """
    with claimed_output(path, "overwrite", name=name) as claim:
        if not overwrite and claim.fs.list_names(claim.path):
            raise OutputError(f"{name} {claim.path} is not empty (pass {flag} to replace it)")
        with claim.staging() as out:
            yield out


def _swap(fs: FileSystem, staging: str, path: str, previous: str, mode: str, name: str
          ) -> None:
    if fs.exists(path) and mode == "error":
        raise OutputError(f"{name} {path} appeared while the job ran; not replacing it")
    local = local_path(path)
    if local is not None:
        _swap_local(local_path(staging) or staging, local, local_path(previous) or previous)
        return
    had_outputs = fs.exists(path)
    if had_outputs:
        fs.rename(path, previous)
    try:
        fs.rename(staging, path)
    except (OSError, pa.ArrowException) as exc:
        kept = _roll_back(fs, path, previous if had_outputs else None)
        raise service_or(OutputError, f"{name} {path}: the new outputs could not be moved "
                         f"into place ({one_line(exc)}); {kept}", exc) from exc
    if had_outputs:
        fs.delete(previous)


def _roll_back(fs: FileSystem, path: str, previous: str | None) -> str:
    """Undo a swap whose second rename failed: remove what it left at ``path`` (a rename that
    is a copy on object stores can stop half-way), put the ``previous`` outputs back; say
    where the user's outputs are."""
    try:
        fs.delete(path)
        if previous is None:
            return "nothing was there before, and nothing is now"
        fs.rename(previous, path)
    except (OSError, pa.ArrowException) as exc:
        if previous is None:
            return f"removing what it left failed too ({one_line(exc)}): delete {path}"
        return (f"rolling back failed too ({one_line(exc)}): the previous outputs are in "
                f"{previous}, and the next run puts them back")
    return "the previous outputs are back in place"


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


def restore_interrupted_swap(fs: FileSystem, path: str) -> None:
    """Put back previous outputs that a run killed between its two renames left aside."""
    if fs.exists(path):
        return
    parent, name = parent_of(path), name_of(path)
    for entry in sorted(fs.list_names(parent)):
        if entry.startswith(f".{name}{_PREVIOUS}"):
            log.warning("restoring previous outputs of %s from an interrupted run", path)
            fs.rename(f"{parent}/{entry}", path)
            return


def remove_stale(fs: FileSystem, parent: str, name: str) -> None:
    """Delete what killed runs left: staging directories, links, runs no link points to."""
    local = local_path(f"{parent}/{name}")
    current = os.path.basename(os.path.realpath(local)) if local and os.path.islink(local) else None
    for entry in fs.list_names(parent):
        stale = any(entry.startswith(f".{name}{kind}")
                    for kind in (_STAGING, _PREVIOUS, _LINK, _RUN))
        if stale and entry != current:
            log.info("removing %s/%s left by an earlier run that did not finish", parent, entry)
            fs.delete(f"{parent}/{entry}")
