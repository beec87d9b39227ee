"""One Spark line end to end, run by scripts/matrix.sh in that line's environment
(``scripts/setup.sh --spark X.Y dev``) after test_reference.py made the shared inputs and
the newest line's runs: the generators, ``segment run`` with the default config (tracked to
MLflow), ``score`` (with the newest line's model and with the registered one), ``features``,
``report``, spark-submit to a standalone cluster of this line's own pip Spark, and Spark
Connect (4.0 on; refused in one line before), ``s3a://`` through this line's hadoop-aws. Each
answer must be the newest line's.

The run's directory stays in ``$SEGMENT_MATRIX_DIR/lines/X.Y/run`` for
test_across_lines.py (a model saved here, scored on the newest line).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from daemons import SCRIPTS
from support.cli import DEFAULT_CONFIG, ROOT, error_lines, segment
from support.cluster import Cluster, start_cluster, stop_cluster
from support.cluster_runs import RUN_TIMEOUT
from support.exported import assert_labels_match, pmml_labels, spark_sql_labels
from support.matrix import (
    CUSTOMERS,
    SEED,
    SMALL,
    TRANSACTION_CUSTOMERS,
    assert_same_labels,
    assert_same_run,
    labels,
    line,
    matrix_dir,
    segment_here,
)
from support.s3 import S3Server
from support.servers import ConnectServer

from segmentation import assign, cli
from segmentation.core.connectors import CONNECTORS, TABLE_FORMATS
from segmentation.core.sparkversion import CONNECT_SINCE, client_version, spark_line
from segmentation.model.assign import SegmentAssigner

MATRIX = matrix_dir()
HERE = MATRIX / "lines" / line()
CUSTOMERS_PATH = MATRIX / "customers"
REFERENCE = MATRIX / "reference"
MODEL_NAME = "matrix-segments"
#: The table formats whose connector this line has.
LAKEHOUSE = [fmt for fmt in TABLE_FORMATS if line() in CONNECTORS[fmt].releases]
FIXTURE = ROOT / "tests" / "fixtures" / "run-v1"
pytestmark = pytest.mark.matrix


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A sqlite MLflow store with the run's experiment and scoring's default one, their
    artifacts beside it (not in ./mlruns)."""
    from mlflow.tracking import MlflowClient

    base = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{base / 'mlflow.db'}"
    for name in ("matrix", "segmentation"):
        MlflowClient(uri).create_experiment(name, artifact_location=(base / name).as_uri())
    return uri


@pytest.fixture(scope="module")
def line_run(spark, store: str) -> Path:
    """This line's run of the default config, logged to MLflow and its model registered."""
    run = HERE / "run"
    segment_here("run", "--config", DEFAULT_CONFIG, "--set", f"input.path={CUSTOMERS_PATH}",
                 "--set", f"output.path={run}", "--mlflow-uri", store,
                 "--set", "tracking.mlflow.experiment=matrix",
                 "--set", f"tracking.mlflow.registered_model_name={MODEL_NAME}")
    return run


def small_run(line_run: Path, out: Path) -> list[str]:
    """The small sweep's arguments of ``segment run``, retrained from this line's run."""
    return ["run", "--config", DEFAULT_CONFIG, "--set", f"input.path={CUSTOMERS_PATH}",
            "--set", f"output.path={out}", *SMALL, "--set", f"model.previous_run={line_run}"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
            ) -> Cluster:
    """A master and one worker from this line's pip Spark; stopped by pid at the end."""
    base = tmp_path_factory.mktemp("cluster")
    request.addfinalizer(lambda: stop_cluster(base / "state"))
    return start_cluster(base / "state", base / "build", 1)


def read(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path)


def test_the_generators_give_the_shared_inputs(tmp_path: Path) -> None:
    segment_here("generate", "--customers", str(CUSTOMERS), "--seed", str(SEED),
                 "--output", str(tmp_path / "customers"))
    segment_here("generate-transactions", "--customers", str(TRANSACTION_CUSTOMERS),
                 "--seed", str(SEED), "--output", str(tmp_path / "transactions"))
    for name in ("customers", "transactions"):
        pd.testing.assert_frame_equal(read(tmp_path / name), read(MATRIX / name),
                                      check_exact=True)


def test_a_run_gives_the_newest_lines_answer(line_run: Path) -> None:
    assert_same_run(line_run, REFERENCE)


def test_a_retrained_run_gives_the_newest_lines_answer(spark, line_run: Path,
                                                       tmp_path: Path) -> None:
    segment_here(*small_run(line_run, tmp_path / "run"))
    assert_same_run(tmp_path / "run", MATRIX / "reference-small")


def test_a_database_table_scores(spark, postgres, line_run: Path, tmp_path: Path) -> None:
    """Customers read over JDBC from PostgreSQL, the labels also as a catalog table."""
    spark.read.parquet(str(CUSTOMERS_PATH)).write.format("jdbc").options(
        **postgres.spark_options(), dbtable="matrix_customers").mode("overwrite").save()
    config = tmp_path / "score.yaml"
    config.write_text(json.dumps({"input": {"jdbc": postgres.jdbc(table="matrix_customers")}}))
    segment_here("score", "--model", str(line_run), "--config", str(config),
                 "--output", str(tmp_path / "scored"), "--output-table", "matrix_scored")
    assert_same_labels(tmp_path / "scored", REFERENCE)
    assert spark.table("matrix_scored").count() == CUSTOMERS


def test_the_sql_export_labels_like_the_run(spark, line_run: Path) -> None:
    """The model read back with this line's Spark ML, written as Spark SQL and run by this
    line's SQL engine: the run's segments, distances to 1e-9 relative."""
    assert_labels_match(spark_sql_labels(spark, line_run, CUSTOMERS_PATH,
                                         table="matrix_customers"), labels(line_run))


def test_the_pmml_export_labels_like_the_run(spark, line_run: Path) -> None:
    """The model read back with this line's Spark ML, written as PMML, evaluated by pypmml."""
    assert_labels_match(pmml_labels(spark, line_run, CUSTOMERS_PATH), labels(line_run))


def test_the_report(line_run: Path) -> None:
    segment_here("report", "--run", str(line_run))
    assert "<html" in (line_run / "report" / "index.html").read_text(encoding="utf-8")


def test_a_model_saved_on_the_newest_line_scores_here_or_is_refused(spark, tmp_path: Path,
                                                                     capsys) -> None:
    """Spark loads models of its own line and older ones: on an older line the newest line's
    model is refused in one line naming both versions, before Spark reads it."""
    scores_or_is_refused(REFERENCE, tmp_path / "scored", capsys)


def test_a_run_of_an_older_version_loads_here(spark, make_customers, tmp_path: Path,
                                              capsys) -> None:
    """tests/fixtures/run-v1 (an earlier version of this project, on Spark 4.3.0): its small
    files make a report on every line; its model scores where Spark can load it."""
    run = shutil.copytree(FIXTURE, tmp_path / "run-v1")
    segment_here("report", "--run", str(run))
    assert assign.SegmentAssigner is SegmentAssigner  # the class its model names
    scores_or_is_refused(run, tmp_path / "scored", capsys, make_customers(300, seed=5))


def scores_or_is_refused(run: Path, out: Path, capsys, customers: Path = CUSTOMERS_PATH
                         ) -> None:
    """``segment score`` with ``run``'s model: the run's own labels (distances to 1e-9) where
    this line can load it, else exit 3 and one line naming the model's Spark and this
    client's pyspark."""
    args = ["score", "--model", str(run), "--input", str(customers), "--output", str(out)]
    saved = model_spark_version(run)
    if spark_line(saved) <= spark_line(client_version()):
        segment_here(*args)
        pd.testing.assert_frame_equal(labels(out), labels(run), check_exact=False, rtol=1e-9)
        return
    capsys.readouterr()
    assert cli.main(args) == 3
    errors = error_lines(capsys.readouterr().err)
    assert len(errors) == 1, errors
    assert f"saved by Spark {saved}" in errors[0] and client_version() in errors[0], errors
    assert not out.exists()


def model_spark_version(run: Path) -> str:
    metadata = next((run / "model" / "metadata").glob("part-*"))
    return json.loads(metadata.read_text().splitlines()[0])["sparkVersion"]


def test_the_registered_model_scores(spark, line_run: Path, store: str, tmp_path: Path
                                     ) -> None:
    segment_here("score", "--model", f"models:/{MODEL_NAME}/1", "--mlflow-uri", store,
                 "--input", str(CUSTOMERS_PATH), "--output", str(tmp_path / "scored"))
    assert_same_labels(tmp_path / "scored", REFERENCE)


def test_features_give_the_newest_lines_features(spark, tmp_path: Path) -> None:
    segment_here("features", "--config", str(ROOT / "conf" / "features-demo.yaml"),
                 "--set", f"transactions.path={MATRIX / 'transactions'}",
                 "--set", f"output.path={tmp_path / 'out'}")
    got, want = (read(run / "features") for run in (tmp_path / "out",
                                                    MATRIX / "reference-features"))
    key = want.columns[0]
    pd.testing.assert_frame_equal(got.sort_values(key, ignore_index=True),
                                  want.sort_values(key, ignore_index=True),
                                  check_exact=False, rtol=1e-9, atol=0)


@pytest.mark.skipif(not LAKEHOUSE, reason=f"no Delta Lake or Iceberg release for Spark {line()}")
@pytest.mark.skipif(os.environ.get("SEGMENT_LAKEHOUSE_LINE") == line(),
                    reason="tests/lakehouse reads and publishes both formats on this line")
def test_lakehouse_tables_score(line_run: Path, tmp_path: Path) -> None:
    """The customers copied into a Delta Lake and an Iceberg table (those this line has) with
    ``segment sql``; ``segment score`` reading each and publishing the scores as a table of
    that format: the newest line's labels, in the files and in the committed table."""
    warehouse = tmp_path / "warehouse"
    catalog = "spark.sql.catalog.lake"
    spark = {catalog: "org.apache.iceberg.spark.SparkCatalog", f"{catalog}.type": "hadoop",
             f"{catalog}.warehouse": warehouse.as_uri()}
    copies = {"delta": (tmp_path / "customers-delta", f"delta.`{tmp_path / 'customers-delta'}`",
                        f"delta.`{tmp_path / 'scored-delta-table'}`"),
              "iceberg": (warehouse / "db" / "customers", "lake.db.customers", "lake.db.scored")}
    statements = [f"CREATE TABLE {copies[fmt][1]} USING {fmt} AS "
                  f"SELECT * FROM parquet.`{CUSTOMERS_PATH}`" for fmt in LAKEHOUSE]
    conf = [arg for key, value in spark.items() for arg in ("--conf", f"{key}={value}")]
    done = segment(["sql", "--connectors", ",".join(LAKEHOUSE), *conf, *statements],
                   cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-4000:]
    for fmt in LAKEHOUSE:
        out, config = tmp_path / f"scored-{fmt}", tmp_path / f"score-{fmt}.yaml"
        config.write_text(json.dumps({"input": {"path": str(copies[fmt][0]), "format": fmt},
                                      "spark": spark}))
        done = segment(["score", "--model", str(line_run), "--config", str(config),
                        "--output", str(out), "--output-table", copies[fmt][2],
                        "--output-table-format", fmt], cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-4000:]
        assert_same_labels(out, REFERENCE)
        published = json.loads((out / "manifest.json").read_text())["output_table"]
        assert (published["format"], published["operation"]) == (fmt, "create")
        assert isinstance(published["version"], int), published  # the commit, found by its tag
    counts = [f"SELECT count(*) AS n, sum(segment) AS s FROM {copies[fmt][2]}"
              for fmt in LAKEHOUSE]
    done = segment(["sql", "--connectors", ",".join(LAKEHOUSE), *conf, *counts], cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-4000:]
    want = labels(REFERENCE)
    assert done.stdout.split() == ["n", "s", str(len(want)), str(want["segment"].sum())] * len(
        LAKEHOUSE)


@pytest.mark.s3
def test_s3a_through_this_lines_hadoop_aws(s3_server: S3Server, line_run: Path,
                                           tmp_path: Path) -> None:
    """``segment score`` (its own process, this line's hadoop-aws from the connectors table)
    reads the customers from the loopback S3 server and writes the labels there: read back
    with boto3, the newest line's labels; ``segment report`` of this line's run copied to
    the store writes the report beside it. The keys go only through the environment."""
    bucket = s3_server.create_bucket("matrix")
    s3_server.upload(CUSTOMERS_PATH, f"{bucket}/customers")
    s3_server.upload(shutil.copytree(line_run, tmp_path / "run",
                                     ignore=shutil.ignore_patterns("report")), f"{bucket}/run")
    config = tmp_path / "s3.yaml"
    config.write_text(json.dumps({"input": {"path": f"{bucket}/customers"},
                                  "spark": s3_server.spark_settings()}))
    done = segment(["score", "--model", str(line_run), "--config", str(config), "--output",
                    f"{bucket}/scored"], cwd=tmp_path, env=s3_server.keys)
    assert done.returncode == 0, done.stderr[-4000:]
    assert "FileOutputCommitter" not in done.stderr  # quieted in conf/log4j2.properties
    assert_same_labels(s3_server.download(f"{bucket}/scored", tmp_path / "scored"), REFERENCE)
    done = segment(["report", "--run", f"{bucket}/run"], cwd=tmp_path,
                   env={**s3_server.keys, "AWS_ENDPOINT_URL": s3_server.url})
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stdout.strip() == f"{bucket}/run/report/index.html"
    report = s3_server.objects(f"{bucket}/run/report")
    assert b"<html" in report["index.html"] and any(key.endswith(".png") for key in report)


def test_spark_submit_to_this_lines_cluster(cluster: Cluster, line_run: Path,
                                            tmp_path: Path) -> None:
    """scripts/submit.sh checks the master's version (the same line: it passes), then scores
    with this line's run on the cluster: the newest line's labels."""
    done = subprocess.run(
        [str(SCRIPTS / "submit.sh"), "--no-package", "--conf", "spark.ui.enabled=false",
         "jobs/score.py", "--model", str(line_run), "--input", str(CUSTOMERS_PATH),
         "--output", str(tmp_path / "scored")],
        cwd=tmp_path, env=cluster.env, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert done.returncode == 0, done.stderr[-6000:]
    assert f"{cluster.url} runs Spark {client_version()}" in done.stderr
    assert_same_labels(tmp_path / "scored", REFERENCE)


def test_a_client_of_another_line_is_refused_before_the_job(cluster: Cluster,
                                                            tmp_path: Path) -> None:
    """The newest line's client (.venv) against this line's master: one line, both versions,
    exit 2, nothing written."""
    other = Path(os.environ["SEGMENT_MATRIX_PRIMARY"]) / "segment"
    ui_port = (cluster.state / "webui-port").read_text()
    done = subprocess.run(
        [str(other), "run", "--config", DEFAULT_CONFIG, "--master", cluster.url,
         "--set", f"input.path={CUSTOMERS_PATH}", "--set", f"output.path={tmp_path / 'out'}",
         "--set", f"spark.spark.master.ui.port={ui_port}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"})
    errors = error_lines(done.stderr)
    assert done.returncode == 2, done.stderr[-4000:]
    assert len(errors) == 1 and f"runs Spark {client_version()}" in errors[0], errors
    assert re.search(r"client's pyspark is \d+\.\d+", errors[0]), errors
    assert not (tmp_path / "out").exists()


def test_spark_connect(request: pytest.FixtureRequest, line_run: Path, tmp_path: Path
                       ) -> None:
    """4.0 on: the retrained small sweep over this line's own Connect server gives the newest
    line's classic answer. Before 4.0: refused in one line naming the version needed,
    before any work."""
    args = small_run(line_run, tmp_path / "run")
    if spark_line(client_version()) < CONNECT_SINCE:
        done = segment([*args, "--remote", "sc://127.0.0.1:1"], cwd=tmp_path, timeout=120)
        errors = error_lines(done.stderr)
        assert done.returncode == 2, done.stderr[-4000:]
        assert len(errors) == 1 and "needs pyspark 4.0 or newer" in errors[0], errors
        assert client_version() in errors[0]
        assert not (tmp_path / "run").exists()
        return
    server: ConnectServer = request.getfixturevalue("connect_server")
    done = segment([*args, "--remote", server.url], cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-6000:]
    assert_same_run(tmp_path / "run", MATRIX / "reference-small")
