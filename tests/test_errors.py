"""Every bad input of the segmentation job: one line on stderr, the exit code of its class,
no stack trace, and a pre-existing output directory left byte for byte as it was.

The CLI runs in-process (``segment.cli.main``) so all cases share the test session.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from support.cli import DEFAULT_CONFIG, error_lines, segment
from support.files import tree_digest
from support.small_table import config, good_table, write

from segmentation.cli import main
from segmentation.core.failures import guarded

CONFIG, INPUT, OUTPUT, RUNTIME = 2, 3, 4, 5


def previous_output(tmp: Path) -> Path:
    out = tmp / "out"
    (out / "labels").mkdir(parents=True)
    (out / "labels" / "part-0.parquet").write_bytes(b"previous run")
    (out / "segments.csv").write_text("segment,size\n0,10\n")
    (out / "_SUCCESS").write_text("")
    return out


# Each case: (name, builds the input + config in tmp -> config dict, exit code, fragment)
Case = tuple[str, Callable[[Path], dict], int, str]


def _input(tmp: Path, df: pd.DataFrame) -> Path:
    return write(df, tmp / "in")


def _bad_values(column: str, values) -> Callable[[Path], dict]:
    def build(tmp: Path) -> dict:
        df = good_table()
        df[column] = values if not callable(values) else values(df)
        return config(tmp, _input(tmp, df))
    return build


def _corrupt(tmp: Path) -> dict:
    data = _input(tmp, good_table())
    write(good_table(seed=1).assign(customer_id=lambda d: d.customer_id + 1000), data, "p1.parquet")
    (data / "part-9.parquet").write_bytes(b"PAR1 this is not a parquet file PAR1")
    return config(tmp, data)


def _schema_drift(tmp: Path) -> dict:
    data = _input(tmp, good_table())
    other = good_table(seed=2).assign(customer_id=lambda d: d.customer_id + 1000)
    other["spend"] = other["spend"].astype(str)
    write(other, data, "part-1.parquet")
    return config(tmp, data)


def _zero_rows(tmp: Path) -> dict:
    return config(tmp, _input(tmp, good_table().iloc[:0]))


def _empty_dir(tmp: Path) -> dict:
    (tmp / "in").mkdir()
    return config(tmp, tmp / "in")


def _not_parquet(tmp: Path) -> dict:
    (tmp / "in").mkdir()
    good_table().to_csv(tmp / "in" / "customers.csv", index=False)
    return config(tmp, tmp / "in")


def _few_distinct(tmp: Path) -> dict:
    df = good_table()
    df[["spend", "visits", "channel"]] = [1.0, 2, "web"]
    df.loc[:9, "spend"] = 5.0
    return config(tmp, _input(tmp, df), model={"k_min": 2, "k_max": 4})


def _many_levels(tmp: Path) -> dict:
    df = good_table(3000)
    df["channel"] = [f"level-{i}" for i in range(3000)]
    return config(tmp, _input(tmp, df))


def _cfg(**sections) -> Callable[[Path], dict]:
    return lambda tmp: config(tmp, _input(tmp, good_table()), **sections)


CASES: list[Case] = [
    ("unknown key", _cfg(model={"k_mx": 3}), CONFIG, "did you mean model.k_max?"),
    ("wrong type", _cfg(model={"k_max": "three"}), CONFIG, "model.k_max must be an integer"),
    ("k_min > k_max", _cfg(model={"k_min": 5, "k_max": 3}), CONFIG, "must be <= model.k_max"),
    ("k_min < 2", _cfg(model={"k_min": 1}), CONFIG, "model.k_min=1 must be >= 2"),
    ("same path", lambda t: config(t, _input(t, good_table()), output={"path": str(t / "in")}),
     CONFIG, "is the same path as input.path"),
    ("output inside input",
     lambda t: config(t, _input(t, good_table()), output={"path": str(t / "in" / "o")}),
     CONFIG, "lies inside input.path"),
    ("path missing", lambda t: config(t, t / "nowhere"), INPUT, "does not exist"),
    ("empty directory", _empty_dir, INPUT, "holds no Parquet data"),
    ("zero rows", _zero_rows, INPUT, "has zero rows"),
    ("not parquet", _not_parquet, INPUT, "customers.csv in input"),
    ("corrupt file among good ones", _corrupt, INPUT, "part-9.parquet"),
    ("schema differs between files", _schema_drift, INPUT,
     "disagree on the type of column 'spend': double in"),
    ("id column missing", _cfg(input={"id_column": "cust"}), INPUT,
     "id column 'cust' (input.id_column) not found"),
    ("feature missing", _cfg(features={"numeric": ["spend", "age"]}), INPUT,
     "present columns: customer_id, spend, visits, channel"),
    ("feature misspelt", _cfg(features={"numeric": ["spnd", "visits"]}), INPUT,
     "feature column 'spnd' (features.numeric) not found in input.path "),
    ("feature misspelt in capitals", _cfg(features={"numeric": ["Spnd", "visits"]}), INPUT,
     "; did you mean 'spend'?; present columns:"),
    ("column in two cases", lambda t: config(t, _input(t, good_table().assign(
        SPEND=lambda d: d.spend * 2)), features={"numeric": ["Spend", "visits"]}),
     INPUT, "The column `spend` already exists"),  # Spark's Parquet reader refuses it first
    ("feature not numeric", _bad_values("visits", lambda d: [f"{v},5" for v in d.visits]), INPUT,
     "feature column 'visits' (features.numeric) has type string"),
    ("feature all null", _bad_values("spend", np.nan), INPUT,
     "feature column 'spend' has no usable value"),
    ("null ids", _bad_values("customer_id", lambda d: d.customer_id.where(d.index > 2)), INPUT,
     "3 of 60 rows have a null id"),
    ("duplicate ids", _bad_values("customer_id", lambda d: d.customer_id % 50), INPUT,
     "10 of 60 rows repeat an id"),
    ("fewer distinct points than k", _few_distinct, INPUT, "distinct"),
    ("thousands of categories", _many_levels, INPUT, "features.max_categories=100"),
    ("missing values with policy fail",
     lambda t: config(t, _input(t, good_table().assign(spend=lambda d: d.spend.where(
         d.index > 0))), features={"missing": "fail"}),
     INPUT, "feature column 'spend' has 1 missing values (1 null)"),
    ("output exists, mode error", _cfg(output={"mode": "error"}), OUTPUT,
     "already exists (set output.mode: overwrite to replace it)"),
]


@pytest.mark.parametrize(("name", "build", "code", "fragment"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_fails_cleanly(spark, tmp_path, capsys, name, build, code, fragment):
    cfg = build(tmp_path)
    out = Path(cfg["output"]["path"])
    if not out.exists():
        out = previous_output(tmp_path) if out == tmp_path / "out" else out
    before = tree_digest(out) if out.exists() else None
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["run", "--config", str(path)]) == code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    assert fragment in lines[0], lines[0]
    assert "Traceback" not in err
    if before is not None:
        assert tree_digest(out) == before
    leftovers = [p.name for p in out.parent.iterdir() if ".staging-" in p.name]
    assert not leftovers


def _not_parquet_file(tmp: Path) -> Path:
    path = tmp / "customers.csv"
    good_table().to_csv(path, index=False)
    return path


@pytest.mark.parametrize(("make_input", "fragment"), [
    (lambda tmp: tmp / "nowhere", "does not exist"),
    (_not_parquet_file, "is not a readable Parquet file"),
], ids=["path missing", "task fails on a file that is not parquet"])
def test_as_its_own_process_no_java_trace_reaches_the_terminal(tmp_path, make_input, fragment):
    """What the in-process cases cannot see: the JVM's own stderr. Spark's warnings and
    errors stay, one line each; their Java stack traces do not (``--debug`` shows them)."""
    data = make_input(tmp_path)
    done = segment(["run", "--config", DEFAULT_CONFIG, "--set", f"input.path={data}",
                    "--set", f"output.path={tmp_path / 'out'}"], cwd=tmp_path)
    assert done.returncode == INPUT, done.stderr
    lines = error_lines(done.stderr)
    assert len(lines) == 1 and fragment in lines[0], done.stderr
    trace = [line for line in done.stderr.splitlines()
             if line.lstrip().startswith(("at ", "Caused by:", "Suppressed:", "... "))]
    assert not trace, done.stderr
    assert "Assume no metadata directory" not in done.stderr


def test_unreadable_yaml(tmp_path, capsys):
    path = tmp_path / "config.yaml"
    path.write_text("input: [unclosed\n")
    assert main(["run", "--config", str(path)]) == CONFIG
    assert "is not valid YAML at line" in capsys.readouterr().err


def test_output_is_a_file(spark, tmp_path, capsys):
    cfg = config(tmp_path, _input(tmp_path, good_table()))
    Path(cfg["output"]["path"]).write_text("a file")
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["run", "--config", str(path)]) == OUTPUT
    assert "exists and is a file" in capsys.readouterr().err
    assert Path(cfg["output"]["path"]).read_text() == "a file"


def test_output_not_writable(spark, tmp_path, capsys):
    cfg = config(tmp_path, _input(tmp_path, good_table()), output={"path": "/proc/segment-out"})
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["run", "--config", str(path)]) == OUTPUT
    assert "is not writable" in capsys.readouterr().err


def test_nan_and_inf_are_missing_values_and_counted(spark, tmp_path):
    df = good_table()
    spend = df.spend.to_numpy()
    spend[0], spend[1] = np.nan, np.inf
    visits = pa.array(df.visits.to_numpy(), mask=df.index.to_numpy() == 2)
    table = pa.table({"customer_id": df.customer_id.to_numpy(), "spend": pa.array(spend),
                      "visits": visits, "channel": df.channel.to_numpy()})
    (tmp_path / "in").mkdir()
    pq.write_table(table, tmp_path / "in" / "p.parquet")
    cfg = config(tmp_path, tmp_path / "in", features={"missing": "drop"})
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["run", "--config", str(path)]) == 0
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["rows_dropped"] == {"missing_value": 3}
    assert manifest["rows_used"] == 57
    assert manifest["missing_values"]["spend"] == {"null": 0, "nan": 1, "inf": 1}
    assert len(pd.read_parquet(tmp_path / "out" / "labels")) == 57


def test_a_failed_spark_task_is_one_line_naming_its_cause(spark, capsys):
    def failing_job() -> None:
        spark.range(5).selectExpr("assert_true(id < 3, 'customer 3 is not allowed')").collect()

    assert guarded(failing_job, debug=False) == RUNTIME
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: runtime failure: ")
    assert "customer 3 is not allowed" in err


class Py4JLikeError(Exception):
    """The text of the py4j error a 20M-row run with a 1g driver died of (trace shortened)."""

    __module__ = "py4j.protocol"  # like py4j's Py4JJavaError: Spark's failure, not our bug

    def __str__(self) -> str:
        return (
            "An error occurred while calling o620.collectToPython.\n"
            ": org.apache.spark.SparkException: Job aborted due to stage failure: Task 6 in "
            "stage 3.0 failed 1 times, most recent failure: Lost task 6.0 in stage 3.0 (TID 12) "
            "(localhost executor driver): org.apache.spark.memory.SparkOutOfMemoryError: "
            "[UNABLE_TO_ACQUIRE_MEMORY] Unable to acquire 65536 bytes of memory, got 0. "
            "SQLSTATE: 53200\n\tat org.apache.spark.memory.MemoryConsumer.throwOom"
            "(MemoryConsumer.java:157)\n"
        )


def test_out_of_memory_says_so_and_how_to_give_more(capsys):
    def oom() -> None:
        raise Py4JLikeError()

    assert guarded(oom, debug=False) == RUNTIME
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: Spark ran out of memory (org.apache.spark.memory."
                          "SparkOutOfMemoryError: [UNABLE_TO_ACQUIRE_MEMORY] Unable to acquire")
    assert "--set spark.spark.driver.memory=" in err and "--executor-memory" in err
