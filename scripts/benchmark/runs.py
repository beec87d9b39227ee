"""Every repeat of every variant, in rotating order, each process timed and its result read."""

from __future__ import annotations

import os
import re
import shlex
import sys
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import GB, OK
from .measure import Cap, timed_process
from .variants import Variant


class BenchError(RuntimeError):
    """A benchmarked process failed; the message carries the end of its stderr."""


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
    caps: dict[str, Cap],
) -> dict[str, list[dict[str, Any]]]:
    """Every repeat of every variant in rotating order; runs per variant key, by repeat.
    A variant in ``caps`` runs under its caps."""
    runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for repeat in range(repeats):
        for variant in run_order(variants, repeat):
            print(f"repeat {repeat + 1}/{repeats}: ({variant.key}) {variant.title} ...",
                  end=" ", flush=True)
            run = run_once(variant, {**env, **variant.env},
                           log_dir / f"{variant.key}-{repeat + 1}", caps.get(variant.key))
            outcome = f"k={run['chosen_k']}" if run["status"] == OK else run["status"]
            print(f"{run['wall_seconds']:.1f} s, peak RSS {run['peak_rss_bytes'] / GB:.2f} GB, "
                  f"machine in use {run['machine_used_before_bytes'] / GB:.2f} -> "
                  f"{run['machine_used_peak_bytes'] / GB:.2f} GB (peak), "
                  f"{outcome}", flush=True)
            runs[variant.key].append({"repeat": repeat + 1, **run})
    return dict(runs)


def run_once(variant: Variant, env: dict[str, str], log_stem: Path, cap: Cap | None
             ) -> dict[str, Any]:
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
            wall, memory, code = timed_process(argv, env, out, err, scratch,
                                               variant.extra_roots,
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

