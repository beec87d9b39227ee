"""How much memory this process may use: the machine's RAM, or less under a cgroup limit (a
container, a systemd slice, a batch scheduler's job), so that a local-mode driver asks for a
share of what it can have instead of being killed by the kernel (exit 137).

Both cgroup versions: v2's ``memory.max`` and v1's ``memory.limit_in_bytes``, on the
process's own cgroup (``/proc/self/cgroup``) and every ancestor up to the mount (a limit on
a parent binds its children), the smallest one winning. Inside a container the mount is the
container's own cgroup, which the same walk reads.

Examples
--------
>>> usable_memory() is None or usable_memory() > 0
True
"""

from __future__ import annotations

import os
from pathlib import Path

#: Where cgroup file systems are mounted (v2 at the root, v1 one folder per controller).
CGROUP_ROOT = Path("/sys/fs/cgroup")
#: cgroup v1 writes "no limit" as a huge number (2**63 rounded down to a page).
NO_LIMIT = 2**62


def usable_memory(root: Path = CGROUP_ROOT, membership: Path = Path("/proc/self/cgroup")
                  ) -> int | None:
    """Bytes this process may use: the machine's RAM or a smaller cgroup limit (None where
    neither can be read)."""
    sizes = [size for size in (physical_memory(), cgroup_limit(root, membership)) if size]
    return min(sizes, default=None)


def physical_memory() -> int | None:
    """The machine's RAM in bytes (None where the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not a POSIX system
        return None


def cgroup_limit(root: Path = CGROUP_ROOT, membership: Path = Path("/proc/self/cgroup")
                 ) -> int | None:
    """The smallest memory limit on this process's cgroups and their ancestors, in bytes
    (None when none is set or no cgroup is mounted)."""
    try:
        lines = membership.read_text(encoding="ascii").splitlines()
    except OSError:
        return None
    limits: list[int] = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if not controllers:
            limits += limits_up(root, path, "memory.max")
        elif "memory" in controllers.split(","):
            limits += limits_up(root / "memory", path, "memory.limit_in_bytes")
    return min(limits, default=None)


def limits_up(mount: Path, path: str, name: str) -> list[int]:
    """The limits in file ``name`` of cgroup ``path`` under ``mount`` and of its ancestors
    (a folder that is not there, or ``max``, adds none)."""
    folder, found = mount / path.strip("/"), []
    while True:
        try:
            text = (folder / name).read_text(encoding="ascii").strip()
        except OSError:
            text = ""
        if text.isdigit() and int(text) < NO_LIMIT:
            found.append(int(text))
        if folder == mount or mount not in folder.parents:
            return found
        folder = folder.parent
