"""A local-mode driver under a cgroup memory limit (a container) gets half of the limit, not
half of the machine (which got the JVM killed, exit 137, instead of a clear failure).

The cgroup files of both versions are laid out as the kernel shows them, in a temporary
folder; and, where this machine lets a test make one (root, a writable cgroup v1 memory
controller), a real cgroup with a limit runs a real process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from segmentation.core.memory import cgroup_limit, physical_memory, usable_memory

GB = 2**30
NO_LIMIT_V1 = "9223372036854771712"


def layout(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")


@pytest.mark.parametrize(("membership", "files", "limit"), [
    # v2, a container with its own cgroup namespace: its cgroup is the mount's root
    ("0::/\n", {"memory.max": str(6 * GB)}, 6 * GB),
    # v2, a systemd slice: the parent's limit binds the child that has none
    ("0::/batch.slice/job-7.scope\n",
     {"memory.max": "max", "batch.slice/memory.max": str(3 * GB),
      "batch.slice/job-7.scope/memory.max": "max"}, 3 * GB),
    # v1 (hybrid, as on this machine): the memory controller's own folder
    ("9:name=systemd:/\n4:memory:/docker/abc\n1:cpu:/\n0::/\n",
     {"memory/memory.limit_in_bytes": NO_LIMIT_V1,
      "memory/docker/abc/memory.limit_in_bytes": str(5 * GB)}, 5 * GB),
    # v1 without a cgroup namespace: the path names the host's cgroup, the mount is ours
    ("4:memory:/kubepods/pod1/c2\n", {"memory/memory.limit_in_bytes": str(2 * GB)}, 2 * GB),
    # no limit anywhere
    ("4:memory:/\n0::/\n", {"memory/memory.limit_in_bytes": NO_LIMIT_V1, "memory.max": "max"},
     None),
], ids=["v2 namespace", "v2 parent", "v1", "v1 host path", "none"])
def test_the_limit_is_read_from_either_version(tmp_path: Path, membership: str,
                                               files: dict[str, str], limit: int | None) -> None:
    proc = tmp_path / "cgroup"
    proc.write_text(membership)
    layout(tmp_path / "fs", files)
    assert cgroup_limit(tmp_path / "fs", proc) == limit
    machine = physical_memory()
    assert machine is not None
    assert usable_memory(tmp_path / "fs", proc) == min(machine, limit or machine)


def writable_memory_cgroup() -> Path | None:
    """This process's cgroup v1 memory folder when a test may make a child in it."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        folder = Path("/sys/fs/cgroup/memory") / path.strip("/")
        if "memory" in controllers.split(",") and os.access(folder, os.W_OK):
            return folder
    return None


@pytest.mark.skipif(writable_memory_cgroup() is None,
                    reason="no writable cgroup v1 memory controller here (needs root)")
def test_a_driver_in_a_limited_cgroup_gets_half_of_the_limit(tmp_path: Path) -> None:
    parent = writable_memory_cgroup()
    assert parent is not None
    group = parent / f"segmentation-test-{uuid.uuid4().hex[:8]}"
    group.mkdir()
    try:
        (group / "memory.limit_in_bytes").write_text(str(4 * GB))
        # the child joins the cgroup itself, then asks for its driver's memory
        code = (f"open({str(group / 'cgroup.procs')!r}, 'w').write(str(__import__('os')"
                ".getpid()))\nfrom segmentation.core.session import local_driver_memory\n"
                "print(local_driver_memory())")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=False, timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "2g"
    finally:
        group.rmdir()  # empty again once the child ended
