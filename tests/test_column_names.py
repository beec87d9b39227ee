"""Configured column names are found as Spark SQL finds them: ignoring case unless
``spark.sql.caseSensitive`` is set (a PostgreSQL table's unquoted names are lower case,
a config often is not), and every output names them as configured."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from support.small_table import config, good_table, write

from segmentation.cli import main
from segmentation.core.errors import InputDataError
from segmentation.data.columns import with_configured_names


def _run(tmp: Path, name: str, data: Path, **sections) -> Path:
    cfg = config(tmp / name, data, **sections)
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["run", "--config", str(path)]) == 0
    return Path(cfg["output"]["path"])


def test_names_in_another_case_give_the_same_labels_under_the_configured_spelling(
    spark, tmp_path
) -> None:
    data = write(good_table(200), tmp_path / "in")
    exact = _run(tmp_path, "exact", data)
    shouted = _run(tmp_path, "shouted", data, input={"id_column": "CUSTOMER_ID"},
                   features={"numeric": ["Spend", "VISITS"], "categorical": ["Channel"]})
    before = pd.read_parquet(exact / "labels").sort_values("customer_id", ignore_index=True)
    after = pd.read_parquet(shouted / "labels").sort_values("CUSTOMER_ID", ignore_index=True)
    assert "CUSTOMER_ID" in after.columns and "customer_id" not in after.columns
    assert after["CUSTOMER_ID"].tolist() == before["customer_id"].tolist()
    assert after["segment"].tolist() == before["segment"].tolist()
    profiles = pd.read_csv(shouted / "profiles.csv")
    assert {"Spend", "VISITS"} <= set(profiles["feature"])
    assert main(["score", "--model", str(shouted), "--input", str(data),
                 "--output", str(tmp_path / "scored")]) == 0
    scored = pd.read_parquet(tmp_path / "scored" / "labels")
    scored = scored.sort_values("CUSTOMER_ID", ignore_index=True)
    assert scored["segment"].tolist() == before["segment"].tolist()


@pytest.fixture
def case_sensitive(spark):
    spark.conf.set("spark.sql.caseSensitive", "true")
    yield
    spark.conf.unset("spark.sql.caseSensitive")


def test_case_sensitive_sessions_match_exactly_and_suggest_the_spelling(
    spark, case_sensitive
) -> None:
    df = spark.createDataFrame([(1, 2.0)], "cust_id long, spend double")
    with pytest.raises(InputDataError, match=r"^id column 'CUST_ID' not found in the table; "
                                             r"did you mean 'cust_id'\?; present columns: "
                                             r"cust_id, spend$"):
        with_configured_names(df, {"CUST_ID": "id column 'CUST_ID'"}, "the table")
    both = spark.createDataFrame([(1, 2.0, 3.0)], "cust_id long, spend double, SPEND double")
    kept = with_configured_names(both, {"SPEND": "x", "spend": "y"}, "the table")
    assert kept.columns == ["cust_id", "spend", "SPEND"]


def test_a_name_matching_two_columns_ignoring_case_is_refused(spark) -> None:
    both = spark.createDataFrame([(1, 2.0, 3.0)], "cust_id long, spend double, SPEND double")
    with pytest.raises(InputDataError, match=r"matches several columns of the table ignoring "
                                             r"case \(spend, SPEND\)"):
        with_configured_names(both, {"spend": "feature column 'spend'"}, "the table")
