"""Reading an input table with errors that name the file, the column and what to do."""

from __future__ import annotations

import json
import re
from typing import Any

from py4j.protocol import Py4JJavaError
from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession

from segmentation.core.errors import InputDataError
from segmentation.core.fs import file_system


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


def read_json(spark: SparkSession, path: str) -> Any:
    """Read a small JSON file from any path the session can reach."""
    return json.loads(file_system(path, spark).read_bytes(path).decode("utf-8"))


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
    seen: dict[str, tuple[str, str]] = {}
    for file in file_system(path, spark).data_files(path)[:max_files]:
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
