"""Scores published to a Delta table over Spark Connect (a server started with
``--connectors delta``): the table is created, then merged into, with the commit's version
in the manifest, through public APIs only (DataFrameWriterV2, SQL, session settings)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from pyspark.sql import SparkSession
from support.cli import segment
from support.runs import fixed_k_config
from support.servers import ConnectServer

from segmentation.run.config import config_from_dict
from segmentation.run.job import run_segmentation

pytestmark = [pytest.mark.lakehouse, pytest.mark.connect, pytest.mark.slow]


def test_scores_created_then_merged_over_connect(
    lake_spark: SparkSession, delta_server: ConnectServer, make_customers, tmp_path: Path
) -> None:
    customers = make_customers(2000, seed=17)
    cfg = fixed_k_config(customers, tmp_path / "model", 3, restarts=1)
    cfg["evaluation"].update(stability_resamples=0, sample_size=500)
    run_segmentation(lake_spark, config_from_dict(cfg))
    people = pd.read_parquet(customers)
    people.iloc[:800].to_parquet(tmp_path / "first.parquet")
    people.iloc[600:1000].to_parquet(tmp_path / "second.parquet")
    table = f"delta.`{tmp_path / 'scores-table'}`"

    manifests = []
    for name, mode in (("first", "overwrite"), ("second", "merge")):
        scored = segment(["score", "--model", str(tmp_path / "model"),
                          "--input", str(tmp_path / f"{name}.parquet"),
                          "--output", str(tmp_path / name), "--output-table", table,
                          "--output-table-format", "delta", "--output-table-mode", mode,
                          "--remote", delta_server.url], cwd=tmp_path)
        assert scored.returncode == 0, scored.stderr[-4000:]
        manifests.append(json.loads((tmp_path / name / "manifest.json").read_text()))
    assert [(m["output_table"]["operation"], m["output_table"]["version"])
            for m in manifests] == [("create", 0), ("merge", 1)]
    first, second = (pd.read_parquet(tmp_path / name / "labels") for name in ("first",
                                                                               "second"))
    expected = pd.concat([first[~first.customer_id.isin(second.customer_id)], second])
    got = lake_spark.table(table).toPandas()
    pd.testing.assert_frame_equal(got.sort_values("customer_id", ignore_index=True),
                                  expected.sort_values("customer_id", ignore_index=True),
                                  check_exact=True)
