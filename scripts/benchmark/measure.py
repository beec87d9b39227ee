"""One process's wall time and memory peaks, optionally under caps."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .machine import read_lines

SAMPLE_SECONDS = 0.2
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


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

