"""The few file-system operations this project needs, on a local disk or a remote store.

Local paths (and ``file:`` URIs) are handled with the standard library; other schemes (S3,
GCS, HDFS, Azure) with ``pyarrow.fs``. Neither goes through Spark's JVM, so the same code
runs in classic mode, over Spark Connect (where the client has no JVM) and in the report.
Spark's readers and writers take the same paths; :func:`absolute` makes a relative local
path absolute first, since a Spark Connect server does not share the client's directory.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.fs as pafs

from segmentation.core.errors import OutputError
from segmentation.core.objectstore import s3_filesystem

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


class FileSystem(Protocol):
    """What the atomic outputs and the readers of finished runs ask of a file system."""

    def exists(self, path: str) -> bool: ...
    def is_dir(self, path: str) -> bool: ...
    def mkdirs(self, path: str) -> None: ...
    def delete(self, path: str) -> None: ...
    def rename(self, source: str, target: str) -> None: ...
    def list_names(self, path: str) -> list[str]: ...
    def data_files(self, path: str) -> list[str]: ...
    def write_bytes(self, path: str, data: bytes) -> None: ...
    def read_bytes(self, path: str) -> bytes: ...
    def create_new(self, path: str, data: bytes) -> bool: ...
    def replace_bytes(self, path: str, data: bytes) -> None: ...


def local_path(path: str) -> str | None:
    """The local file system path of ``path``, or None for other file systems."""
    if path.startswith("file:"):
        return "/" + path.removeprefix("file:").lstrip("/")
    return None if "://" in path else path


def absolute(path: str) -> str:
    """``path`` with a relative local path made absolute (URIs unchanged)."""
    local = local_path(path)
    return os.path.abspath(local) if local is not None and not path.startswith("file:") else path


def file_system(path: str, spark: SparkSession | None = None, *,
                settings: Mapping[str, str] | None = None) -> FileSystem:
    """The file system ``path`` lives on; ``spark`` (or, without a session, a config's
    ``spark:`` ``settings``) lends its S3A settings, if any."""
    if local_path(path) is not None:
        return LocalFS()
    return ArrowFS.for_uri(path, spark, settings or {})


def parent_of(path: str) -> str:
    """The directory ``path`` is in (``.`` for a bare name)."""
    head, _, _ = path.rstrip("/").rpartition("/")
    return head or "."


def name_of(path: str) -> str:
    """The last component of ``path``."""
    return path.rstrip("/").rpartition("/")[2]


def _hidden(name: str) -> bool:
    """Spark's and Hadoop's convention: ``_*`` and ``.*`` files are not data."""
    return name.startswith(("_", "."))


class LocalFS:
    """Local disk (paths or ``file:`` URIs), with the standard library."""

    @staticmethod
    def _p(path: str) -> str:
        return local_path(path) or path

    def exists(self, path: str) -> bool:
        return os.path.lexists(self._p(path))

    def is_dir(self, path: str) -> bool:
        return os.path.isdir(self._p(path))

    def mkdirs(self, path: str) -> None:
        os.makedirs(self._p(path), exist_ok=True)

    def delete(self, path: str) -> None:
        p = self._p(path)
        if os.path.islink(p) or os.path.isfile(p):
            os.unlink(p)
        elif os.path.isdir(p):
            shutil.rmtree(p)

    def rename(self, source: str, target: str) -> None:
        os.rename(self._p(source), self._p(target))

    def list_names(self, path: str) -> list[str]:
        p = self._p(path)
        return sorted(os.listdir(p)) if os.path.isdir(p) else []

    def data_files(self, path: str) -> list[str]:
        p = self._p(path)
        if os.path.isfile(p):
            return [p]
        files = []
        for folder, dirs, names in os.walk(p):
            dirs[:] = [d for d in dirs if not _hidden(d)]
            files += [os.path.join(folder, n) for n in names if not _hidden(n)]
        return sorted(files)

    def write_bytes(self, path: str, data: bytes) -> None:
        with open(self._p(path), "wb") as handle:
            handle.write(data)

    def read_bytes(self, path: str) -> bytes:
        with open(self._p(path), "rb") as handle:
            return handle.read()

    def create_new(self, path: str, data: bytes) -> bool:
        """Create ``path`` holding ``data`` unless it exists; False when it does.

        Atomic: the bytes go to a unique temporary file that is hard-linked to ``path``
        (``link(2)`` fails when ``path`` exists), so no reader ever sees a partial file.
        """
        temporary = _sibling(self._p(path), "new")
        self.write_bytes(temporary, data)
        try:
            os.link(temporary, self._p(path))
        except FileExistsError:
            return False
        finally:
            os.unlink(temporary)
        return True

    def replace_bytes(self, path: str, data: bytes) -> None:
        """Replace ``path``'s bytes in one step (a temporary file renamed over it)."""
        temporary = _sibling(self._p(path), "replace")
        self.write_bytes(temporary, data)
        os.replace(temporary, self._p(path))


class ArrowFS:
    """Any remote file system pyarrow reaches: S3 (``s3://``, ``s3a://``), GCS, HDFS, Azure.

    Used from the driver (or the Spark Connect client) for the run's small files and the
    swap of its directories; Spark itself writes the large outputs. Credentials come from
    the platform's usual chain (environment, instance profile, ``~/.aws``); an S3 endpoint
    or keys set for Spark (``spark.hadoop.fs.s3a.*``) are used too
    (:mod:`segmentation.core.objectstore`).
    """

    def __init__(self, filesystem: pafs.FileSystem) -> None:
        self._fs = filesystem

    @classmethod
    def for_uri(cls, uri: str, spark: SparkSession | None = None,
                settings: Mapping[str, str] | None = None) -> ArrowFS:
        parsed = urlparse(uri)
        given = settings or {}
        lookup = (lambda key: spark.conf.get(key, None)) if spark is not None else given.get
        try:
            if parsed.scheme in _S3_SCHEMES:
                return cls(s3_filesystem(parsed.netloc, lookup))
            return cls(pafs.FileSystem.from_uri(uri)[0])
        except (pa.ArrowException, ValueError, OSError) as exc:
            raise OutputError(f"cannot open the file system of {uri} from this machine: "
                              f"{str(exc).strip().splitlines()[0]}") from exc

    @staticmethod
    def _p(path: str) -> str:
        parsed = urlparse(path)
        if parsed.scheme in (*_S3_SCHEMES, "gs", "gcs"):
            return f"{parsed.netloc}{parsed.path}".rstrip("/")
        return (parsed.path or path).rstrip("/") or "/"

    def _info(self, path: str) -> pafs.FileInfo:
        return self._fs.get_file_info(self._p(path))

    def exists(self, path: str) -> bool:
        return self._info(path).type != pafs.FileType.NotFound

    def is_dir(self, path: str) -> bool:
        return self._info(path).type == pafs.FileType.Directory

    def mkdirs(self, path: str) -> None:
        self._fs.create_dir(self._p(path), recursive=True)

    def delete(self, path: str) -> None:
        kind = self._info(path).type
        if kind == pafs.FileType.Directory:
            self._fs.delete_dir(self._p(path))
        elif kind == pafs.FileType.File:
            self._fs.delete_file(self._p(path))

    def rename(self, source: str, target: str) -> None:
        """A rename where the store has one; a copy then delete on object stores."""
        try:
            self._fs.move(self._p(source), self._p(target))
        except (pa.ArrowException, OSError):
            if not self.is_dir(source):
                raise
            pafs.copy_files(self._p(source), self._p(target), source_filesystem=self._fs,
                            destination_filesystem=self._fs)
            self._fs.delete_dir(self._p(source))

    def list_names(self, path: str) -> list[str]:
        if not self.is_dir(path):
            return []
        infos = self._fs.get_file_info(pafs.FileSelector(self._p(path)))
        return sorted(info.base_name for info in infos)

    def data_files(self, path: str) -> list[str]:
        if self._info(path).type == pafs.FileType.File:
            return [path]
        prefix = path.rstrip("/")
        infos = self._fs.get_file_info(pafs.FileSelector(self._p(path), recursive=True))
        root = self._p(path)
        files = []
        for info in infos:
            relative = info.path[len(root):].lstrip("/")
            if info.type == pafs.FileType.File and not any(
                    _hidden(part) for part in relative.split("/")):
                files.append(f"{prefix}/{relative}")
        return sorted(files)

    def write_bytes(self, path: str, data: bytes) -> None:
        with self._fs.open_output_stream(self._p(path)) as stream:
            stream.write(data)

    def read_bytes(self, path: str) -> bytes:
        with self._fs.open_input_stream(self._p(path)) as stream:
            return bytes(stream.read())

    def create_new(self, path: str, data: bytes) -> bool:
        """Create ``path`` holding ``data`` unless it exists; False when it does.

        The best pyarrow allows, which has no create-if-absent: a unique temporary file
        moved to ``path``, then read back. On HDFS the move is a rename that fails when
        ``path`` exists, so this is atomic; on object stores (S3, GCS, Azure) a move
        overwrites, so two writers starting within the same moment can both succeed (the
        read-back catches only the one that wrote first and looked last).
        """
        if self.exists(path):
            return False
        temporary = _sibling(path, "new")
        self.write_bytes(temporary, data)
        try:
            self._fs.move(self._p(temporary), self._p(path))
        except (pa.ArrowException, OSError):
            self.delete(temporary)
            if self.exists(path):
                return False
            raise
        return self.read_bytes(path) == data

    def replace_bytes(self, path: str, data: bytes) -> None:
        """Replace ``path``'s bytes (one PUT on object stores; a new file on HDFS)."""
        self.write_bytes(path, data)


_S3_SCHEMES = ("s3", "s3a", "s3n")


def _sibling(path: str, purpose: str) -> str:
    """A unique hidden name next to ``path`` for a file written before it is moved there."""
    parent, name = parent_of(path), name_of(path)
    return f"{parent}/.{name}.{purpose}-{uuid.uuid4().hex[:12]}"
