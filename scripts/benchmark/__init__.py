"""The benchmark of ``scripts/bench.py`` (its docstring says what is measured and how).

- ``cli``: the command line and the run over every size;
- ``machine``: the machine's facts and the generated (cached) tables;
- ``variants``: the benchmarked programs and how each one's result is read;
- ``runs``: every repeat of every variant, in rotating order, under its caps;
- ``measure``: one process's wall time and memory peaks;
- ``summary``: per-variant spreads, paired ratios, quality, and the markdown tables;
- ``targets``: the targets of issues 6 and 18, checked on the sizes present.

The Connect server of variant (d) comes from ``scripts/daemons.py``, as the tests' do.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GB = 1024**3
#: The status of a run that finished.
OK = "ok"
