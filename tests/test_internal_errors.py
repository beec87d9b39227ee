"""Exit codes that mean something: a bug of ours is an internal error (exit code 70, one
line, the traceback in a file of the system temp directory); Spark's and the machine's
failures stay exit code 5 with their cause."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml

import segmentation.run.job
from segmentation.cli import main
from segmentation.core.failures import guarded, is_internal_error, our_task_exception
from segmentation.model.columns import VALUES_COL
from segmentation.model.metrics import scan_sums
from segmentation.synthetic.customers import NUMERIC_COLUMNS

INTERNAL, RUNTIME = 70, 5


@pytest.fixture
def temp_dir(tmp_path, monkeypatch) -> Path:
    """The system temp directory, for this test only."""
    directory = tmp_path / "system-temp"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


def error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def saved_traceback(line: str, temp_dir: Path) -> str:
    """The traceback file the error line names (it must be in the system temp directory)."""
    path = Path(line.rpartition("traceback in ")[2])
    assert path.parent == temp_dir and path.name.startswith("segment-internal-error-")
    return path.read_text()


def test_injected_bug_is_an_internal_error_with_a_traceback_file(spark, make_customers,
                                                                 tmp_path, temp_dir,
                                                                 monkeypatch, capsys):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "input": {"path": str(make_customers(200, seed=1)), "partitions": 2},
        "features": {"numeric": NUMERIC_COLUMNS[:3]},
        "model": {"k_min": 2, "k_max": 3, "restarts": 1},
        "output": {"path": str(tmp_path / "out"), "pca_sample_size": 0},
    }))

    def buggy(*args, **kwargs):
        return {}["chosen_k"]

    monkeypatch.setattr(segmentation.run.job, "choose_model", buggy)
    assert main(["run", "--config", str(config)]) == INTERNAL
    line = error_line(capsys)
    assert line.startswith("error: internal error (a bug in segmentation, not in your input): "
                           "KeyError: 'chosen_k'; traceback in "), line
    text = saved_traceback(line, temp_dir)
    assert "Traceback (most recent call last):" in text and "KeyError: 'chosen_k'" in text
    assert 'in buggy' in text
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / ".out.lock").exists()  # released on the way out


def _vectors(spark):
    return spark.createDataFrame([([1.0, 2.0],), ([3.0, 1.0],)], [VALUES_COL])


def _raise_in_task(spark, exc: BaseException) -> None:
    """Our mapInArrow pass (segmentation/model/metrics.py) with a per-batch step raising."""
    def per_batch(*args):
        raise exc

    scan_sums(_vectors(spark), [np.zeros((1, 2))], per_batch)


def test_our_exception_inside_a_spark_task_is_internal(spark, temp_dir, capsys):
    with pytest.raises(Exception) as raised:
        _raise_in_task(spark, KeyError("no-such-column"))
    text = str(raised.value)
    assert 'segmentation/model/metrics.py", line' in text  # the worker's traceback
    assert our_task_exception(text) == "KeyError: 'no-such-column'"
    assert is_internal_error(raised.value)

    assert guarded(lambda: _raise_in_task(spark, KeyError("no-such-column")),
                   debug=False) == INTERNAL
    line = error_line(capsys)
    assert line.startswith("error: internal error in a Spark task (a bug in segmentation, not "
                           "in your input): KeyError: 'no-such-column'; traceback in "), line
    assert "KeyError: 'no-such-column'" in saved_traceback(line, temp_dir)


def test_machine_failure_inside_our_task_is_a_runtime_failure(spark, capsys):
    assert guarded(lambda: _raise_in_task(spark, OSError(28, "No space left on device")),
                   debug=False) == RUNTIME
    line = error_line(capsys)
    assert line.startswith("error: runtime failure: ") and "No space left on device" in line


def test_spark_task_failure_without_our_code_is_a_runtime_failure(spark, capsys):
    def failing() -> None:
        spark.range(3).selectExpr("assert_true(id < 1, 'row 1 is bad')").collect()

    assert guarded(failing, debug=False) == RUNTIME
    assert "row 1 is bad" in error_line(capsys)


@pytest.mark.parametrize(("exc", "code"), [
    (TypeError("unsupported operand"), INTERNAL),
    (AttributeError("'NoneType' object has no attribute 'k'"), INTERNAL),
    (MemoryError(), RUNTIME),
    (FileNotFoundError(2, "No such file or directory"), RUNTIME),
    (ConnectionResetError(104, "Connection reset by peer"), RUNTIME),
])
def test_driver_exceptions_by_kind(temp_dir, capsys, exc, code):
    def action() -> None:
        raise exc

    assert guarded(action, debug=False) == code
    line = error_line(capsys)
    assert line.startswith("error: internal error" if code == INTERNAL
                           else "error: runtime failure: "), line


KILL_EXECUTOR = textwrap.dedent("""
    import os, signal, sys
    from pyspark.sql import SparkSession
    from segmentation.core.failures import guarded

    spark = (SparkSession.builder.master("local-cluster[1,1,1024]")
             .config("spark.executor.memory", "512m").config("spark.ui.enabled", "false")
             .config("spark.driver.host", "127.0.0.1").config("spark.task.maxFailures", "1")
             .getOrCreate())
    spark.sparkContext.setLogLevel("OFF")

    def kill_my_executor(batches):
        pid = os.getppid()  # the Python worker's ancestors: daemon, then the executor JVM
        while pid > 1:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                if b"CoarseGrainedExecutorBackend" in cmdline.read():
                    os.kill(pid, signal.SIGKILL)
                    break
            with open(f"/proc/{pid}/stat") as stat:
                pid = int(stat.read().rpartition(")")[2].split()[1])
        yield from batches

    code = guarded(lambda: spark.range(4).mapInPandas(kill_my_executor, "id long").collect(),
                   debug=False)
    spark.stop()
    sys.exit(code)
""")


@pytest.mark.slow
def test_killed_executor_is_a_runtime_failure(tmp_path):
    """A real executor JVM (Spark's local-cluster master) killed while running a task."""
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable}
    proc = subprocess.run([sys.executable, "-c", KILL_EXECUTOR], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == RUNTIME, proc.stderr[-3000:]
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and lines[0].startswith("error: runtime failure: "), proc.stderr[-3000:]
    assert "ExecutorLostFailure" in lines[0]
