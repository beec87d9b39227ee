"""Every ``>>>`` example in the segmentation package runs, as written, in the normal test run.

Modules are found by walking the package's files, so a new module's examples are covered
without a change here. Examples may use two names they do not define, as pyspark's own
examples use ``spark``: ``spark`` (the tests' shared session, started only for the examples
that use it) and ``run_dir`` (the directory of a finished run). Modules that import
``mlflow`` (an extra) are skipped where it is not installed.
"""

from __future__ import annotations

import ast
import doctest
import importlib
from collections.abc import Callable
from pathlib import Path

import pytest
from support.report_runs import write_run_dir

import segmentation

PACKAGE = Path(segmentation.__file__).parent
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def modules_with_examples() -> list[str]:
    """Dotted names of the package's modules whose source holds a ``>>>`` example."""
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if ">>>" in path.read_text(encoding="utf-8"):
            parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def import_module(name: str) -> object:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if (error.name or "").partition(".")[0] == "mlflow":
            pytest.skip(f"{name} needs mlflow (the mlflow extra)")
        raise


def names_used(tests: list[doctest.DocTest]) -> set[str]:
    return {node.id for test in tests for example in test.examples
            for node in ast.walk(ast.parse(example.source)) if isinstance(node, ast.Name)}


@pytest.mark.parametrize("name", modules_with_examples())
def test_examples(name: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    module = import_module(name)
    tests = [t for t in doctest.DocTestFinder().find(module) if t.examples]
    given: dict[str, Callable[[], object]] = {
        "spark": lambda: request.getfixturevalue("spark"),
        "run_dir": lambda: write_run_dir(tmp_path / "run"),
    }
    extra = {key: make() for key, make in given.items() if key in names_used(tests)}
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in tests:
        test.globs.update(extra)
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0, f"{name}: its examples were not found"
    assert result.failed == 0, f"{name}: {result.failed} example(s) failed (output above)"
