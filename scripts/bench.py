"""The benchmark (issues 6 and 18): this project's job against scikit-learn and plain MLlib.

Three variants, each timed as a whole process (interpreter, imports and JVM start
included), on the same generated customers and the same 8 numeric features:

- (a) ``segment run`` with ``conf/default.yaml``, the categorical feature turned off
  (``features.categorical=[]``) so that all three cluster the same 8 numeric columns;
- (b) the scikit-learn reference, ``scripts/bench_sklearn.py``;
- (c) the plain MLlib sweep, ``scripts/bench_mllib.py``;
- (d) (a) over Spark Connect: the same ``segment run`` as a client of a local server that
  ``scripts/connect.sh`` starts once, before the first repeat (a warm server, as users
  have one; its start is not timed, its memory is counted with the client's);
- (a0), with ``--baseline DIR``: (a) with the ``segmentation`` package of another
  checkout, to measure a change side by side with its predecessor: it runs the
  interpreter of ``scripts/package.sh`` (the dependencies without this project) with
  ``PYTHONPATH=DIR``, for the driver and Spark's Python workers alike.

The table is generated once per size with ``segment generate`` (fixed seed) and cached
under ``--data-dir``. Repeats alternate the order (a, b, c, then b, c, a, ...) so that a
drift of the machine's load does not favour one variant. Each process's wall time and
the peak of the summed resident memory of its process tree (the JVM and Spark's Python
workers are descendants of the Python driver), sampled from /proc every 0.2 s, are
recorded with its chosen k and its WCSS at every k. The summary (min/median/max per
variant, paired ratios a/b and c/a, quality) is printed as markdown and written as JSON.

``--customers`` takes several sizes, each optionally with its own repeat count
(``SIZE:REPEATS``): the data of every size is generated (or reused) first, then the sizes
run in the given order in one process, and the issue-6 targets are evaluated on the sizes
present. ``--memory-cap VARIANT=SIZE`` runs a variant under ``prlimit --as`` and
``--time-cap VARIANT=SECONDS`` kills its process group after that long, so that a
reference that cannot finish at a size is recorded as such (its status, and its wall time
and memory up to then) instead of aborting the benchmark.

Usage::

    .venv/bin/python scripts/bench.py --customers 2000000 --repeats 2
    .venv/bin/python scripts/bench.py --customers 2000000:2,20000000:1,100000000:1 \
        --memory-cap b=20g --time-cap c=300   # the full run of issue 18
    .venv/bin/python scripts/bench.py --customers 20000000 --repeats 1 --only a
    .venv/bin/python scripts/bench.py --customers 2000000 --repeats 2 --only a,b,c,d \
        --baseline /tmp/before   # a clean checkout of the commit before the change
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import datetime as dt
import importlib.metadata
import json
import math
import operator
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from segmentation.synthetic.customers import SEGMENTS

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "conf" / "default.yaml"
GENERATE_SEED = 7
SAMPLE_SECONDS = 0.2
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
GB = 1024**3
#: Paired wall-time ratios (numerator, denominator) and the issue-6 target of each.
RATIOS = {"a/b": ("a", "b", "<= 1.0 at 2M"), "c/a": ("c", "a", ">= 4 at 2M"),
          "d/a": ("d", "a", "Connect against classic"),
          "a/a0": ("a", "a0", "this checkout against --baseline")}
VARIANT_KEYS = ("a", "b", "c", "d", "a0")
#: The generator's number of ground-truth segments: the k that (a) should choose.
TRUE_K = len(SEGMENTS)
BYTE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
OK = "ok"


class BenchError(RuntimeError):
    """A benchmarked process failed; the message carries the end of its stderr."""


@dataclass(frozen=True)
class Variant:
    """One benchmarked program: how to start it and how to read its result."""

    key: str
    title: str
    command: Callable[[Path], list[str]]  # scratch dir of the run -> argv
    result: Callable[[Path, str], dict[str, Any]]  # scratch dir, stdout -> normalised result
    #: Environment entries of this variant's process, over the common ones.
    env: dict[str, str] = dataclasses.field(default_factory=dict)


class Size(NamedTuple):
    """One benchmarked table size and the repeats of each variant on it."""

    customers: int
    repeats: int


@dataclass(frozen=True)
class Cap:
    """Limits of one variant's process: address space in bytes and wall seconds."""

    memory_bytes: int | None = None
    seconds: float | None = None

    def wrap(self, argv: list[str]) -> list[str]:
        """``argv`` under ``prlimit --as`` when memory is capped: RLIMIT_AS makes the
        process's own allocations fail, so the kernel's OOM killer hits nothing else."""
        if self.memory_bytes is None:
            return argv
        return ["prlimit", f"--as={self.memory_bytes}", "--", *argv]


def main(argv: Sequence[str] | None = None) -> int:
    """Generate (or reuse) the data of every size, run every size in turn, print and save
    the per-size summaries and the targets."""
    args = parse_args(argv)
    command = shlex.join(["scripts/bench.py", *(sys.argv[1:] if argv is None else argv)])
    machine = machine_info()
    print(f"$ {command}\n{format_machine(machine)}", flush=True)
    data = {size.customers: ensure_data(size.customers, args.data_dir) for size in args.sizes}
    started, load_start = dt.datetime.now(dt.timezone.utc), os.getloadavg()
    server = ConnectServer(args.data_dir / "connect-state", args.driver_memory)
    try:
        if "d" in args.only:
            server.start()
        reports = [bench_size(args, size, data[size.customers], server) for size in args.sizes]
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        server.stop()
    targets = evaluate_targets(reports)
    result = {
        "command": command, "machine": machine, "started_at": started.isoformat(),
        "load_average_start": load_start, "load_average_end": os.getloadavg(),
        "caps": {key: dataclasses.asdict(cap) for key, cap in args.caps.items()},
        "sizes": reports, "targets": targets,
    }
    print("\n".join([*map(markdown, reports), targets_markdown(targets)]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nJSON: {args.out}")
    return 0


def bench_size(args: argparse.Namespace, size: Size, data: Path, server: ConnectServer
               ) -> dict[str, Any]:
    """Every repeat of every variant on one size's ``data``, summarised; logs in ``logs-N``."""
    log_dir = args.data_dir / f"logs-{size.customers}"
    log_dir.mkdir(parents=True, exist_ok=True)
    started, load_start = dt.datetime.now(dt.timezone.utc), os.getloadavg()
    variants = [v for v in build_variants(data, args.k_min, args.k_max, server, args.baseline)
                if v.key in args.only]
    runs = run_all(variants, size.repeats, child_env(args.driver_memory), log_dir, server,
                   args.caps)
    report = summarize(runs, variants)
    report.update(
        customers=size.customers, repeats=size.repeats, k_range=[args.k_min, args.k_max],
        data=str(data), generate_seed=GENERATE_SEED,
        driver_memory=args.driver_memory or DEFAULT_MEMORY, started_at=started.isoformat(),
        load_average_start=load_start, load_average_end=os.getloadavg(), logs=str(log_dir),
    )
    return report


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line; ``--out`` defaults to ``DATA_DIR/bench-customers-N_M....json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", required=True, metavar="SIZE[:REPEATS],...",
                        help="comma-separated sizes (rows to generate), each optionally with "
                        "its own repeats: 2000000:2,20000000")
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs of each variant at a size without :REPEATS")
    parser.add_argument("--data-dir", type=Path, default=REPO / "bench-data",
                        help="cache of generated tables (default: bench-data/)")
    parser.add_argument("--out", type=Path, help="JSON result file")
    parser.add_argument("--k-min", type=int, default=2)
    parser.add_argument("--k-max", type=int, default=10)
    parser.add_argument("--only", type=lambda s: s.split(","), default=["a", "b", "c"],
                        help="comma-separated subset of the variants a,b,c,d (default "
                        "a,b,c; --baseline adds a0)")
    parser.add_argument("--baseline", type=Path,
                        help="a checkout whose segmentation package runs as variant (a0)")
    parser.add_argument("--driver-memory",
                        help="Spark driver memory of (a) and (c), e.g. 8g (default: each "
                        "one's own: half the RAM for (a), Spark's 1g for (c))")
    parser.add_argument("--memory-cap", action="append", default=[], metavar="VARIANT=SIZE",
                        help="run VARIANT under prlimit --as=SIZE (e.g. b=20g); repeatable")
    parser.add_argument("--time-cap", action="append", default=[],
                        metavar="VARIANT=SECONDS",
                        help="kill VARIANT's processes after SECONDS (e.g. c=900); repeatable")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    try:
        args.sizes = parse_sizes(args.customers, args.repeats)
    except ValueError as exc:
        parser.error(f"--customers: {exc}")
    if not 2 <= args.k_min <= args.k_max:
        parser.error(f"need 2 <= --k-min ({args.k_min}) <= --k-max ({args.k_max})")
    if not args.only or set(args.only) - set(VARIANT_KEYS):
        parser.error(f"--only takes a comma-separated subset of a,b,c,d, not {args.only}")
    memory = cap_values(parser, "--memory-cap", args.memory_cap, parse_bytes)
    seconds = cap_values(parser, "--time-cap", args.time_cap, float)
    args.caps = {key: Cap(memory.get(key), seconds.get(key))
                 for key in VARIANT_KEYS if key in memory or key in seconds}
    if args.baseline is not None:
        args.baseline = args.baseline.resolve()
        if not (args.baseline / "segmentation" / "__init__.py").is_file():
            parser.error(f"--baseline {args.baseline} holds no segmentation package")
        args.only = [*args.only, "a0"]
    args.data_dir = args.data_dir.resolve()
    joined = "_".join(str(size.customers) for size in args.sizes)
    args.out = args.out or args.data_dir / f"bench-customers-{joined}.json"
    return args


def parse_sizes(text: str, default_repeats: int) -> list[Size]:
    """``2000000:2,20000000`` -> sizes in the given order; a size without ``:R`` gets
    ``default_repeats``. A size listed twice is refused (its logs would overwrite)."""
    sizes: list[Size] = []
    for item in text.split(","):
        customers, _, repeats = item.strip().partition(":")
        if not re.fullmatch(r"\d+", customers) or not re.fullmatch(r"\d*", repeats):
            raise ValueError(f"expected SIZE[:REPEATS],... with whole numbers, not {item!r}")
        size = Size(int(customers), int(repeats) if repeats else default_repeats)
        if size.customers < 1 or size.repeats < 1:
            raise ValueError(f"sizes and repeats must be >= 1, not {item!r}")
        if size.customers in [s.customers for s in sizes]:
            raise ValueError(f"{size.customers} is listed twice")
        sizes.append(size)
    return sizes


def parse_bytes(text: str) -> int:
    """``20g`` -> bytes (units k, m, g, t of 1024; none: bytes)."""
    match = re.fullmatch(r"(\d+)([kmgt]?)", text.strip().lower())
    if match is None:
        raise ValueError(text)
    return int(match[1]) * BYTE_UNITS[match[2]]


def cap_values(parser: argparse.ArgumentParser, option: str, items: list[str],
               convert: Callable[[str], float]) -> dict[str, Any]:
    """``["b=20g", ...]`` -> ``{"b": convert("20g")}``; a bad item is a one-line error."""
    values: dict[str, Any] = {}
    for item in items:
        key, _, text = item.partition("=")
        try:
            value = convert(text)
        except ValueError:
            value = math.nan
        if key not in VARIANT_KEYS or not 0 < value < math.inf:
            parser.error(f"{option} takes VARIANT=VALUE, VARIANT one of "
                         f"{','.join(VARIANT_KEYS)} and VALUE positive, not {item!r}")
        values[key] = value
    return values


# --- machine and data ---------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    """What the timings depend on, read now: CPU, cores, RAM, Java, Python, library versions."""
    cpu = next((line.split(":", 1)[1].strip() for line in read_lines("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    mem_kb = next(int(line.split()[1]) for line in read_lines("/proc/meminfo")
                  if line.startswith("MemTotal:"))
    versions = {name: importlib.metadata.version(name)
                for name in ("pyspark", "scikit-learn", "pandas", "numpy", "pyarrow")}
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(mem_kb / 1024**2, 1),
            "os": platform.platform(), "java": java_version(),
            "python": platform.python_version(), **versions}


def read_lines(path: str) -> list[str]:
    with open(path) as handle:
        return handle.read().splitlines()


def java_version() -> str:
    """First line of ``java -version`` of the Java Spark starts ($JAVA_HOME, else PATH)."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if java is None:
        return "not found"
    done = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    return (done.stderr or done.stdout).splitlines()[0].strip()


def format_machine(machine: dict[str, Any]) -> str:
    """One line per fact, for the script's output and BENCHMARKS.md."""
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return "\n".join([f"{key}: {value}" for key, value in machine.items()]
                     + [f"load average (1, 5, 15 min) now: {load}"])


def ensure_data(customers: int, data_dir: Path) -> Path:
    """``DATA_DIR/customers-N``: generated once with ``segment generate``, then reused.

    Generation writes to a sibling directory that is renamed when complete, so an
    interrupted generation is never mistaken for a cached table.
    """
    target = data_dir / f"customers-{customers}"
    if target.is_dir():
        print(f"reusing {target}", flush=True)
        return target
    partial = data_dir / f"customers-{customers}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    print(f"generating {customers} customers into {target}", flush=True)
    subprocess.run([*segment_command(), "generate", "--customers", str(customers),
                    "--output", str(partial), "--seed", str(GENERATE_SEED)],
                   cwd=REPO, check=True)
    partial.rename(target)
    return target


# --- variants -----------------------------------------------------------------------------


def segment_command() -> list[str]:
    """This project's ``segment`` entry point, run by the benchmark's own interpreter."""
    return [sys.executable, "-m", "segmentation.cli"]


def build_variants(data: Path, k_min: int, k_max: int, server: ConnectServer,
                   baseline: Path | None) -> list[Variant]:
    """Every variant on ``data``; (b) and (c) take their columns from the default config."""
    from segmentation.config import load_config

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

    def over_connect(scratch: Path) -> list[str]:
        return [*project(scratch), "--remote", server.url]

    def of_baseline(scratch: Path) -> list[str]:
        return [str(bare_python()), *project(scratch)[1:]]

    return [
        Variant("a", "segment run (default config, 8 numeric, no categorical)", project,
                project_result),
        Variant("b", "scikit-learn KMeans n_init=1 + silhouette on 20k sample",
                script("bench_sklearn.py"), reference_result),
        Variant("c", "plain MLlib KMeans(seed=1) + ClusteringEvaluator, cached",
                script("bench_mllib.py"), reference_result),
        Variant("d", "(a) over Spark Connect (warm local server)", over_connect,
                project_result),
        Variant("a0", f"(a) with the package of {baseline}", of_baseline, project_result,
                env={"PYTHONPATH": str(baseline), "PYSPARK_PYTHON": str(bare_python()),
                     "PYSPARK_DRIVER_PYTHON": str(bare_python())}),
    ]


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


class ConnectServer:
    """The local Spark Connect server of variant (d), started and stopped by connect.sh."""

    def __init__(self, state: Path, driver_memory: str | None) -> None:
        self._state, self._memory = state, driver_memory
        self.url, self.pid = "", 0

    def _script(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "SEGMENT_CONNECT_DIR": str(self._state),
               "SEGMENT_PYTHON": sys.executable}
        return subprocess.run([str(REPO / "scripts" / "connect.sh"), *args], env=env,
                              capture_output=True, text=True, check=False, timeout=300)

    def start(self) -> None:
        memory = ["--driver-memory", self._memory] if self._memory else []
        done = self._script("start", *memory)
        if done.returncode != 0:
            raise BenchError(f"connect.sh start failed:\n{done.stderr[-2000:]}")
        self.url = done.stdout.strip().splitlines()[-1]
        self.pid = int(next(self._state.glob("pids/*.pid")).read_text())
        print(f"Spark Connect server {self.url} (pid {self.pid})", flush=True)

    def stop(self) -> None:
        if self.url:
            self._script("stop")


# --- running and measuring ----------------------------------------------------------------


DEFAULT_MEMORY = "each variant's default: (a) half the RAM, (c) Spark's 1g"


def child_env(driver_memory: str | None) -> dict[str, str]:
    """The environment of every benchmarked process: loopback, this venv's Python workers."""
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1",
           "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    if driver_memory:
        env["PYSPARK_SUBMIT_ARGS"] = f"--driver-memory {driver_memory} pyspark-shell"
    return env


def run_order(variants: Sequence[Variant], repeat: int) -> list[Variant]:
    """Variants rotated by ``repeat``: a,b,c then b,c,a then c,a,b, ..."""
    shift = repeat % len(variants)
    return [*variants[shift:], *variants[:shift]]


def run_all(
    variants: Sequence[Variant], repeats: int, env: dict[str, str], log_dir: Path,
    server: ConnectServer, caps: dict[str, Cap],
) -> dict[str, list[dict[str, Any]]]:
    """Every repeat of every variant in rotating order; runs per variant key, by repeat.
    A variant in ``caps`` runs under its caps."""
    runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for repeat in range(repeats):
        for variant in run_order(variants, repeat):
            print(f"repeat {repeat + 1}/{repeats}: ({variant.key}) {variant.title} ...",
                  end=" ", flush=True)
            extra = [server.pid] if variant.key == "d" else []
            run = run_once(variant, {**env, **variant.env},
                           log_dir / f"{variant.key}-{repeat + 1}", extra,
                           caps.get(variant.key))
            outcome = f"k={run['chosen_k']}" if run["status"] == OK else run["status"]
            print(f"{run['wall_seconds']:.1f} s, peak RSS {run['peak_rss_bytes'] / GB:.2f} GB, "
                  f"machine in use {run['machine_used_before_bytes'] / GB:.2f} -> "
                  f"{run['machine_used_peak_bytes'] / GB:.2f} GB (peak), "
                  f"{outcome}", flush=True)
            runs[variant.key].append({"repeat": repeat + 1, **run})
    return dict(runs)


def run_once(variant: Variant, env: dict[str, str], log_stem: Path, extra_roots: list[int],
             cap: Cap | None) -> dict[str, Any]:
    """Start one process, wait for it, and return its measurements and normalised result.

    A capped variant that fails or hits its time cap is recorded with its status (and no
    result) so that the other variants still run; an uncapped one's failure aborts.
    """
    with tempfile.TemporaryDirectory(prefix=f"bench-{variant.key}-") as tmp:
        scratch = Path(tmp)
        argv = (cap or Cap()).wrap(variant.command(scratch))
        stdout_path, stderr_path = log_stem.with_suffix(".stdout"), log_stem.with_suffix(".log")
        load_before = os.getloadavg()
        with open(stdout_path, "w") as out, open(stderr_path, "w") as err:
            wall, memory, code = timed_process(argv, env, out, err, scratch, extra_roots,
                                               None if cap is None else cap.seconds)
        measured = {"wall_seconds": wall, "peak_rss_bytes": memory.peak,
                    "machine_used_before_bytes": memory.machine_before,
                    "machine_used_peak_bytes": memory.machine_peak, "load_before": load_before,
                    "load_after": os.getloadavg(), "log": str(stderr_path)}
        if code == 0:
            return {"status": OK, **measured,
                    **variant.result(scratch, stdout_path.read_text())}
    if cap is None:
        tail = "\n".join(stderr_path.read_text().splitlines()[-15:])
        raise BenchError(f"({variant.key}) exited with {code}: {shlex.join(argv)}\n"
                         f"end of {stderr_path}:\n{tail}")
    return {"status": unfinished_status(code, cap, stderr_path), "chosen_k": None, **measured}


def unfinished_status(code: int | None, cap: Cap, stderr_path: Path) -> str:
    """``time cap N s`` (``code`` None), else ``failed (exit N): <reason>``: the first
    stderr line naming an error class (a JVM's stack trace ends in frames, not in its
    cause), else the last stderr line."""
    if code is None:
        return f"time cap {cap.seconds:g} s"
    lines = [line.strip() for line in stderr_path.read_text().splitlines() if line.strip()]
    named = [line for line in lines if re.search(r"\w+(Error|Exception)\b", line)
             and not line.startswith("at ")]
    if named:
        reason = named[0]
    elif lines:
        reason = lines[-1]
    else:
        reason = "no stderr"
    return f"failed (exit {code}): {reason[:200]}"


def timed_process(argv: list[str], env: dict[str, str], out: Any, err: Any, cwd: Path,
                  extra_roots: Sequence[int] = (), seconds: float | None = None
                  ) -> tuple[float, MemoryPeaks, int | None]:
    """(wall seconds, its memory peaks, exit code) of one whole process, run
    in ``cwd`` (not the checkout, whose package would shadow a baseline's); the trees of
    ``extra_roots`` (a Connect server) count towards the peak. After ``seconds`` its
    process group is killed and the exit code is None."""
    began = time.perf_counter()
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=err,
                               start_new_session=True)
    sampler = MemoryPeaks([process.pid, *extra_roots])
    try:
        code: int | None = process.wait(seconds)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the driver, its JVM, its Python workers
        process.wait()
        code = None
    except BaseException:
        os.killpg(process.pid, 15)  # our own process group: the driver, its JVM, its workers
        process.wait()
        raise
    finally:
        sampler.stop()
    return time.perf_counter() - began, sampler, code


class MemoryPeaks:
    """Memory peaks while processes run, sampled in a thread.

    ``peak``: the summed RSS of the roots and all their descendants. It counts pages shared
    between processes (libraries, forked Python workers) once per process, so it is an
    upper bound of the trees' real footprint. ``machine_peak``: the machine's memory in use
    (MemTotal - MemAvailable), which counts shared pages once; with ``machine_before``, a
    bound the RSS sum cannot give.
    """

    def __init__(self, roots: Sequence[int]) -> None:
        self.peak = 0
        self.machine_peak = self.machine_before = machine_used_bytes()
        self._roots = list(roots)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, sum(tree_rss_bytes(pid) for pid in self._roots))
            self.machine_peak = max(self.machine_peak, machine_used_bytes())
            self._done.wait(SAMPLE_SECONDS)

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def machine_used_bytes() -> int:
    """The machine's memory in use: MemTotal - MemAvailable of /proc/meminfo."""
    fields = dict(line.split(":", 1) for line in read_lines("/proc/meminfo"))
    return (int(fields["MemTotal"].split()[0]) - int(fields["MemAvailable"].split()[0])) * 1024


def tree_rss_bytes(root: int) -> int:
    """Summed RSS of ``root`` and every descendant, from one scan of /proc/*/stat."""
    parent: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:  # the process ended between listing and reading
            continue
        fields = stat[stat.rindex(b")") + 2:].split()  # fields from 3 (state) on
        pid = int(entry.name)
        parent[pid], rss[pid] = int(fields[1]), int(fields[21]) * PAGE_BYTES
    children: dict[int, list[int]] = defaultdict(list)
    for pid, ppid in parent.items():
        children[ppid].append(pid)
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children[pid])
    return total


# --- summary ------------------------------------------------------------------------------


def spread(values: Sequence[float]) -> dict[str, float]:
    """min, median and max of a non-empty sequence."""
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def finished(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The runs that ran to completion (not failed under a cap or killed at a time cap)."""
    return [run for run in runs if run["status"] == OK]


def summarize(runs: dict[str, list[dict[str, Any]]], variants: Sequence[Variant]
              ) -> dict[str, Any]:
    """Per-variant spreads (of every run, an unfinished one up to where it stopped), paired
    wall-time ratios of the repeats where both variants finished, and the quality
    comparison of finished runs."""
    per_variant = {
        v.key: {"title": v.title, "runs": runs[v.key],
                "wall_seconds": spread([r["wall_seconds"] for r in runs[v.key]]),
                "peak_rss_bytes": spread([r["peak_rss_bytes"] for r in runs[v.key]])}
        for v in variants
    }
    ratios = {}
    for name, (num, den, target) in RATIOS.items():
        values = [n["wall_seconds"] / d["wall_seconds"]
                  for n, d in zip(runs.get(num, []), runs.get(den, []))
                  if n["status"] == d["status"] == OK]
        if values:
            ratios[name] = {"target": target, "values": values, **spread(values)}
    return {"variants": per_variant, "ratios": ratios, "quality": quality(runs)}


def quality(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Chosen k of each variant and the WCSS of each at (a)'s chosen k (first finished
    repeat; a variant without one is left out).

    Every variant is seeded, so repeats give the same clustering; the JSON keeps each
    run's per-k WCSS to check that.
    """
    first = {key: done[0] for key, variant_runs in runs.items()
             if (done := finished(variant_runs))}
    result: dict[str, Any] = {"chosen_k": {key: run["chosen_k"] for key, run in first.items()}}
    if "a" not in first:
        return result
    k = str(first["a"]["chosen_k"])
    wcss = {key: run["wcss"].get(k) for key, run in first.items()}
    result.update(k=int(k), wcss_at_k=wcss)
    if wcss.get("b"):
        for other in ("a", "c"):
            if wcss.get(other) is not None:
                result[f"wcss_rel_diff_{other}_vs_b"] = wcss[other] / wcss["b"] - 1
    return result


def markdown(report: dict[str, Any]) -> str:
    """The results as markdown tables, as pasted into BENCHMARKS.md."""
    q = report["quality"]
    k = q.get("k")
    k_label = "(a)'s k" if k is None else f"k={k}"
    lines = [
        f"\n### {report['customers']:,} customers, k = {report['k_range'][0]}.."
        f"{report['k_range'][1]}, {report['repeats']} repeat(s)",
        "",
        f"Load average (1, 5, 15 min) at start {fmt_load(report['load_average_start'])}, "
        f"at end {fmt_load(report['load_average_end'])}; "
        f"Spark driver memory: {report['driver_memory']}.",
        "",
        "| variant | wall s (min / median / max) | peak tree RSS GB (min / median / max) "
        f"| chosen k | WCSS at {k_label} |",
        "|---|---|---|---|---|",
    ]
    for key, v in report["variants"].items():
        rss = v["peak_rss_bytes"]
        wcss = q.get("wcss_at_k", {}).get(key)
        lines.append(
            f"| ({key}) {v['title']} | {wall_cell(v)} | {rss['min'] / GB:.2f} / "
            f"{rss['median'] / GB:.2f} / {rss['max'] / GB:.2f} | "
            f"{outcome_cell(q['chosen_k'].get(key), v['runs'])} | "
            f"{'-' if wcss is None else f'{wcss:.6g}'} |")
    if report["ratios"]:
        lines += ["", "| wall-time ratio (paired by repeat) | min | median | max | target |",
                  "|---|---|---|---|---|"]
        for name, r in report["ratios"].items():
            lines.append(f"| {name} | {r['min']:.2f} | {r['median']:.2f} | {r['max']:.2f} "
                         f"| {r['target']} |")
    differences = [f"WCSS of ({key}) relative to (b) at k={k}: "
                   f"{100 * q[f'wcss_rel_diff_{key}_vs_b']:+.3f} %"
                   for key in ("a", "c") if f"wcss_rel_diff_{key}_vs_b" in q]
    if differences:
        lines += ["", *differences]
    if "a" in report["variants"] and finished(report["variants"]["a"]["runs"]):
        lines += ["", stage_line(finished(report["variants"]["a"]["runs"]))]
    return "\n".join(lines)


def wall_cell(variant: dict[str, Any]) -> str:
    """min / median / max wall seconds; when a run did not finish, each run's seconds, a
    time-capped one as a lower bound (">= 900.0")."""
    runs, wall = variant["runs"], variant["wall_seconds"]
    if len(finished(runs)) == len(runs):
        return f"{wall['min']:.1f} / {wall['median']:.1f} / {wall['max']:.1f}"
    return ", ".join(f"{'>= ' if run['status'].startswith('time cap') else ''}"
                     f"{run['wall_seconds']:.1f}" for run in runs)


def outcome_cell(chosen_k: int | None, runs: list[dict[str, Any]]) -> str:
    """The chosen k, and the status of every distinct way a run did not finish."""
    statuses = dict.fromkeys(run["status"] for run in runs if run["status"] != OK)
    return "; ".join([*([] if chosen_k is None else [str(chosen_k)]), *statuses])


def stage_line(runs: list[dict[str, Any]]) -> str:
    """(a)'s median seconds per job stage, longest first, and the rest of its wall time."""
    stages = runs[0]["details"]["timings"]
    medians = {s: statistics.median(r["details"]["timings"][s] for r in runs) for s in stages}
    outside = statistics.median(r["wall_seconds"] - r["details"]["job_seconds"] for r in runs)
    parts = [f"{name} {seconds:.1f}"
             for name, seconds in sorted(medians.items(), key=lambda item: -item[1])]
    return (f"(a) stages, median s: {', '.join(parts)}; outside the job "
            f"(interpreter, imports, JVM start and stop): {outside:.1f}")


def fmt_load(load: Sequence[float]) -> str:
    return " / ".join(f"{v:.2f}" for v in load)


# --- targets ------------------------------------------------------------------------------

#: What a target's check returns: (met, measured figure), or None when a run it needs is
#: missing or did not finish.
Measure = Callable[[dict[str, Any], dict[int, dict[str, Any]]], tuple[bool, str] | None]


@dataclass(frozen=True)
class Target:
    """One target of issues 6 and 18: the size it applies to (None: every size) and its check of
    that size's report (with every size's report, for a target relative to another)."""

    size: int | None
    text: str
    measure: Measure


def ratio_check(name: str, compare: Callable[[float, float], bool], bound: float) -> Measure:
    """The median paired wall-time ratio ``name`` compared with ``bound``."""
    def measure(report: dict[str, Any], _reports: dict[int, dict[str, Any]]
                ) -> tuple[bool, str] | None:
        ratio = report["ratios"].get(name)
        return None if ratio is None else (compare(ratio["median"], bound),
                                           f"{ratio['median']:.2f}")
    return measure


def chosen_k_check(report: dict[str, Any], _reports: dict[int, dict[str, Any]]
                   ) -> tuple[bool, str] | None:
    """(a) chose the generator's number of segments."""
    k = report["quality"]["chosen_k"].get("a")
    return None if k is None else (k == TRUE_K, f"k = {k}")


def wcss_check(report: dict[str, Any], _reports: dict[int, dict[str, Any]]
               ) -> tuple[bool, str] | None:
    """(a)'s WCSS at its chosen k within 1 % of (b)'s at that k."""
    diff = report["quality"].get("wcss_rel_diff_a_vs_b")
    return None if diff is None else (abs(diff) <= 0.01, f"{100 * diff:+.3f} %")


def scaling_check(report: dict[str, Any], reports: dict[int, dict[str, Any]]
                  ) -> tuple[bool, str] | None:
    """(a) finished at this size within max(5.5 x its median wall at 20M, 1500 s)."""
    runs = variant_runs(report, "a")
    base = finished(variant_runs(reports.get(20_000_000), "a"))
    if not runs or not base:
        return None
    if len(finished(runs)) < len(runs):
        return False, outcome_cell(None, runs)
    wall = statistics.median(run["wall_seconds"] for run in runs)
    limit = max(5.5 * statistics.median(run["wall_seconds"] for run in base), 1500.0)
    return wall <= limit, f"{wall:.1f} s, limit {limit:.1f} s"


def variant_runs(report: dict[str, Any] | None, key: str) -> list[dict[str, Any]]:
    """The runs of variant ``key`` in a size's report; none without the size or variant."""
    variant = (report or {"variants": {}})["variants"].get(key)
    return [] if variant is None else variant["runs"]


TARGETS = (
    Target(2_000_000, "median paired a/b <= 1.0", ratio_check("a/b", operator.le, 1.0)),
    Target(2_000_000, "median paired c/a >= 4", ratio_check("c/a", operator.ge, 4.0)),
    Target(20_000_000, "median paired a/b <= 1.0", ratio_check("a/b", operator.le, 1.0)),
    Target(100_000_000, "(a) finished, wall <= max(5.5 x (a)'s median wall at 20M, 1500 s)",
           scaling_check),
    Target(None, f"(a) chose k = {TRUE_K} (the generator's segments)", chosen_k_check),
    Target(None, "(a)'s WCSS at its k within 1 % of (b)'s", wcss_check),
)


def evaluate_targets(reports: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every target that applies to a size present, size by size: its measured figure,
    whether it is met (None: not measured) and the one-line result."""
    by_size = {report["customers"]: report for report in reports}
    lines = []
    for size, report in by_size.items():
        for target in TARGETS:
            if target.size not in (None, size):
                continue
            lines.append({"customers": size, "target": target.text,
                          **target_outcome(target.measure(report, by_size))})
    return lines


def target_outcome(outcome: tuple[bool, str] | None) -> dict[str, Any]:
    """A check's outcome as the JSON fields measured, met and result of its line."""
    if outcome is None:
        return {"measured": None, "met": None, "result": "not measured"}
    met, figure = outcome
    return {"measured": figure, "met": met, "result": "met" if met else f"not met: {figure}"}


def targets_markdown(targets: Sequence[dict[str, Any]]) -> str:
    """The targets table, after the per-size sections."""
    lines = ["\n### Targets (issues 6 and 18)", "", "| customers | target | measured | result |",
             "|---|---|---|---|"]
    lines += [f"| {t['customers']:,} | {t['target']} | {t['measured'] or '-'} | {t['result']} |"
              for t in targets]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
