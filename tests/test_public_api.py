"""The library reaches Spark through public PySpark APIs only, so that it runs over Spark
Connect (no JVM on the client) and survives Spark releases."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "segmentation"
PRIVATE = re.compile(r"\b_jvm\b|\b_jdf\b|\b_jsc\b|\bsparkContext\b|\.rdd\b|\bJavaWrapper\b"
                     r"|^\s*(from|import) py4j")


def test_no_jvm_internals_in_the_library() -> None:
    found = [f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}"
             for path in sorted(PACKAGE.rglob("*.py"))
             for number, line in enumerate(path.read_text().splitlines(), start=1)
             if PRIVATE.search(line)]
    assert found == []
