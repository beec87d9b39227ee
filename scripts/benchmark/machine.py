"""What the timings depend on (the machine, read at the start) and the generated tables."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shutil
import subprocess
from pathlib import Path
from typing import Any

from . import REPO
from .variants import segment_command

GENERATE_SEED = 7


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

