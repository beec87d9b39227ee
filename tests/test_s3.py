"""Runs on ``s3a://`` against a real S3-compatible server on loopback (moto, scripts/s3.sh),
through the hadoop-aws of this Spark line, with the `segment` command as its own process.

Everything written to the store is read back with an independent client (boto3) and
compared with the same job run on the local disk: the labels must be identical. The test
user's keys reach the processes only through the environment and must never appear in an
object, a manifest or what a process printed.
"""

from __future__ import annotations

import io
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from pyspark.sql import SparkSession
from support.cli import error_lines, segment
from support.runs import job_config
from support.s3 import S3Server

from segmentation.run.config import config_from_dict
from segmentation.run.job import run_segmentation
from segmentation.scoring.job import score_customers

pytestmark = [pytest.mark.slow, pytest.mark.s3]

BUCKET = "segments"
ROOT = f"s3a://{BUCKET}"


def config(tmp_path: Path, name: str, data: dict) -> str:
    """Write ``data`` as the YAML config ``name`` and return its path."""
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def run_config(input_path: str, output_path: str, spark: dict[str, str], **model: object
               ) -> dict:
    """A small run: k = 2..4 on a few thousand customers, fixed partitioning."""
    data = job_config(input_path, output_path, model={"k_min": 2, "k_max": 4, **model},
                      evaluation={"sample_size": 1000, "stability_resamples": 0})
    data["spark"] = {"spark.sql.shuffle.partitions": "4", **spark}
    return data


def labels_from(objects: dict[str, bytes], folder: str = "labels") -> pd.DataFrame:
    """The labels Parquet files among ``objects`` (as read back from the store)."""
    parts = [pq.read_table(io.BytesIO(body)).to_pandas() for key, body in sorted(objects.items())
             if key.startswith(f"{folder}/") and key.endswith(".parquet")]
    return pd.concat(parts).sort_values("customer_id", ignore_index=True)


def local_labels(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path / "labels").sort_values("customer_id", ignore_index=True)


@pytest.fixture(scope="module")
def store(s3_server: S3Server, make_customers: Callable[..., Path]) -> dict[str, Path]:
    """The bucket with the training customers uploaded; the local copies of both inputs."""
    s3_server.create_bucket(BUCKET)
    train, new = make_customers(3000, seed=61), make_customers(800, seed=62)
    s3_server.upload(train, f"{ROOT}/customers")
    return {"train": train, "new": new}


@pytest.fixture(scope="module")
def runs(s3_server: S3Server, store: dict[str, Path], spark: SparkSession,
         tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The same run on S3 (a `segment` process) and on the local disk (the reference: the
    test session, local[2] too), then a second S3 run relabelled against the first
    (model.previous_run on S3); each command's result."""
    tmp = tmp_path_factory.mktemp("s3runs")
    settings = s3_server.spark_settings()
    run_segmentation(spark, config_from_dict(run_config(str(store["train"]), str(tmp / "local"),
                                                        {})))
    results: dict[str, object] = {"local_dir": tmp / "local"}
    jobs = {
        "s3": run_config(f"{ROOT}/customers", f"{ROOT}/runs/first", settings),
        "again": run_config(f"{ROOT}/customers", f"{ROOT}/runs/second", settings,
                            previous_run=f"{ROOT}/runs/first"),
    }
    for name, data in jobs.items():
        results[name] = segment(["run", "--master", "local[2]", "--config",
                                 config(tmp, name, data)], cwd=tmp, env=s3_server.keys)
    return results


def test_a_run_on_s3_gives_the_labels_of_the_same_run_on_local_disk(s3_server, runs) -> None:
    assert runs["s3"].returncode == 0, runs["s3"].stderr[-3000:]
    objects = s3_server.objects(f"{ROOT}/runs/first")
    local = runs["local_dir"]
    pd.testing.assert_frame_equal(labels_from(objects), local_labels(local), check_exact=True)
    for name in ("segments.csv", "profiles.csv"):
        assert objects[name] == (local / name).read_bytes(), name
    metrics = pd.read_csv(io.BytesIO(objects["metrics.csv"])).drop(columns="seconds")
    pd.testing.assert_frame_equal(metrics, pd.read_csv(local / "metrics.csv").drop(
        columns="seconds"), check_exact=True)
    assert "_SUCCESS" in objects and any(key.startswith("model/") for key in objects)
    # the swap and the lock left nothing beside the run
    siblings = s3_server.objects(f"{ROOT}/runs")
    assert {key.split("/")[0] for key in siblings} == {"first", "second"}


def test_previous_run_on_s3_relabels_the_second_run(s3_server, runs) -> None:
    assert runs["again"].returncode == 0, runs["again"].stderr[-3000:]
    first = s3_server.objects(f"{ROOT}/runs/first")
    second = s3_server.objects(f"{ROOT}/runs/second")
    assert "migration.csv" in second
    # same data, same seed: every customer keeps its (relabelled) segment
    pd.testing.assert_frame_equal(labels_from(second), labels_from(first), check_exact=True)
    assert f"{ROOT}/runs/first".encode() in second["manifest.json"]


def test_scoring_with_a_model_on_s3_matches_scoring_with_the_local_model(
        s3_server, store, runs, spark, tmp_path) -> None:
    settings = s3_server.spark_settings()
    score = config(tmp_path, "score", {"input": {"path": str(store["new"])}, "spark": settings})
    remote = segment(["score", "--master", "local[2]", "--config", score, "--model",
                      f"{ROOT}/runs/first", "--output", f"{ROOT}/scored"],
                     cwd=tmp_path, env=s3_server.keys)
    assert remote.returncode == 0, remote.stderr[-3000:]
    score_customers(spark, model_run=str(runs["local_dir"]), input_path=str(store["new"]),
                    output_path=str(tmp_path / "scored"))
    scored = labels_from(s3_server.objects(f"{ROOT}/scored"))
    assert len(scored) == 800
    pd.testing.assert_frame_equal(scored, local_labels(tmp_path / "scored"), check_exact=True)


def test_the_report_of_a_run_on_s3_is_written_beside_it(s3_server, runs, tmp_path) -> None:
    env = {**s3_server.keys, "AWS_ENDPOINT_URL": s3_server.url}
    done = segment(["report", "--run", f"{ROOT}/runs/first"], cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == f"{ROOT}/runs/first/report/index.html"
    local = segment(["report", "--run", str(runs["local_dir"])], cwd=tmp_path)
    assert local.returncode == 0, local.stderr[-3000:]
    report = {key.removeprefix("report/") for key in s3_server.objects(f"{ROOT}/runs/first")
              if key.startswith("report/")}
    assert report == {p.name for p in (runs["local_dir"] / "report").iterdir()}
    assert "index.html" in report and any(name.endswith(".png") for name in report)


def test_the_keys_appear_in_no_object_and_no_output(s3_server, runs) -> None:
    secrets = {name: value.encode() for name, value in s3_server.keys.items()}
    objects = s3_server.objects(ROOT)
    assert any(key.endswith("manifest.json") for key in objects)
    printed = {f"output of {name}": (runs[name].stdout + runs[name].stderr).encode()
               for name in ("s3", "again")}
    found = [(where, name) for where, body in {**objects, **printed}.items()
             for name, secret in secrets.items() if secret in body]
    assert not found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("failure", ["endpoint down", "wrong secret key"])
def test_an_unusable_store_is_one_line_and_leaves_the_output_as_it_was(
        s3_server, runs, tmp_path, failure) -> None:
    if failure == "wrong secret key" and not s3_server.checks_keys:
        pytest.skip("the server accepts any key on this line (scripts/s3.sh --any-key)")
    target = f"{ROOT}/runs/first"
    before = s3_server.objects(target)
    endpoint = f"http://127.0.0.1:{free_port()}" if failure == "endpoint down" else None
    keys = dict(s3_server.keys)
    if failure == "wrong secret key":
        keys["AWS_SECRET_ACCESS_KEY"] = "not-the-key"
    data = run_config(f"{ROOT}/customers", target, s3_server.spark_settings(endpoint))
    started = time.monotonic()
    done = segment(["run", "--master", "local[2]", "--config", config(tmp_path, "bad", data)],
                   cwd=tmp_path, env=keys)
    seconds = time.monotonic() - started
    errors = error_lines(done.stderr)
    assert done.returncode == 6, done.stderr[-3000:]
    assert len(errors) == 1 and target in errors[0], errors
    assert seconds < 90, f"{failure}: {seconds:.0f} s"  # a JVM start, then seconds
    assert s3_server.objects(target) == before


def test_without_the_hadoop_aws_jars_the_run_says_what_to_fetch(s3_server, tmp_path) -> None:
    data = run_config(f"{ROOT}/customers", f"{ROOT}/runs/none", s3_server.spark_settings())
    done = segment(["run", "--config", config(tmp_path, "nojars", data)], cwd=tmp_path,
                   env={**s3_server.keys, "SEGMENT_CONNECTORS_DIR": str(tmp_path / "empty")})
    errors = error_lines(done.stderr)
    assert done.returncode == 2, done.stderr[-3000:]
    assert len(errors) == 1 and "org.apache.hadoop:hadoop-aws:" in errors[0], errors
