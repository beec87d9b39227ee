"""The benchmark's command line and its run over every size (the entry is scripts/bench.py)."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import math
import os
import re
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import daemons

from . import REPO
from .machine import GENERATE_SEED, ensure_data, format_machine, machine_info
from .measure import Cap
from .runs import BenchError, child_env, run_all
from .summary import markdown, summarize
from .tables import ensure_table
from .targets import evaluate_targets, targets_markdown
from .variants import TABLE_VARIANTS, VARIANT_KEYS, build_variants

BYTE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
DEFAULT_MEMORY = "each variant's default: (a) half the RAM, (c) Spark's 1g"


class Size(NamedTuple):
    """One benchmarked table size and the repeats of each variant on it."""

    customers: int
    repeats: int


def main(argv: Sequence[str] | None = None) -> int:
    """Generate (or reuse) the data of every size, run every size in turn, print and save
    the per-size summaries and the targets."""
    args = parse_args(argv)
    command = shlex.join(["scripts/bench.py", *(sys.argv[1:] if argv is None else argv)])
    machine = machine_info()
    print(f"$ {command}\n{format_machine(machine)}", flush=True)
    data = {size.customers: ensure_data(size.customers, args.data_dir) for size in args.sizes}
    started, load_start = dt.datetime.now(dt.timezone.utc), os.getloadavg()
    state, server = args.data_dir / "connect-state", None
    try:
        if "d" in args.only:  # one warm server for every repeat of (d); its start is not timed
            memory = ["--driver-memory", args.driver_memory] if args.driver_memory else []
            server = daemons.start("connect.sh", state, *memory)
            print(f"Spark Connect server {server.url} (pid {server.pid})", flush=True)
        reports = [bench_size(args, size, data[size.customers], server) for size in args.sizes]
    except (BenchError, daemons.ServerError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if "d" in args.only:
            daemons.stop("connect.sh", state)
    targets = evaluate_targets(reports)
    result = {
        "command": command, "machine": machine, "started_at": started.isoformat(),
        "load_average_start": load_start, "load_average_end": os.getloadavg(),
        "caps": {key: dataclasses.asdict(cap) for key, cap in args.caps.items()},
        "sizes": reports, "targets": targets,
    }
    print("\n".join([*map(markdown, reports), targets_markdown(targets)]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nJSON: {args.out}")
    return 0


def bench_size(args: argparse.Namespace, size: Size, data: Path,
               server: daemons.Server | None) -> dict[str, Any]:
    """Every repeat of every variant on one size's ``data``, summarised; logs in ``logs-N``."""
    log_dir = args.data_dir / f"logs-{size.customers}"
    log_dir.mkdir(parents=True, exist_ok=True)
    started, load_start = dt.datetime.now(dt.timezone.utc), os.getloadavg()
    tables = {fmt: ensure_table(data, fmt) for key, fmt in TABLE_VARIANTS.items()
              if key in args.only}
    variants = [v for v in build_variants(data, args.k_min, args.k_max, server, args.baseline,
                                          tables) if v.key in args.only]
    runs = run_all(variants, size.repeats, child_env(args.driver_memory), log_dir, args.caps)
    report = summarize(runs, variants)
    report.update(
        customers=size.customers, repeats=size.repeats, k_range=[args.k_min, args.k_max],
        data=str(data), generate_seed=GENERATE_SEED,
        driver_memory=args.driver_memory or DEFAULT_MEMORY, started_at=started.isoformat(),
        load_average_start=load_start, load_average_end=os.getloadavg(), logs=str(log_dir),
    )
    return report


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line; ``--out`` defaults to ``DATA_DIR/bench-customers-N_M....json``."""
    parser = argparse.ArgumentParser(description="The benchmark (issues 6 and 18): this "
                                     "project's job against scikit-learn and plain MLlib.")
    parser.add_argument("--customers", required=True, metavar="SIZE[:REPEATS],...",
                        help="comma-separated sizes (rows to generate), each optionally with "
                        "its own repeats: 2000000:2,20000000")
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs of each variant at a size without :REPEATS")
    parser.add_argument("--data-dir", type=Path, default=REPO / "bench-data",
                        help="cache of generated tables (default: bench-data/)")
    parser.add_argument("--out", type=Path, help="JSON result file")
    parser.add_argument("--k-min", type=int, default=2)
    parser.add_argument("--k-max", type=int, default=10)
    parser.add_argument("--only", type=lambda s: s.split(","), default=["a", "b", "c"],
                        help="comma-separated subset of the variants a,b,c,d,e,f (default "
                        "a,b,c; --baseline adds a0; e and f need a Spark line with Delta "
                        "Lake and Iceberg, e.g. .venv-spark4.1/bin/python scripts/bench.py)")
    parser.add_argument("--baseline", type=Path,
                        help="a checkout whose segmentation package runs as variant (a0)")
    parser.add_argument("--driver-memory",
                        help="Spark driver memory of (a) and (c), e.g. 8g (default: each "
                        "one's own: half the RAM for (a), Spark's 1g for (c))")
    parser.add_argument("--memory-cap", action="append", default=[], metavar="VARIANT=SIZE",
                        help="run VARIANT under prlimit --as=SIZE (e.g. b=20g); repeatable")
    parser.add_argument("--time-cap", action="append", default=[],
                        metavar="VARIANT=SECONDS",
                        help="kill VARIANT's processes after SECONDS (e.g. c=900); repeatable")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    try:
        args.sizes = parse_sizes(args.customers, args.repeats)
    except ValueError as exc:
        parser.error(f"--customers: {exc}")
    if not 2 <= args.k_min <= args.k_max:
        parser.error(f"need 2 <= --k-min ({args.k_min}) <= --k-max ({args.k_max})")
    if not args.only or set(args.only) - set(VARIANT_KEYS):
        parser.error(f"--only takes a comma-separated subset of a,b,c,d,e,f, not {args.only}")
    memory = cap_values(parser, "--memory-cap", args.memory_cap, parse_bytes)
    seconds = cap_values(parser, "--time-cap", args.time_cap, float)
    args.caps = {key: Cap(memory.get(key), seconds.get(key))
                 for key in VARIANT_KEYS if key in memory or key in seconds}
    if args.baseline is not None:
        args.baseline = args.baseline.resolve()
        if not (args.baseline / "segmentation" / "__init__.py").is_file():
            parser.error(f"--baseline {args.baseline} holds no segmentation package")
        args.only = [*args.only, "a0"]
    args.data_dir = args.data_dir.resolve()
    joined = "_".join(str(size.customers) for size in args.sizes)
    args.out = args.out or args.data_dir / f"bench-customers-{joined}.json"
    return args


def parse_sizes(text: str, default_repeats: int) -> list[Size]:
    """``2000000:2,20000000`` -> sizes in the given order; a size without ``:R`` gets
    ``default_repeats``. A size listed twice is refused (its logs would overwrite)."""
    sizes: list[Size] = []
    for item in text.split(","):
        customers, _, repeats = item.strip().partition(":")
        if not re.fullmatch(r"\d+", customers) or not re.fullmatch(r"\d*", repeats):
            raise ValueError(f"expected SIZE[:REPEATS],... with whole numbers, not {item!r}")
        size = Size(int(customers), int(repeats) if repeats else default_repeats)
        if size.customers < 1 or size.repeats < 1:
            raise ValueError(f"sizes and repeats must be >= 1, not {item!r}")
        if size.customers in [s.customers for s in sizes]:
            raise ValueError(f"{size.customers} is listed twice")
        sizes.append(size)
    return sizes


def parse_bytes(text: str) -> int:
    """``20g`` -> bytes (units k, m, g, t of 1024; none: bytes)."""
    match = re.fullmatch(r"(\d+)([kmgt]?)", text.strip().lower())
    if match is None:
        raise ValueError(text)
    return int(match[1]) * BYTE_UNITS[match[2]]


def cap_values(parser: argparse.ArgumentParser, option: str, items: list[str],
               convert: Callable[[str], float]) -> dict[str, Any]:
    """``["b=20g", ...]`` -> ``{"b": convert("20g")}``; a bad item is a one-line error."""
    values: dict[str, Any] = {}
    for item in items:
        key, _, text = item.partition("=")
        try:
            value = convert(text)
        except ValueError:
            value = math.nan
        if key not in VARIANT_KEYS or not 0 < value < math.inf:
            parser.error(f"{option} takes VARIANT=VALUE, VARIANT one of "
                         f"{','.join(VARIANT_KEYS)} and VALUE positive, not {item!r}")
        values[key] = value
    return values

