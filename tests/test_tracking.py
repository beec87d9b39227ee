"""Experiment tracking with MLflow: what a run logs, the logged model, scoring from the
registry, a real tracking server, and the refusals and failures around them.

One segmentation run logs to a sqlite store in a temp directory (module fixture); the tests
read it back with MLflow's client. The real ``mlflow server`` (scripts/mlflow.sh, one per
test session) is queried through its REST API only. Skipped only where mlflow is not
installed (``pip install -e ".[dev]"`` has it).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from support.cli import error_lines, segment
from support.runs import job_config

from segmentation.core.atomic import StagedOutput
from segmentation.core.errors import ConfigError, ServiceError
from segmentation.core.fs import file_system
from segmentation.core.secrets import REDACTED
from segmentation.features.config import features_config_from_dict
from segmentation.features.job import run_features
from segmentation.outputs.layout import RUN_FILES
from segmentation.run.config import config_from_dict
from segmentation.run.job import run_segmentation
from segmentation.synthetic.transactions import generate_transactions
from segmentation.tracking.config import MlflowConfig, resolve_mlflow

mlflow = pytest.importorskip(
    "mlflow", reason="mlflow is not installed: the tracking tests need the mlflow extra "
    '(pip install -e ".[dev]" or ".[mlflow]")')
from mlflow.tracking import MlflowClient  # noqa: E402 - after the skip

pytestmark = pytest.mark.tracking

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENT = "tracking-tests"
MODEL_NAME = "customer-segments"
#: A value that must never reach MLflow (a secret Spark setting of the run's config).
SECRET = "s3cr3t-value-of-the-tracking-test"


@pytest.fixture(scope="module")
def customers(make_customers) -> Path:
    return make_customers(1500, seed=23)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    """A sqlite tracking store in a temp directory, its experiment's artifacts beside it."""
    base = tmp_path_factory.mktemp("store")
    uri = f"sqlite:///{base / 'mlflow.db'}"
    MlflowClient(uri).create_experiment(EXPERIMENT, artifact_location=(base / "art").as_uri())
    return uri


def tracked_config(customers: Path, out: Path, uri: str, **mlflow_section) -> dict:
    cfg = job_config(customers, out, model={"k_min": 2, "k_max": 4, "restarts": 2})
    cfg["spark"] = {"spark.hadoop.fs.s3a.secret.key": SECRET}
    cfg["tracking"] = {"mlflow": {"tracking_uri": uri, "experiment": EXPERIMENT,
                                  **mlflow_section}}
    return cfg


@pytest.fixture(scope="module")
def tracked_run(spark, customers, store, tmp_path_factory) -> tuple[Path, dict]:
    """A k sweep 2..4 logged to the sqlite store, its model registered as version 1."""
    out = tmp_path_factory.mktemp("run") / "run"
    cfg = tracked_config(customers, out, store, run_name="sweep",
                         registered_model_name=MODEL_NAME)
    manifest = run_segmentation(spark, config_from_dict(cfg))
    return out, manifest


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_tracking_is_on_only_when_the_config_or_the_flag_asks() -> None:
    env = {"MLFLOW_TRACKING_URI": "http://platform:5000"}
    assert resolve_mlflow(None, None, env) is None
    assert resolve_mlflow(None, "http://flag:1", env).tracking_uri == "http://flag:1"
    section = MlflowConfig(tracking_uri="http://config:2")
    assert resolve_mlflow(section, None, env).tracking_uri == "http://config:2"
    assert resolve_mlflow(section, "http://flag:1", env).tracking_uri == "http://flag:1"
    assert resolve_mlflow(MlflowConfig(), None, env).tracking_uri == "http://platform:5000"


def test_tracking_without_mlflow_installed_names_the_extra(monkeypatch) -> None:
    from segmentation.tracking import reach

    monkeypatch.setattr(reach.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ConfigError, match=r'pip install "segmentation\[mlflow\]"'):
        reach.check_reachable("http://127.0.0.1:1")


def test_an_unreachable_server_is_refused_before_spark_starts(
    customers, tmp_path, monkeypatch, capsys
) -> None:
    from segmentation import cli
    from segmentation.core import session

    def no_spark(*args, **kwargs):
        raise AssertionError("Spark was started although the tracking server is unreachable")

    monkeypatch.setattr(session, "job_session", no_spark)
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(job_config(customers, tmp_path / "out")))
    unreachable = f"http://127.0.0.1:{closed_port()}"
    assert cli.main(["run", "--config", str(config), "--mlflow-uri", unreachable]) == 6
    errors = error_lines(capsys.readouterr().err)
    assert len(errors) == 1 and unreachable in errors[0] and "cannot be reached" in errors[0]
    assert not (tmp_path / "out").exists()

    monkeypatch.setenv("MLFLOW_TRACKING_URI", unreachable)
    assert cli.main(["score", "--model", f"models:/{MODEL_NAME}/1", "--input", str(customers),
                     "--output", str(tmp_path / "scored")]) == 6
    assert "cannot be reached" in capsys.readouterr().err
    # the environment variable alone does not switch tracking on
    assert resolve_mlflow(config_from_dict(job_config(customers, tmp_path / "o")).tracking.mlflow,
                          None) is None


def test_a_run_logs_its_config_per_k_series_files_and_model(tracked_run, store) -> None:
    out, manifest = tracked_run
    entry = json.loads((out / "manifest.json").read_text())["tracking"]
    assert entry == manifest["tracking"]
    client = MlflowClient(store)
    run = client.get_run(entry["run_id"])
    assert run.info.status == "FINISHED" and run.info.run_name == "sweep"
    assert run.data.params["model.k_max"] == "4"
    assert run.data.params["input.path"] == manifest["config"]["input"]["path"]
    assert run.data.params["chosen_k"] == str(manifest["chosen_k"])
    assert run.data.params["selection_rule"] == manifest["selection_rule"]
    assert run.data.tags["segmentation.job"] == "segment"
    assert run.data.metrics["rows_read"] == manifest["rows_read"] == 1500
    assert run.data.metrics["rows_used"] == manifest["rows_used"]

    metrics = pd.read_csv(out / "metrics.csv")
    for name in [c for c in metrics.columns if c != "k"]:
        history = sorted((m.step, m.value) for m in client.get_metric_history(
            entry["run_id"], f"sweep/{name}"))
        assert [step for step, _ in history] == metrics["k"].tolist(), name
        assert np.allclose([value for _, value in history], metrics[name], rtol=1e-12), name
        chosen = metrics.loc[metrics["k"] == manifest["chosen_k"], name].iloc[0]
        assert run.data.metrics[name] == pytest.approx(chosen, rel=1e-12), name

    files = {a.path for a in client.list_artifacts(entry["run_id"], "run")}
    assert files == {"run/manifest.json", "run/metrics.csv", "run/segments.csv",
                     "run/profiles.csv"}
    for name in ("metrics.csv", "segments.csv", "profiles.csv"):
        logged = mlflow.artifacts.download_artifacts(run_id=entry["run_id"],
                                                     artifact_path=f"run/{name}")
        assert Path(logged).read_bytes() == (out / name).read_bytes(), name
    assert {a.path for a in client.list_artifacts(entry["run_id"])} == {"run", "model"}
    assert entry["model_uri"] == f"runs:/{entry['run_id']}/model"
    assert entry["registered_model"] == {"name": MODEL_NAME, "version": "1"}
    info = mlflow.models.get_model_info(entry["model_uri"])
    assert [c["name"] for c in info.signature.outputs.to_dict()] == ["segment", "distance"]
    assert "customer_id" in info.signature.inputs.input_names()


def test_secrets_never_reach_mlflow(tracked_run, store, tmp_path) -> None:
    _, manifest = tracked_run
    run_id = manifest["tracking"]["run_id"]
    run = MlflowClient(store).get_run(run_id)
    assert run.data.params["spark.spark.hadoop.fs.s3a.secret.key"] == REDACTED
    texts = [*run.data.params.values(), *run.data.params, *run.data.tags.values()]
    assert not [t for t in texts if SECRET in t]
    logged = Path(mlflow.artifacts.download_artifacts(run_id=run_id, dst_path=str(tmp_path)))
    leaks = [p for p in logged.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]
    assert leaks == []


def test_the_logged_model_reproduces_the_labels(spark, tracked_run, store, customers) -> None:
    out, manifest = tracked_run
    mlflow.set_tracking_uri(store)
    model = mlflow.spark.load_model(manifest["tracking"]["model_uri"])
    labels = (model.transform(spark.read.parquet(str(customers)))
              .select("customer_id", "segment", "distance").toPandas()
              .sort_values("customer_id", ignore_index=True))
    expected = pd.read_parquet(out / "labels").sort_values("customer_id", ignore_index=True)
    pd.testing.assert_frame_equal(labels, expected, check_dtype=False)


LOAD_WITHOUT_PACKAGE = """
import importlib.util, sys
root = sys.argv[1]
sys.meta_path = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
sys.path = [p for p in sys.path if p not in ("", root)]
assert importlib.util.find_spec("segmentation") is None, "segmentation is still importable"
import mlflow, mlflow.spark
from pyspark.sql import SparkSession
spark = (SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false")
         .config("spark.driver.host", "127.0.0.1").getOrCreate())
mlflow.set_tracking_uri(sys.argv[2])
model = mlflow.spark.load_model(sys.argv[3])
rows = model.transform(spark.read.parquet(sys.argv[4])).select("segment").distinct().count()
import segmentation
print(rows, segmentation.__file__)
spark.stop()
"""


def test_the_logged_model_loads_where_the_package_is_not_installed(
    tracked_run, store, customers, tmp_path
) -> None:
    _, manifest = tracked_run
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", LOAD_WITHOUT_PACKAGE, str(ROOT), store,
         manifest["tracking"]["model_uri"], str(customers)],
        cwd=tmp_path, env={**env, "SPARK_LOCAL_IP": "127.0.0.1"}, capture_output=True,
        text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    segments, module = done.stdout.split()[-2:]
    assert int(segments) == manifest["chosen_k"]
    assert "/code/segmentation/" in module  # the copy logged with the model


def test_a_registered_version_scores_through_segment_score(
    tracked_run, store, customers, tmp_path
) -> None:
    out, manifest = tracked_run
    MlflowClient(store).set_registered_model_alias(MODEL_NAME, "champion", "1")
    done = segment(["score", "--model", f"models:/{MODEL_NAME}@champion", "--input",
                    str(customers), "--output", str(tmp_path / "scored"), "--mlflow-uri", store,
                    "--master", "local[2]"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    scored = pd.read_parquet(tmp_path / "scored" / "labels").sort_values(
        "customer_id", ignore_index=True)
    expected = pd.read_parquet(out / "labels").sort_values("customer_id", ignore_index=True)
    pd.testing.assert_frame_equal(scored, expected)
    written = json.loads((tmp_path / "scored" / "manifest.json").read_text())
    assert written["model_run"] == f"models:/{MODEL_NAME}@champion"
    assert pd.read_csv(tmp_path / "scored" / "segments.csv")["description"].tolist() == \
        pd.read_csv(out / "segments.csv")["description"].tolist()
    scoring = MlflowClient(store).get_run(written["tracking"]["run_id"])
    assert scoring.data.tags["segmentation.job"] == "score"
    assert scoring.data.metrics["rows_scored"] == written["rows_scored"]
    assert scoring.data.params["model"] == f"models:/{MODEL_NAME}@champion"


def test_a_missing_registered_model_is_refused_before_spark_starts(
    store, customers, tmp_path, monkeypatch, capsys
) -> None:
    from segmentation import cli
    from segmentation.core import session

    def no_spark(*args, **kwargs):
        raise AssertionError("Spark was started although the model does not exist")

    monkeypatch.setattr(session, "job_session", no_spark)
    assert cli.main(["score", "--model", "models:/no-such-model/1", "--input", str(customers),
                     "--output", str(tmp_path / "scored"), "--mlflow-uri", store]) == 3
    errors = error_lines(capsys.readouterr().err)
    assert len(errors) == 1 and "--model models:/no-such-model/1" in errors[0]
    assert not (tmp_path / "scored").exists()


def test_a_logging_failure_keeps_the_outputs_and_names_what_was_not_logged(
    spark, tracked_run, customers, store, tmp_path, monkeypatch
) -> None:
    """The run is logged before its outputs are swapped into place: a failure is recorded
    in the manifest (written once), the outputs still land, and the job then exits 4."""
    from segmentation.tracking import runs

    def broken(*args, **kwargs):
        raise ConnectionError("artifact store went away")

    monkeypatch.setattr(runs, "log_pipeline_model", broken)
    out = tmp_path / "run"
    with pytest.raises(ServiceError, match=r"complete, but MLflow run \w+ lacks: model "
                       r"\(.*artifact store went away"):
        run_segmentation(spark, config_from_dict(tracked_config(customers, out, store)))
    assert all((out / name).exists() for name in RUN_FILES)
    entry = json.loads((out / "manifest.json").read_text())["tracking"]
    assert entry["not_logged"] == ["model"] and entry["model_uri"] is None
    run = MlflowClient(store).get_run(entry["run_id"])
    assert run.info.status == "FAILED" and run.data.params["model.k_max"] == "4"
    logged = mlflow.artifacts.download_artifacts(run_id=entry["run_id"],
                                                 artifact_path="run/segments.csv")
    assert Path(logged).read_bytes() == (out / "segments.csv").read_bytes()


def test_a_store_that_cannot_open_keeps_the_outputs_of_a_features_run(spark, tmp_path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    cfg = features_config(tmp_path, f"sqlite:///{tmp_path / 'a-file' / 'mlflow.db'}")
    with pytest.raises(ServiceError, match=r"complete, but nothing was logged to MLflow"):
        run_features(spark, features_config_from_dict(cfg))
    manifest = json.loads((tmp_path / "features" / "manifest.json").read_text())
    assert "tracking" not in manifest and (tmp_path / "features" / "_SUCCESS").exists()


def test_a_run_with_withheld_segments_keeps_its_model_out_of_mlflow(
    spark, tracked_run, customers, store, tmp_path, caplog
) -> None:
    """The model holds every segment's centre: with a segment under the privacy threshold it
    stays in the run directory, and MLflow gets only the exportable files."""
    _, first = tracked_run
    smallest = min(s["size"] for s in first["segments"])
    cfg = tracked_config(customers, tmp_path / "run", store, run_name="small-segments")
    cfg["output"]["min_segment_size"] = smallest + 1
    manifest = run_segmentation(spark, config_from_dict(cfg))
    assert manifest["chosen_k"] == first["chosen_k"]  # the same fit, another threshold
    withheld = manifest["privacy"]["suppressed_segments"]
    assert withheld
    entry = manifest["tracking"]
    assert entry["model_uri"] is None and "not_logged" not in entry
    assert "fewer than output.min_segment_size" in entry["model_withheld"]
    assert "model not logged" in caplog.text
    client = MlflowClient(store)
    assert {a.path for a in client.list_artifacts(entry["run_id"])} == {"run"}
    logged = client.download_artifacts(entry["run_id"], "run/segments.csv", str(tmp_path))
    segments = pd.read_csv(logged).set_index("segment")
    assert segments.loc[withheld].drop(columns=["size", "share", "suppressed"]).isna().all().all()


def features_config(tmp_path: Path, uri: str) -> dict:
    """A features run over 150 generated customers' transactions, logged to ``uri``."""
    generate_transactions(150, tmp_path / "tx", seed=3)
    return {"transactions": {"path": str(tmp_path / "tx"), "customer_id": "CustomerID",
                             "invoice_id": "InvoiceNo", "timestamp": "InvoiceDate",
                             "timestamp_format": "yyyy-MM-dd HH:mm:ss", "quantity": "Quantity",
                             "unit_price": "UnitPrice", "product": "StockCode",
                             "cancellation_prefix": "C"},
            "output": {"path": str(tmp_path / "features")},
            "tracking": {"mlflow": {"tracking_uri": uri, "experiment": EXPERIMENT}}}


def test_a_features_run_logs_its_accounting(spark, store, tmp_path) -> None:
    manifest = run_features(spark, features_config_from_dict(features_config(tmp_path, store)))
    assert json.loads((tmp_path / "features" / "manifest.json").read_text()) == manifest
    run = MlflowClient(store).get_run(manifest["tracking"]["run_id"])
    assert run.data.tags["segmentation.job"] == "features"
    assert run.data.metrics["rows_read"] == manifest["rows_read"]
    assert run.data.metrics["customers_written"] == manifest["customers_written"]
    for reason, count in manifest["rows_dropped"].items():
        assert run.data.metrics[f"rows_dropped.{reason}"] == count
    assert json.loads(run.data.params["columns"]) == manifest["columns"]


def rest(server: str, endpoint: str, **query: str) -> dict:
    url = f"{server}/api/2.0/mlflow/{endpoint}?{urllib.parse.urlencode(query)}"
    with urllib.request.urlopen(url, timeout=30) as answer:
        return json.loads(answer.read())


def test_a_run_logged_to_a_real_server_reads_back_through_its_rest_api(
    spark, tracked_run, mlflow_server, tmp_path
) -> None:
    from segmentation.tracking.runs import track_run

    out, manifest = tracked_run
    target = MlflowConfig(tracking_uri=mlflow_server, experiment="server-test")
    model_input = spark.read.parquet(manifest["config"]["input"]["path"])
    staged = StagedOutput(file_system(str(out)), str(out))
    logged = track_run("segment", target, staged, manifest, str(out),
                       model_input=model_input).manifest_entry()

    run = rest(mlflow_server, "runs/get", run_id=logged["run_id"])["run"]
    params = {p["key"]: p["value"] for p in run["data"]["params"]}
    assert params["chosen_k"] == str(manifest["chosen_k"]) and params["model.k_min"] == "2"
    assert run["info"]["status"] == "FINISHED"
    metrics = pd.read_csv(out / "metrics.csv")
    history = rest(mlflow_server, "metrics/get-history", run_id=logged["run_id"],
                   metric_key="sweep/silhouette")["metrics"]
    history = sorted((int(m["step"]), m["value"]) for m in history)
    assert [step for step, _ in history] == metrics["k"].tolist()
    assert np.allclose([value for _, value in history], metrics["silhouette"], rtol=1e-12)
    listed = rest(mlflow_server, "artifacts/list", run_id=logged["run_id"], path="run")
    assert {f["path"] for f in listed["files"]} >= {"run/manifest.json", "run/metrics.csv"}
    assert rest(mlflow_server, "artifacts/list", run_id=logged["run_id"], path="model")["files"]
    experiment = rest(mlflow_server, "experiments/get-by-name", experiment_name="server-test")
    assert experiment["experiment"]["experiment_id"] == logged["experiment_id"]

