"""The benchmark of issue 6: this project's job against scikit-learn and plain MLlib.

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

Usage::

    .venv/bin/python scripts/bench.py --customers 2000000 --repeats 2
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
import os
import platform
import shlex
import shutil
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
from typing import Any

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


def main(argv: Sequence[str] | None = None) -> int:
    """Generate (or reuse) the data, run every repeat, print and save the summary."""
    args = parse_args(argv)
    command = shlex.join(["scripts/bench.py", *(sys.argv[1:] if argv is None else argv)])
    machine = machine_info()
    print(f"$ {command}\n{format_machine(machine)}", flush=True)
    data = ensure_data(args.customers, args.data_dir)
    log_dir = args.data_dir / f"logs-{args.customers}"
    log_dir.mkdir(parents=True, exist_ok=True)
    started, load_start = dt.datetime.now(dt.timezone.utc), os.getloadavg()
    server = ConnectServer(args.data_dir / "connect-state", args.driver_memory)
    try:
        if "d" in args.only:
            server.start()
        variants = [v for v in build_variants(data, args.k_min, args.k_max, server,
                                              args.baseline) if v.key in args.only]
        runs = run_all(variants, args.repeats, child_env(args.driver_memory), log_dir,
                       server)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        server.stop()
    report = summarize(runs, variants)
    report.update(
        command=command, customers=args.customers, repeats=args.repeats,
        k_range=[args.k_min, args.k_max], data=str(data), generate_seed=GENERATE_SEED,
        driver_memory=args.driver_memory or DEFAULT_MEMORY, machine=machine,
        started_at=started.isoformat(), load_average_start=load_start,
        load_average_end=os.getloadavg(), logs=str(log_dir),
    )
    print(markdown(report))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nJSON: {args.out}")
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line; ``--out`` defaults to ``DATA_DIR/bench-customers-N.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, required=True, help="rows to generate")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each variant")
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
    args = parser.parse_args(argv)
    if args.customers < 1 or args.repeats < 1:
        parser.error("--customers and --repeats must be >= 1")
    if not 2 <= args.k_min <= args.k_max:
        parser.error(f"need 2 <= --k-min ({args.k_min}) <= --k-max ({args.k_max})")
    if not args.only or set(args.only) - set(VARIANT_KEYS):
        parser.error(f"--only takes a comma-separated subset of a,b,c,d, not {args.only}")
    if args.baseline is not None:
        args.baseline = args.baseline.resolve()
        if not (args.baseline / "segmentation" / "__init__.py").is_file():
            parser.error(f"--baseline {args.baseline} holds no segmentation package")
        args.only = [*args.only, "a0"]
    args.data_dir = args.data_dir.resolve()
    args.out = args.out or args.data_dir / f"bench-customers-{args.customers}.json"
    return args


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
    server: ConnectServer,
) -> dict[str, list[dict[str, Any]]]:
    """Every repeat of every variant in rotating order; runs per variant key, by repeat."""
    runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for repeat in range(repeats):
        for variant in run_order(variants, repeat):
            print(f"repeat {repeat + 1}/{repeats}: ({variant.key}) {variant.title} ...",
                  end=" ", flush=True)
            extra = [server.pid] if variant.key == "d" else []
            run = run_once(variant, {**env, **variant.env},
                           log_dir / f"{variant.key}-{repeat + 1}", extra)
            print(f"{run['wall_seconds']:.1f} s, peak RSS {run['peak_rss_bytes'] / GB:.2f} GB, "
                  f"k={run['chosen_k']}", flush=True)
            runs[variant.key].append({"repeat": repeat + 1, **run})
    return dict(runs)


def run_once(variant: Variant, env: dict[str, str], log_stem: Path, extra_roots: list[int]
             ) -> dict[str, Any]:
    """Start one process, wait for it, and return its measurements and normalised result."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{variant.key}-") as tmp:
        scratch = Path(tmp)
        argv = variant.command(scratch)
        stdout_path, stderr_path = log_stem.with_suffix(".stdout"), log_stem.with_suffix(".log")
        load_before = os.getloadavg()
        with open(stdout_path, "w") as out, open(stderr_path, "w") as err:
            wall, peak, code = timed_process(argv, env, out, err, scratch, extra_roots)
        if code != 0:
            tail = "\n".join(stderr_path.read_text().splitlines()[-15:])
            raise BenchError(f"({variant.key}) exited with {code}: {shlex.join(argv)}\n"
                             f"end of {stderr_path}:\n{tail}")
        result = variant.result(scratch, stdout_path.read_text())
    return {"wall_seconds": wall, "peak_rss_bytes": peak, **result,
            "load_before": load_before, "load_after": os.getloadavg(),
            "log": str(stderr_path)}


def timed_process(argv: list[str], env: dict[str, str], out: Any, err: Any, cwd: Path,
                  extra_roots: Sequence[int] = ()) -> tuple[float, int, int]:
    """(wall seconds, peak process-tree RSS in bytes, exit code) of one whole process, run
    in ``cwd`` (not the checkout, whose package would shadow a baseline's); the trees of
    ``extra_roots`` (a Connect server) count towards the peak."""
    began = time.perf_counter()
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=err,
                               start_new_session=True)
    sampler = PeakTreeRss([process.pid, *extra_roots])
    try:
        code = process.wait()
    except BaseException:
        os.killpg(process.pid, 15)  # our own process group: the driver, its JVM, its workers
        process.wait()
        raise
    finally:
        sampler.stop()
    return time.perf_counter() - began, sampler.peak, code


class PeakTreeRss:
    """Peak of the summed RSS of a process and all its descendants, sampled in a thread.

    A sum of RSS counts pages shared between processes (libraries, forked Python workers)
    once per process, so it is an upper bound of the tree's real footprint.
    """

    def __init__(self, roots: Sequence[int]) -> None:
        self.peak = 0
        self._roots = list(roots)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, sum(tree_rss_bytes(pid) for pid in self._roots))
            self._done.wait(SAMPLE_SECONDS)

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


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


def summarize(runs: dict[str, list[dict[str, Any]]], variants: Sequence[Variant]
              ) -> dict[str, Any]:
    """Per-variant spreads, paired wall-time ratios and the quality comparison."""
    per_variant = {
        v.key: {"title": v.title, "runs": runs[v.key],
                "wall_seconds": spread([r["wall_seconds"] for r in runs[v.key]]),
                "peak_rss_bytes": spread([r["peak_rss_bytes"] for r in runs[v.key]])}
        for v in variants
    }
    ratios = {
        name: {"target": target,
               "values": (values := [n["wall_seconds"] / d["wall_seconds"]
                                     for n, d in zip(runs[num], runs[den])]),
               **spread(values)}
        for name, (num, den, target) in RATIOS.items() if num in runs and den in runs
    }
    return {"variants": per_variant, "ratios": ratios, "quality": quality(runs)}


def quality(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Chosen k of each variant and the WCSS of each at (a)'s chosen k (first repeat).

    Every variant is seeded, so repeats give the same clustering; the JSON keeps each
    run's per-k WCSS to check that.
    """
    first = {key: variant_runs[0] for key, variant_runs in runs.items()}
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
        wall, rss = v["wall_seconds"], v["peak_rss_bytes"]
        wcss = q.get("wcss_at_k", {}).get(key)
        lines.append(
            f"| ({key}) {v['title']} | {wall['min']:.1f} / {wall['median']:.1f} / "
            f"{wall['max']:.1f} | {rss['min'] / GB:.2f} / {rss['median'] / GB:.2f} / "
            f"{rss['max'] / GB:.2f} | {q['chosen_k'][key]} | "
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
    if "a" in report["variants"]:
        lines += ["", stage_line(report["variants"]["a"]["runs"])]
    return "\n".join(lines)


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


if __name__ == "__main__":
    raise SystemExit(main())
