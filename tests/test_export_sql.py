"""``segment export-sql`` and ``export-pmml``: the run's model as SQL, run where the
customers are, and as PMML, read by an independent evaluator.

The query is run in Spark SQL and in the project's PostgreSQL (scripts/postgres.sh), the
PMML by pypmml (the JPMML evaluator), on the run's own customers and on new ones with what
the model must handle (missing values, NaN, infinity, a channel it never saw): segments
identical to the run's ``labels/`` and to ``segment score``, distances equal to 1e-9
relative. Implementations of one model checked against each other: Spark's
``PipelineModel``, the SQL text and the PMML document.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support.cli import SEGMENT, error_lines
from support.exported import assert_labels_match, by_id, pmml_labels, spark_sql_labels
from support.runs import fixed_k_config

from segmentation.cli import main
from segmentation.export.job import export_pmml, export_sql
from segmentation.run.config import config_from_dict
from segmentation.run.job import run_segmentation
from segmentation.scoring.job import score_customers

CONFIG, INPUT = 2, 3


@pytest.fixture(scope="module")
def customers(make_customers) -> Path:
    return make_customers(3000, seed=21, missing_rate=0.02)


@pytest.fixture(scope="module")
def run(spark, customers, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export") / "run"
    run_segmentation(spark, config_from_dict(fixed_k_config(customers, out, 5)))
    return out


@pytest.fixture(scope="module")
def newcomers(make_customers, tmp_path_factory) -> Path:
    """New customers: some values NaN or infinite, some in a channel the run never saw."""
    frame = pd.read_parquet(make_customers(600, seed=22, missing_rate=0.03))
    frame["customer_id"] += 1_000_000
    rng = np.random.default_rng(3)
    for column, value in (("annual_income", np.nan), ("spend_12m", np.inf),
                          ("web_share", -np.inf)):
        frame.loc[rng.random(len(frame)) < 0.02, column] = value
    frame["channel"] = frame["channel"].astype(object)
    frame.loc[rng.random(len(frame)) < 0.05, "channel"] = "fax"
    path = tmp_path_factory.mktemp("newcomers") / "customers.parquet"
    frame.to_parquet(path, index=False)
    return path


@pytest.fixture(scope="module")
def scored(spark, run, newcomers, tmp_path_factory) -> pd.DataFrame:
    out = tmp_path_factory.mktemp("scored") / "out"
    score_customers(spark, model_run=str(run), input_path=str(newcomers), output_path=str(out))
    return pd.read_parquet(out / "labels")


def test_spark_sql_gives_the_runs_labels(spark, run, customers):
    assert_labels_match(spark_sql_labels(spark, run, customers),
                       pd.read_parquet(run / "labels"))


def test_spark_sql_scores_new_customers_like_segment_score(spark, run, newcomers, scored):
    assert_labels_match(spark_sql_labels(spark, run, newcomers), scored)


@pytest.mark.database
def test_the_readme_command_installs_a_view_in_postgresql(spark, run, customers, postgres,
                                                          tmp_path):
    """The README's pipe into psql, as a user types it; the view then labels every customer
    as labels/ does, and new rows as they arrive."""
    postgres.load(spark.read.parquet(str(customers)), "customers")
    install = (f"{SEGMENT} export-sql --run {run} --dialect postgresql --table customers "
               f"--view customer_segments | psql -X -q -v ON_ERROR_STOP=1 "
               f"{postgres.psql_url}")
    done = subprocess.run(["bash", "-o", "pipefail", "-c", install], cwd=tmp_path,
                          env={**postgres.client_env(), "SPARK_LOCAL_IP": "127.0.0.1"},
                          capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert_labels_match(postgres.frame("SELECT * FROM customer_segments"),
                       pd.read_parquet(run / "labels"))


@pytest.mark.database
def test_postgresql_scores_new_customers_like_segment_score(spark, run, newcomers, scored,
                                                             postgres):
    postgres.load(spark.read.parquet(str(newcomers)), "newcomers")
    query = export_sql(spark, run=str(run), dialect="postgresql", table="newcomers")
    assert_labels_match(postgres.frame(query), scored)


@pytest.mark.database
def test_the_ansi_query_runs_in_postgresql(spark, run, customers, postgres):
    """ANSI SQL knows no NaN or infinity: checked on the run's customers, whose missing
    values are nulls."""
    postgres.load(spark.read.parquet(str(customers)), "ansi_customers")
    query = export_sql(spark, run=str(run), dialect="ansi", table="ansi_customers",
                       view="ansi_segments")
    postgres.psql(query)
    assert_labels_match(postgres.frame("SELECT * FROM ansi_segments"),
                       pd.read_parquet(run / "labels"))


def test_a_model_that_does_not_impute_gives_missing_rows_no_segment(spark, customers,
                                                                   newcomers, tmp_path):
    out = tmp_path / "run"
    cfg = fixed_k_config(customers, out, 4)
    cfg["features"]["missing"] = "drop"
    run_segmentation(spark, config_from_dict(cfg))
    mine = by_id(spark_sql_labels(spark, out, newcomers))
    frame = pd.read_parquet(newcomers).sort_values("customer_id", ignore_index=True)
    numbers = frame[list(config_from_dict(cfg).features.numeric)].astype(float)
    missing = ~np.isfinite(numbers).all(axis=1)
    assert missing.any() and (~missing).any()
    assert mine.loc[missing.to_numpy(), "segment"].isna().all()
    assert mine.loc[missing.to_numpy(), "distance"].isna().all()
    score_customers(spark, model_run=str(out), input_path=str(customers),
                    output_path=str(tmp_path / "scored"))
    assert_labels_match(spark_sql_labels(spark, out, customers).dropna(),
                       pd.read_parquet(tmp_path / "scored" / "labels"))


def test_a_run_with_a_withheld_segment_is_refused_unless_included(spark, customers, tmp_path,
                                                                  capsys):
    out = tmp_path / "run"
    cfg = fixed_k_config(customers, out, 5)
    cfg["output"]["min_segment_size"] = 700
    run_segmentation(spark, config_from_dict(cfg))
    sizes = pd.read_csv(out / "segments.csv")["size"]
    assert (sizes < 700).any()
    args = ["export-sql", "--run", str(out), "--dialect", "spark", "--table", "customers"]
    assert main(args) == CONFIG
    [line] = error_lines(capsys.readouterr().err)
    assert "withholds segment(s)" in line and "--include-withheld" in line
    assert main(["export-pmml", "--run", str(out)]) == CONFIG
    [line] = error_lines(capsys.readouterr().err)
    assert "withholds segment(s)" in line
    assert main([*args, "--include-withheld"]) == 0
    text = capsys.readouterr().out
    assert "It includes the withheld segment(s)" in text
    spark.read.parquet(str(customers)).createOrReplaceTempView("customers")
    assert_labels_match(spark.sql(text).toPandas(), pd.read_parquet(out / "labels"))


@pytest.mark.parametrize(("args", "code", "words"), [
    (["--dialect", "spark", "--table", "customers; DROP TABLE x"], CONFIG,
     "is not a spark table name"),
    (["--dialect", "postgresql", "--table", "customers", "--view", "my view"], CONFIG,
     "--view 'my view' is not a postgresql table name"),
    (["--dialect", "ansi"], CONFIG, "read files, not a table: name the table"),
], ids=["table", "view", "no table"])
def test_bad_arguments_are_one_line(run, args, code, words, capsys):
    assert main(["export-sql", "--run", str(run), *args]) == code
    [line] = error_lines(capsys.readouterr().err)
    assert words in line


def test_a_directory_that_is_not_a_run_is_input_error(tmp_path, capsys):
    assert main(["export-sql", "--run", str(tmp_path), "--dialect", "spark",
                 "--table", "t"]) == INPUT
    [line] = error_lines(capsys.readouterr().err)
    assert "is not a finished segmentation run" in line


def test_an_unknown_dialect_is_a_usage_error(run, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["export-sql", "--run", str(run), "--dialect", "oracle"])
    assert exit_.value.code == CONFIG
    assert "invalid choice: 'oracle'" in capsys.readouterr().err


def test_the_sql_says_what_it_reads_and_holds(spark, run):
    text = export_sql(spark, run=str(run), dialect="postgresql", table="crm.customers",
                      view="crm.customer_segments")
    header = [line for line in text.splitlines() if line.startswith("--")]
    assert any("customer_id (id), age (number), annual_income (number)" in line
               and "channel (text)" in line for line in header), header
    assert any("keep it where the customer data is" in line for line in header)
    assert "CREATE OR REPLACE VIEW crm.customer_segments AS" in text
    assert "FROM crm.customers" in text


def test_the_pmml_gives_the_runs_labels(spark, run, customers):
    assert_labels_match(pmml_labels(spark, run, customers), pd.read_parquet(run / "labels"))


def test_the_pmml_scores_new_customers_like_segment_score(spark, run, newcomers, scored):
    assert_labels_match(pmml_labels(spark, run, newcomers), scored)


def test_the_pmml_reads_the_inputs_by_their_names(spark, run):
    text = export_pmml(spark, run=str(run))
    assert '<DataField name="annual_income" optype="continuous" dataType="double">' in text
    assert '<DataField name="channel" optype="categorical" dataType="string" />' in text
    assert "keep it where the customer data is" in text
