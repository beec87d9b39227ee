"""The benchmarked programs: how each one starts and how its result is read."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daemons import Server

from . import REPO

CONFIG = REPO / "conf" / "default.yaml"
VARIANT_KEYS = ("a", "b", "c", "d", "e", "f", "a0")
#: The variants that read the same rows from a lakehouse table, and its format.
TABLE_VARIANTS = {"e": "delta", "f": "iceberg"}


@dataclass(frozen=True)
class Variant:
    """One benchmarked program: how to start it and how to read its result."""

    key: str
    title: str
    command: Callable[[Path], list[str]]  # scratch dir of the run -> argv
    result: Callable[[Path, str], dict[str, Any]]  # scratch dir, stdout -> normalised result
    #: Environment entries of this variant's process, over the common ones.
    env: dict[str, str] = dataclasses.field(default_factory=dict)
    #: Processes outside the variant's own tree whose memory counts (a Connect server).
    extra_roots: tuple[int, ...] = ()


def segment_command() -> list[str]:
    """This project's ``segment`` entry point, run by the benchmark's own interpreter."""
    return [sys.executable, "-m", "segmentation.cli"]


def build_variants(data: Path, k_min: int, k_max: int, server: Server | None,
                   baseline: Path | None, tables: dict[str, Path]) -> list[Variant]:
    """The variants on ``data``: (a), (b), (c); (d) with a Connect ``server``, (a0) with a
    ``baseline`` checkout, (e) and (f) with the Delta and Iceberg copies in ``tables``
    (format -> path). (b) and (c) take their columns from the default config."""
    from segmentation.run.config import load_config

    features = load_config(CONFIG).features
    reference_args = ["--input", str(data), "--numeric", ",".join(features.numeric),
                      "--log1p", ",".join(features.log1p),
                      "--k-min", str(k_min), "--k-max", str(k_max)]

    def project(scratch: Path) -> list[str]:
        return [*segment_command(), "run", "--config", str(CONFIG),
                "--set", f"input.path={data}", "--set", f"output.path={scratch / 'run'}",
                "--set", "output.mode=overwrite", "--set", f"model.k_min={k_min}",
                "--set", f"model.k_max={k_max}", "--set", "features.categorical=[]"]

    def script(name: str) -> Callable[[Path], list[str]]:
        return lambda _scratch: [sys.executable, str(REPO / "scripts" / name), *reference_args]

    variants = [
        Variant("a", "segment run (default config, 8 numeric, no categorical)", project,
                project_result),
        Variant("b", "scikit-learn KMeans n_init=1 + silhouette on 20k sample",
                script("bench_sklearn.py"), reference_result),
        Variant("c", "plain MLlib KMeans(seed=1) + ClusteringEvaluator, cached",
                script("bench_mllib.py"), reference_result),
    ]
    if server is not None:
        url = server.url
        variants.append(Variant("d", "(a) over Spark Connect (warm local server)",
                                lambda scratch: [*project(scratch), "--remote", url],
                                project_result, extra_roots=(server.pid,)))
    def from_table(fmt: str) -> Callable[[Path], list[str]]:
        return lambda scratch: [*project(scratch), "--set", f"input.format={fmt}",
                                "--set", f"input.path={tables[fmt]}"]

    variants += [Variant(key, f"(a) reading the same rows from a {fmt} table",
                         from_table(fmt), project_result)
                 for key, fmt in TABLE_VARIANTS.items() if fmt in tables]
    if baseline is not None:
        python = str(bare_python())
        variants.append(Variant("a0", f"(a) with the package of {baseline}",
                                lambda scratch: [python, *project(scratch)[1:]], project_result,
                                env={"PYTHONPATH": str(baseline), "PYSPARK_PYTHON": python,
                                     "PYSPARK_DRIVER_PYTHON": python}))
    return variants


def bare_python() -> Path:
    """An interpreter with this project's dependencies but not the project itself."""
    build = REPO / "build" / "submit"
    python = build / "python-env" / "bin" / "python"
    if not python.is_file():
        subprocess.run([str(REPO / "scripts" / "package.sh")], check=True,
                       capture_output=True, env={**os.environ, "SEGMENT_BUILD_DIR": str(build),
                                                 "SEGMENT_PYTHON": sys.executable})
    return python


def project_result(scratch: Path, _stdout: str) -> dict[str, Any]:
    """Chosen k, WCSS per k and stage timings from the run's manifest.json and metrics.csv."""
    run = scratch / "run"
    manifest = json.loads((run / "manifest.json").read_text())
    with open(run / "metrics.csv", newline="") as handle:
        wcss = {row["k"]: float(row["wcss"]) for row in csv.DictReader(handle)}
    return {"chosen_k": manifest["chosen_k"], "wcss": wcss, "rows": manifest["rows_used"],
            "details": {"timings": manifest["timings"],
                        "job_seconds": manifest["duration_seconds"]}}


def reference_result(_scratch: Path, stdout: str) -> dict[str, Any]:
    """Chosen k, WCSS per k and timings from the JSON line a reference script prints last."""
    result = json.loads(stdout.strip().splitlines()[-1])
    return {"chosen_k": result["chosen_k"], "rows": result["rows"],
            "wcss": {str(r["k"]): r["wcss"] for r in result["per_k"]},
            "details": {"timings": result["timings"], "per_k": result["per_k"]}}

