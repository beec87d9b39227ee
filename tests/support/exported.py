"""A run's model as exported: its SQL run by Spark SQL, its PMML evaluated by pypmml, and
the rows either gives compared with labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import SparkSession

from segmentation.export.job import export_pmml, export_sql


def spark_sql_labels(spark: SparkSession, run: Path, data: Path, *, table: str = "customers",
                     **options: Any) -> pd.DataFrame:
    """The rows the run's Spark SQL query gives for the Parquet ``data`` (as view ``table``)."""
    spark.read.parquet(str(data)).createOrReplaceTempView(table)
    return spark.sql(export_sql(spark, run=str(run), dialect="spark", table=table,
                                **options)).toPandas()


def pmml_labels(spark: SparkSession, run: Path, data: Path) -> pd.DataFrame:
    """The segments and distances pypmml (the JPMML evaluator) computes from the run's PMML
    for the Parquet ``data``."""
    from pypmml import Model

    frame = pd.read_parquet(data)
    scored = Model.fromString(export_pmml(spark, run=str(run))).predict(frame)
    return pd.DataFrame({"customer_id": frame["customer_id"],
                         "segment": pd.to_numeric(scored["segment"]),
                         "distance": scored["distance"]})


def by_id(frame: pd.DataFrame) -> pd.DataFrame:
    """``customer_id, segment, distance`` sorted by id, a null segment as NaN."""
    return (frame[["customer_id", "segment", "distance"]].astype(
        {"customer_id": "int64", "segment": "float64", "distance": "float64"})
        .sort_values("customer_id", ignore_index=True))


def assert_labels_match(mine: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Every customer in both, the same segment, distances equal to 1e-9 relative."""
    mine, expected = by_id(mine), by_id(expected)
    assert mine["customer_id"].tolist() == expected["customer_id"].tolist()
    assert mine["segment"].tolist() == expected["segment"].tolist()
    np.testing.assert_allclose(mine["distance"], expected["distance"], rtol=1e-9, atol=0)
