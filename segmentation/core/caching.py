"""Caching a DataFrame where the platform allows it.

Every job caches what it reads more than once (``MEMORY_AND_DISK``: what does not fit in
memory spills to local disk). Some Spark Connect platforms (Databricks serverless compute)
refuse ``persist``; there the job goes on uncached, recomputing from the source, which
gives the same rows because every stage is deterministic given the data and its
partitioning.
"""

from __future__ import annotations

import logging

from pyspark import StorageLevel
from pyspark.errors import PySparkException
from pyspark.sql import DataFrame

log = logging.getLogger(__name__)


def cached(df: DataFrame) -> DataFrame:
    """``df`` persisted in memory and on disk, or ``df`` itself where caching is refused."""
    try:
        return df.persist(StorageLevel.MEMORY_AND_DISK)
    except PySparkException as exc:
        log.warning("this Spark does not cache DataFrames (%s); recomputing instead",
                    str(exc).strip().splitlines()[0][:200])
        return df
