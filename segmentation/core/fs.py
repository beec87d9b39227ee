"""The few file-system operations this project needs, on a local disk or any Hadoop URI.

Local paths (and ``file:`` URIs) are handled with the standard library, so the report and
the small files of a run need no Spark; other schemes (HDFS, S3, ...) go through the Hadoop
``FileSystem`` of the Spark session, which knows the cluster's credentials and settings.
"""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING, Any, Protocol

from segmentation.core.errors import OutputError

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


def local_path(path: str) -> str | None:
    """The local file system path of ``path``, or None for other file systems."""
    if path.startswith("file:"):
        return "/" + path.removeprefix("file:").lstrip("/")
    return None if "://" in path else path


def file_system(path: str, spark: SparkSession | None = None) -> FileSystem:
    """The file system ``path`` lives on (a Spark session is needed for non-local paths)."""
    if local_path(path) is not None:
        return LocalFS()
    if spark is None:
        raise OutputError(f"{path} is not a local path, and no Spark session is there to reach it")
    return HadoopFS(spark, path)


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


class HadoopFS:
    """The Hadoop ``FileSystem`` of a Spark session, for any path scheme it knows."""

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
        files, listing = [], self._fs.listFiles(self._p(path), True)
        while listing.hasNext():
            file = listing.next().getPath()
            if not _hidden(str(file.getName())):
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
