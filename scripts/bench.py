"""The benchmark (issues 6 and 18): this project's job against scikit-learn and plain MLlib.

Three variants, each timed as a whole process (interpreter, imports and JVM start
included), on the same generated customers and the same 8 numeric features:

- (a) ``segment run`` with ``conf/default.yaml``, the categorical feature turned off
  (``features.categorical=[]``) so that all three cluster the same 8 numeric columns;
- (b) the scikit-learn reference, ``scripts/bench_sklearn.py``;
- (c) the plain MLlib sweep, ``scripts/bench_mllib.py``;
- (d) (a) over Spark Connect: the same ``segment run`` as a client of a local server that
  ``scripts/connect.sh`` starts once, before the first repeat (a warm server, as users
  have one; its start is not timed, its memory is counted with the client's);
- (e), (f): (a) reading the same rows from a Delta Lake table and from an Apache Iceberg
  table (``scripts/benchmark/tables.py`` copies the generated table once); run the benchmark
  with the interpreter of a Spark line that has both connectors;
- (a0), with ``--baseline DIR``: (a) with the ``segmentation`` package of another
  checkout, to measure a change side by side with its predecessor: it runs the
  interpreter of ``scripts/package.sh`` (the dependencies without this project) with
  ``PYTHONPATH=DIR``, for the driver and Spark's Python workers alike.

The table is generated once per size with ``segment generate`` (fixed seed) and cached
under ``--data-dir``. Repeats alternate the order (a, b, c, then b, c, a, ...) so that a
drift of the machine's load does not favour one variant. Each process's wall time and
the peak of the summed resident memory of its process tree (the JVM and Spark's Python
workers are descendants of the Python driver), sampled from /proc every 0.2 s, are
recorded with its chosen k and its WCSS at every k. The summary (min/median/max per
variant, paired ratios a/b and c/a, quality) is printed as markdown and written as JSON.

``--customers`` takes several sizes, each optionally with its own repeat count
(``SIZE:REPEATS``): the data of every size is generated (or reused) first, then the sizes
run in the given order in one process, and the issue-6 targets are evaluated on the sizes
present. ``--memory-cap VARIANT=SIZE`` runs a variant under ``prlimit --as`` and
``--time-cap VARIANT=SECONDS`` kills its process group after that long, so that a
reference that cannot finish at a size is recorded as such (its status, and its wall time
and memory up to then) instead of aborting the benchmark.

Usage::

    .venv/bin/python scripts/bench.py --customers 2000000 --repeats 2
    .venv/bin/python scripts/bench.py --customers 2000000:2,20000000:1,100000000:1 \
        --memory-cap b=20g --time-cap c=300   # the full run of issue 18
    .venv/bin/python scripts/bench.py --customers 20000000 --repeats 1 --only a
    .venv-spark4.1/bin/python scripts/bench.py --customers 2000000 --repeats 2 --only a,e,f
    .venv/bin/python scripts/bench.py --customers 2000000 --repeats 2 --only a,b,c,d \
        --baseline /tmp/before   # a clean checkout of the commit before the change

The code is the package ``scripts/benchmark/`` (command line, machine and data, variants,
runs, measurement, summary, targets); this file is its entry point.
"""

from __future__ import annotations

from benchmark.cli import main  # scripts/benchmark/: this file's folder is on sys.path

if __name__ == "__main__":
    raise SystemExit(main())
