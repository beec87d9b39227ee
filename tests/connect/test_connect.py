"""The jobs over a real Spark Connect server give what they give in classic mode.

Every run here is the `segment` CLI in its own process (classic: ``--master local[2]``;
Connect: ``--remote sc://...``); the server's Python workers have the dependencies but not
this project, so the code they run arrived as the client's artifact.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyspark.ml import PipelineModel
from pyspark.ml.functions import vector_to_array
from sklearn.cluster import KMeans
from support.cli import DEFAULT_CONFIG, ROOT, error_lines, segment
from support.servers import ConnectServer

from segmentation.synthetic.transactions import generate_transactions

pytestmark = pytest.mark.connect

SMALL = ["--set", "model.k_min=2", "--set", "model.k_max=6", "--set", "model.restarts=3",
         "--set", "input.partitions=4", "--set", "evaluation.sample_size=800",
         "--set", "model.sweep_sample_size=1500", "--set", "output.pca_sample_size=300",
         "--set", "spark.spark.sql.shuffle.partitions=4"]
SMALL_FILES = ["metrics.csv", "segments.csv", "profiles.csv", "scatter.csv", "centroids_2d.csv"]


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("connect-work")


@pytest.fixture(scope="module")
def customers(make_customers) -> Path:
    return make_customers(3000, seed=7)


def run_args(customers: Path, out: Path) -> list[str]:
    return ["run", "--config", DEFAULT_CONFIG, "--set", f"input.path={customers}",
            "--set", f"output.path={out}", *SMALL]


def succeed(args: list[str], work: Path) -> str:
    done = segment(args, cwd=work)
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stderr


@pytest.fixture(scope="module")
def classic_run(work: Path, customers: Path) -> Path:
    succeed([*run_args(customers, work / "classic"), "--master", "local[2]"], work)
    return work / "classic"


@pytest.fixture(scope="module")
def connect_run(connect_server: ConnectServer, work: Path, customers: Path) -> Path:
    succeed([*run_args(customers, work / "connect"), "--remote", connect_server.url,
             "--report"], work)
    return work / "connect"


def labels(run: Path) -> pd.DataFrame:
    return pd.read_parquet(run / "labels").sort_values("customer_id", ignore_index=True)


def test_run_over_connect_gives_the_classic_outputs(classic_run: Path, connect_run: Path
                                                    ) -> None:
    pd.testing.assert_frame_equal(labels(connect_run), labels(classic_run), check_exact=True)
    for name in SMALL_FILES:
        got, want = pd.read_csv(connect_run / name), pd.read_csv(classic_run / name)
        if name == "metrics.csv":  # seconds are wall time
            got, want = got.drop(columns="seconds"), want.drop(columns="seconds")
        pd.testing.assert_frame_equal(got, want, check_exact=True, obj=name)
    got = json.loads((connect_run / "manifest.json").read_text())
    want = json.loads((classic_run / "manifest.json").read_text())
    for key in ("chosen_k", "segments", "rows_read", "rows_used", "rows_dropped",
                "missing_values", "selection_rule", "k_range", "final_seed", "pca"):
        assert got[key] == want[key], key
    assert (connect_run / "report" / "index.html").is_file()


def test_saved_model_reproduces_the_labels_over_connect(connect_server: ConnectServer,
                                                        connect_run: Path, customers: Path,
                                                        work: Path) -> None:
    out = work / "transformed.parquet"
    script = f"""
from pyspark.ml import PipelineModel
from segmentation.core.session import build_session
spark = build_session(remote={connect_server.url!r})
try:
    model = PipelineModel.load({str(connect_run / 'model')!r})
    scored = model.transform(spark.read.parquet({str(customers)!r}))
    frame = scored.select("customer_id", "segment", "distance").toPandas()
    frame.attrs = {{}}  # Connect attaches its query metrics, which Parquet cannot store
    frame.to_parquet({str(out)!r})
finally:
    spark.stop()
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=600, cwd=work)
    assert done.returncode == 0, done.stderr[-4000:]
    got = pd.read_parquet(out).sort_values("customer_id", ignore_index=True)
    want = labels(connect_run)
    assert (got["segment"] == want["segment"]).all()
    np.testing.assert_allclose(got["distance"], want["distance"], rtol=1e-12)


def test_score_over_connect_reproduces_the_labels(connect_server: ConnectServer,
                                                  classic_run: Path, customers: Path,
                                                  work: Path) -> None:
    succeed(["score", "--model", str(classic_run), "--input", str(customers), "--output",
             str(work / "scored"), "--remote", connect_server.url], work)
    pd.testing.assert_frame_equal(labels(work / "scored"), labels(classic_run),
                                  check_exact=True)
    manifest = json.loads((work / "scored" / "manifest.json").read_text())
    assert manifest["rows_scored"] == 3000


def test_sql_export_over_connect_is_the_classic_text(connect_server: ConnectServer,
                                                      classic_run: Path, work: Path) -> None:
    """The model's numbers read through Connect's ML client: the same SQL, character for
    character (the labels it gives are checked in test_export_sql.py)."""
    args = ["export-sql", "--run", str(classic_run), "--dialect", "postgresql",
            "--table", "customers"]
    texts = []
    for spark in (["--master", "local[2]"], ["--remote", connect_server.url]):
        done = segment([*args, *spark], cwd=work)
        assert done.returncode == 0, done.stderr[-4000:]
        texts.append(done.stdout)
    assert "CREATE" not in texts[0] and "FROM customers" in texts[0]
    assert texts[1] == texts[0]


def test_features_over_connect_match_classic(connect_server: ConnectServer, work: Path) -> None:
    transactions = work / "transactions"
    generate_transactions(400, transactions, seed=3)
    config = str(ROOT / "conf" / "features-demo.yaml")

    def args(out: str) -> list[str]:
        return ["features", "--config", config, "--set", f"transactions.path={transactions}",
                "--set", f"output.path={work / out}",
                "--set", "spark.spark.sql.shuffle.partitions=4"]

    succeed([*args("f-classic"), "--master", "local[2]"], work)
    succeed([*args("f-connect"), "--remote", connect_server.url], work)
    got = pd.read_parquet(work / "f-connect" / "features")
    want = pd.read_parquet(work / "f-classic" / "features")
    assert list(got.columns) == list(want.columns)
    pd.testing.assert_frame_equal(got.sort_values("customer_id", ignore_index=True),
                                  want.sort_values("customer_id", ignore_index=True))


def test_bad_input_is_one_line_over_connect(connect_server: ConnectServer, customers: Path,
                                            work: Path) -> None:
    done = segment([*run_args(customers, work / "bad"), "--remote", connect_server.url,
                    "--set", "features.numeric=[age,shoe_size]", "--set", "features.log1p=[]"],
                   cwd=work)
    assert done.returncode == 3, done.stderr[-3000:]
    (line,) = error_lines(done.stderr)
    assert "feature column 'shoe_size' (features.numeric) not found" in line
    assert "Traceback" not in done.stderr and not (work / "bad").exists()


def test_an_unreachable_server_is_named_within_seconds(customers: Path, work: Path) -> None:
    began = time.monotonic()
    done = segment([*run_args(customers, work / "never"), "--remote", "sc://127.0.0.1:9"],
                   cwd=work, timeout=60)
    assert time.monotonic() - began < 30
    assert done.returncode == 6
    (line,) = error_lines(done.stderr)
    assert "cannot reach the Spark Connect server at 127.0.0.1:9" in line


def test_server_workers_run_our_code_from_the_uploaded_artifact(
        connect_server: ConnectServer, work: Path) -> None:
    # Negative control: the server's Python cannot import the project on its own.
    bare = subprocess.run([str(connect_server.python_env), "-c", "import segmentation"],
                          cwd="/", capture_output=True, text=True, timeout=60)
    assert bare.returncode != 0 and "No module named 'segmentation'" in bare.stderr
    script = f"""
import json
from segmentation.core.session import build_session
spark = build_session(remote={connect_server.url!r})


def where(batches):
    import sys
    import pandas as pd
    import segmentation.model.metrics as m
    for _ in batches:
        yield pd.DataFrame({{"file": [m.__file__], "python": [sys.executable]}})

try:
    found = spark.range(4).repartition(2).mapInPandas(where, "file string, python string")
    print("FOUND " + json.dumps(sorted(set(map(tuple, found.toPandas().values.tolist())))))
finally:
    spark.stop()
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=600, cwd=work)
    assert done.returncode == 0, done.stderr[-4000:]
    found = json.loads(next(line for line in done.stdout.splitlines()
                            if line.startswith("FOUND "))[6:])
    for module_file, python in found:
        assert "segmentation-" in module_file and ".zip/segmentation/model/metrics.py" \
            in module_file, module_file
        assert python == str(connect_server.python_env)


def test_wcss_over_connect_within_one_percent_of_sklearn(spark, connect_server: ConnectServer,
                                                         make_customers, work: Path) -> None:
    data = make_customers(1500, seed=5)
    out = work / "quality-run"
    succeed(["run", "--config", DEFAULT_CONFIG, "--remote", connect_server.url,
             "--set", f"input.path={data}", "--set", f"output.path={out}",
             "--set", "model.restarts=20", "--set", "model.max_iter=100",
             "--set", "model.tol=0.000001", "--set", "output.pca_sample_size=0",
             "--set", "evaluation.sample_size=1500"], work)
    assert json.loads((out / "manifest.json").read_text())["chosen_k"] == 6
    # The features, from the saved model in this (classic) process.
    model = PipelineModel.load(str(out / "model"))
    x = np.array(model.transform(spark.read.parquet(str(data)))
                 .select(vector_to_array("features").alias("x")).toPandas().x.tolist())
    metrics = pd.read_csv(out / "metrics.csv")
    for k, wcss in zip(metrics.k, metrics.wcss, strict=True):
        reference = KMeans(n_clusters=int(k), n_init=10, random_state=0).fit(x).inertia_
        assert wcss <= reference * 1.01, f"k={k}: {wcss} vs scikit-learn {reference}"
