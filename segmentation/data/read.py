"""Reading an input table with errors that name the file, the column and what to do."""

from __future__ import annotations

import re

from pyspark.sql import DataFrame, SparkSession

from segmentation.core.errors import InputDataError, one_line, service_or
from segmentation.core.failures import is_spark_error
from segmentation.core.fs import absolute, file_system


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
        df = reader.parquet(absolute(path))
        df.schema  # noqa: B018 - resolves the read now (Spark Connect analyses lazily)
        return df
    except Exception as exc:
        if not is_spark_error(exc):
            raise
        raise service_or(InputDataError, _explain_read_error(spark, path, exc), exc) from exc


def _explain_read_error(spark: SparkSession, path: str, exc: Exception) -> str:
    """One line for a failed Parquet read, from the error's text (classic or Connect)."""
    text = str(exc)
    if "PATH_NOT_FOUND" in text or "Path does not exist" in text:
        return f"input path {path} does not exist"
    if "UNABLE_TO_INFER_SCHEMA" in text or "Unable to infer schema" in text:
        return f"input path {path} holds no Parquet data (empty directory or no .parquet files)"
    found = re.search(r"(\S+) is not a Parquet file", text) or re.search(
        r"reading file (\S+?)\.?(?:\s|$)", text)
    if found:
        return (f"{found.group(1)} in input {path} is not a readable Parquet file (set "
                "input.ignore_corrupt_files: true to skip unreadable files)")
    if "CANNOT_MERGE" in text or "merge incompatible" in text:
        return type_conflict(spark, path) or f"part files of input {path} disagree: {one_line(exc)}"
    return f"cannot read Parquet at {path}: {one_line(exc)}"


def type_conflict(spark: SparkSession, path: str, *, max_files: int = 200) -> str | None:
    """Name a column whose type differs between two part files of ``path`` (if found)."""
    seen: dict[str, tuple[str, str]] = {}
    for file in file_system(path, spark).data_files(path)[:max_files]:
        for field in spark.read.parquet(absolute(file)).schema.fields:
            kind = field.dataType.simpleString()
            first = seen.setdefault(field.name, (kind, file))
            if first[0] != kind:
                return (f"part files of input {path} disagree on the type of column "
                        f"{field.name!r}: {first[0]} in {first[1]}, {kind} in {file}")
    return None
