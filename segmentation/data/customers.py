"""The customers stage of every job that reads a customer table: read, partition by id,
validate, and drop the rows the policies drop.

The segmentation job fits on the rows it returns; scoring assigns segments to them. Both
get the same checks, the same policies and the same row accounting
(``rows_read = rows_used + sum(dropped)``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from segmentation.core.caching import cached
from segmentation.data.config import FeaturesConfig, InputConfig
from segmentation.data.missing import any_missing
from segmentation.data.sources import read_source
from segmentation.data.validate import (
    InputProfile,
    check_duplicate_ids,
    check_schema,
    profile_input,
)

log = logging.getLogger(__name__)

#: Rows per partition ``input.partitions: auto`` aims at: small enough that one
#: partition's sort and cache block fit a task's share of a 1 GB executor, large enough
#: that a pass is not dominated by per-task overhead.
AUTO_ROWS_PER_PARTITION = 1_000_000
#: Partitions ``auto`` never goes below (the fixed default of earlier versions, so that
#: tables of up to 8M rows keep their labels).
AUTO_MIN_PARTITIONS = 8


@dataclass(frozen=True)
class Customers:
    """The usable rows of a customer table, and what validation counted on the way."""

    #: The id and feature columns, hash-partitioned by id, sorted by id within partitions,
    #: cached; only the usable rows.
    rows: DataFrame
    profile: InputProfile
    #: Rows dropped per reason (a row counts under the first reason that applies).
    dropped: dict[str, int]
    #: The partitions the rows were hash-partitioned into (``input.partitions`` resolved).
    partitions: int
    #: Where the rows came from, as the manifest records it (a table's version read too).
    source: dict[str, Any]

    @property
    def rows_read(self) -> int:
        return self.profile.rows

    @property
    def rows_used(self) -> int:
        return self.profile.rows - sum(self.dropped.values())


def load_customers(spark: SparkSession, source: InputConfig, features: FeaturesConfig, *,
                   profile_columns: Sequence[str] = ()) -> Customers:
    """Read ``source``, keep the id, feature and ``profile_columns``, validate them and apply
    the policies (profile columns are carried along, never validated or dropped for).

    Fails with an :class:`~segmentation.core.errors.InputDataError` naming the column, the
    value and the limit; the input is read once (the validation pass fills the cache).
    """
    used = [source.id_column, *features.numeric, *features.categorical, *profile_columns]

    def keep(raw: DataFrame) -> DataFrame:
        checked = check_schema(raw, source, features, profile_columns)
        ignored = [c for c in checked.columns if c not in used]
        if ignored:
            log.info("ignoring %d input columns the model does not use: %s",
                     len(ignored), ", ".join(ignored))
        return checked.select(*used)

    read = read_source(spark, source, "input", keep)
    selected = read.frame
    partitions = partition_count(source.partitions, selected)
    partitioned = partition_by_id(selected, source.id_column, partitions)
    try:
        profile = profile_input(partitioned, source, features)
        rows, dropped = usable_rows(partitioned, source, features, profile)
    except BaseException:
        partitioned.unpersist()
        raise
    return Customers(rows, profile, dropped, partitions, read.summary)


def partition_count(setting: int | str, rows: DataFrame) -> int:
    """The partitions ``input.partitions`` asks for: the number given, or for ``auto`` one
    per :data:`AUTO_ROWS_PER_PARTITION` rows read, at least :data:`AUTO_MIN_PARTITIONS`.

    Derived from the row count, never from bytes (which differ between Parquet, CSV and a
    database) or from the cluster, so that the same data gets the same layout, and the
    same labels, everywhere. Counting is a metadata read for Parquet and ORC, one scan for
    text formats.
    """
    if isinstance(setting, int):
        return setting
    read = rows.count()
    partitions = max(AUTO_MIN_PARTITIONS, math.ceil(read / AUTO_ROWS_PER_PARTITION))
    log.info("input.partitions auto: %d partitions for %d rows", partitions, read)
    return partitions


def partition_by_id(rows: DataFrame, id_column: str, partitions: int) -> DataFrame:
    """``rows`` hash-partitioned by id into ``partitions`` and sorted by id, cached.

    A fixed layout makes KMeans (whose results depend on partitioning and row order) give
    the same answer in local mode and on any cluster; it also lets the duplicate-id check
    group by id without another shuffle.
    """
    return cached(rows.repartition(partitions, id_column).sortWithinPartitions(id_column))


def usable_rows(
    partitioned: DataFrame, source: InputConfig, features: FeaturesConfig,
    profile: InputProfile,
) -> tuple[DataFrame, dict[str, int]]:
    """The rows the jobs use, and how many rows were dropped for which reason.

    Under the ``drop`` policies every row of a repeated id, then every row with a missing
    value, is dropped: one aggregation counts each reason exactly (a row counts under the
    first reason that applies), and the kept rows are cached once.
    """
    reasons: dict[str, Column] = {}
    if source.duplicate_ids == "drop":
        rows_of_id = F.count(F.lit(1)).over(Window.partitionBy(source.id_column))
        reasons["duplicate_id"] = rows_of_id > 1
    else:
        check_duplicate_ids(partitioned, source.id_column, rows=profile.rows)
    if features.missing == "drop" and profile.rows_with_missing:
        reasons["missing_value"] = any_missing(features.numeric)
    if not reasons:
        return partitioned, {}
    flagged = partitioned.select("*", *[flag.alias(f"_{r}") for r, flag in reasons.items()])
    counts, earlier = [], F.lit(False)
    for reason in reasons:
        counts.append(F.sum((F.col(f"_{reason}") & ~earlier).cast("long")).alias(reason))
        earlier = earlier | F.col(f"_{reason}")
    totals = flagged.agg(*counts).first()
    assert totals is not None
    dropped = {r: int(totals[r]) for r in reasons if totals[r]}
    if not dropped:
        return partitioned, {}
    kept = flagged.where(~earlier).drop(*[f"_{r}" for r in reasons])
    kept = cached(kept)
    kept.count()
    partitioned.unpersist()
    return kept, dropped
