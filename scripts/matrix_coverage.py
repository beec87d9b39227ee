"""Which modules of ``segmentation/`` a coverage data file shows run beyond their import.

scripts/matrix.sh calls it after each Spark line's subset: a module "ran" when some line
executed that importing it does not execute (a function body, a branch); a module whose
every statement runs on import (constants, an alias) ran when it was imported; modules with
no statement (a docstring only) are not counted.

    python scripts/matrix_coverage.py DATA_FILE LABEL  -> one summary line; exit 1 when a
                                                          module did not run (it is named)
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

import coverage

import segmentation

PACKAGE = Path(segmentation.__file__).resolve().parent


def import_lines() -> tuple[dict[str, set[int]], dict[str, set[int]]]:
    """Each module file's statements and the lines its import runs (measured here)."""
    cov = coverage.Coverage(data_file=None, source=["segmentation"], config_file=False)
    cov.start()
    for info in pkgutil.walk_packages([str(PACKAGE)], "segmentation."):
        importlib.import_module(info.name)
    cov.stop()
    data = cov.get_data()
    statements, imported = {}, {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = str(path)
        statements[name] = set(cov.analysis2(name)[1])
        imported[name] = set(data.lines(name) or ())
    return statements, imported


def main(data_file: str, label: str) -> int:
    statements, imported = import_lines()
    measured = coverage.CoverageData(basename=data_file)
    measured.read()
    ran_lines = {str(Path(f).resolve()): set(measured.lines(f) or ()) for f in
                 measured.measured_files()}
    not_run, total, executed = [], 0, 0
    for name, stmts in list(statements.items()):
        if not stmts:  # a docstring only: nothing to run
            del statements[name]
            continue
        lines = ran_lines.get(name, set()) & stmts
        total, executed = total + len(stmts), executed + len(lines)
        beyond_import = lines - imported[name]
        only_imports = stmts <= imported[name]
        if not (beyond_import or (only_imports and lines)):
            not_run.append(str(Path(name).relative_to(PACKAGE.parent)))
    share = 100 * executed / max(total, 1)
    print(f"{label}: {len(statements) - len(not_run)} of {len(statements)} modules of "
          f"segmentation/ ran; {share:.0f}% of their statements"
          + (f"; did not run: {', '.join(not_run)}" if not_run else ""))
    return 1 if not_run else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
