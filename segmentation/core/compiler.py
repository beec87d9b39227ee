"""The driver JVM's just-in-time compilers, chosen by how much the job reads.

HotSpot compiles hot code twice: quickly with its client compiler (C1), then again with
its optimizing compiler (C2). C2 repays its work in a run of a minute or more; in a run of
seconds it takes the cores from the run itself. A driver this project launches for a job
that reads only local files of at most :data:`SMALL_INPUT_BYTES` in all therefore runs
with C1 alone (``-XX:TieredStopAtLevel=1``); a job on anything else (object stores,
catalog tables, JDBC, larger files) keeps both. On the 2-core machine of BENCHMARKS.md
("Start-up"), C1 alone took the 200-row Mall run and a 200,000-row run about a fifth
faster, a 500,000-row run (12 MB of Parquet) no slower, and a 2,000,000-row run a third
slower: the limit is the largest of those it did not slow. The compilers change no answer:
Java's arithmetic is the same in every mode.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from segmentation.core.fs import local_path

#: Local input up to this size (any format's bytes on disk) makes a short job.
SMALL_INPUT_BYTES = 12 * 2**20
CLIENT_COMPILER_ONLY = "-XX:TieredStopAtLevel=1"


def local_bytes(path: str) -> int | None:
    """The size of the files at ``path`` (a file or a directory tree), counted up to just
    past :data:`SMALL_INPUT_BYTES`; None where ``path`` is not on local disk or not there."""
    local = local_path(path)
    if local is None or not os.path.exists(local):
        return None
    if os.path.isfile(local):
        return os.path.getsize(local)
    total = 0
    for root, _, files in os.walk(local):
        total += sum(os.path.getsize(os.path.join(root, name)) for name in files)
        if total > SMALL_INPUT_BYTES:
            break
    return total


def small_input(paths: Sequence[str | None]) -> bool:
    """Whether a job reading ``paths`` (None: a table or a database) reads local files of
    at most :data:`SMALL_INPUT_BYTES` in all."""
    total = 0
    for path in paths:
        size = None if path is None else local_bytes(path)
        if size is None:
            return False
        total += size
    return bool(paths) and total <= SMALL_INPUT_BYTES


def compiler_options(small: bool) -> str:
    """The JVM options of a driver for a job on small input (``small``) or any other."""
    return CLIENT_COMPILER_ONLY if small else ""
