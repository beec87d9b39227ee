"""The `segment` command run as its own process, as users run it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

SEGMENT = str(Path(sys.executable).parent / "segment")
ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = str(ROOT / "conf" / "default.yaml")


def segment(args: Sequence[str], *, cwd: Path, timeout: float = 900,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``segment ARGS`` in ``cwd``; stdout and stderr are captured."""
    environment = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", **(env or {})}
    environment.pop("SPARK_REMOTE", None)
    return subprocess.run([SEGMENT, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=environment, check=False)


def error_lines(stderr: str) -> list[str]:
    """The ``error:`` lines a run printed."""
    return [line for line in stderr.splitlines() if line.startswith("error:")]
