"""Pack the executors' Python environment for a cluster whose nodes have only Java and Python.

    python scripts/pack_env.py [--base-python PATH] [--build DIR]   -> prints the archive path

Builds ``DIR/env-<hash>.tar.gz`` (``DIR``: ``$SEGMENT_BUILD_DIR``, default ``build/submit``):
a venv on ``--base-python`` (default: the base interpreter of the Python running this
script; ``$SEGMENT_ENV_PYTHON`` also sets it) holding exactly the runtime dependencies of
``pyproject.toml`` and what they require, pinned to the versions installed here, installed
by pip (from its cache or the index; ``PIP_*`` settings apply). Left out: ``pyspark``
(the cluster's Spark puts its own ``python/lib/pyspark.zip`` and py4j on the executors'
path, even the pip wheel's Spark does) and ``matplotlib`` (the report runs locally). The
project itself is not in it either: it travels as ``segmentation.zip`` on ``--py-files``.

``scripts/submit.sh --env packed`` ships it with ``--archives ENV#environment`` and
``spark.pyspark.python=./environment/bin/python``. The archive holds relative paths; its
``bin/python`` is a link to the base interpreter, so every node needs a Python of the same
minor version at the same path (``pyvenv.cfg``'s ``home``). It is rebuilt only when the
pinned list, the base interpreter, its version or this script change; older archives in
``DIR`` are removed.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata as metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
#: Dependencies of pyproject.toml that executors must not get from the archive, and why.
LEFT_OUT = {
    "pyspark": "the cluster's Spark provides pyspark.zip and py4j",
    "matplotlib": "only the local report plots",
}
CHECK = """
import importlib.util, sys
missing = [m for m in sys.argv[1:] if importlib.util.find_spec(m) is None]
present = [m for m in ("pyspark", "segmentation") if importlib.util.find_spec(m) is not None]
if missing or present:
    sys.exit(f"missing {missing}, must not be importable {present}")
"""


class PackError(Exception):
    """A one-line reason the environment cannot be packed."""


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_requirements(pyproject: Path) -> list[Requirement]:
    try:
        import tomllib
    except ModuleNotFoundError as exc:  # Python 3.10
        raise PackError("Python 3.11+ is needed to read pyproject.toml (tomllib)") from exc
    project = tomllib.loads(pyproject.read_text())["project"]
    requirements = [Requirement(line) for line in project["dependencies"]]
    return [r for r in requirements if canonical(r.name) not in LEFT_OUT]


def pinned_closure(requirements: list[Requirement]) -> list[str]:
    """``name==version`` of the requirements and everything they need, as installed here."""
    pins: dict[str, str] = {}
    todo = list(requirements)
    while todo:
        requirement = todo.pop()
        key = canonical(requirement.name)
        if key in pins or (requirement.marker and not requirement.marker.evaluate({"extra": ""})):
            continue
        try:
            dist = metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError as exc:
            raise PackError(f"{requirement.name} is not installed in {sys.prefix}: "
                            f"run scripts/setup.sh") from exc
        pins[key] = f"{key}=={dist.version}"
        todo.extend(Requirement(line) for line in dist.requires or [])
    return sorted(pins.values())


def interpreter(python: str) -> dict[str, str]:
    """Path, version and platform of ``python`` (it must run here)."""
    code = ("import json, sys, sysconfig; print(json.dumps({'version': '%d.%d.%d' % "
            "sys.version_info[:3], 'platform': sysconfig.get_platform(), "
            "'soabi': sysconfig.get_config_var('SOABI') or ''}))")
    try:
        done = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60)
    except OSError as exc:
        raise PackError(f"base Python {python} cannot run: {exc.strerror}") from exc
    if done.returncode != 0:
        raise PackError(f"base Python {python} failed: {done.stderr.strip()[-300:]}")
    return {"path": python, **json.loads(done.stdout)}


def build(target: Path, base: str, pins: list[str]) -> None:
    """Create the venv, install the pins, check it, and tar it (relative paths) to target."""
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".pack-") as tmp:
        env, requirements = Path(tmp) / "env", Path(tmp) / "requirements.txt"
        requirements.write_text("\n".join(pins) + "\n")
        steps = [
            [base, "-m", "venv", "--without-pip", str(env)],
            [sys.executable, "-m", "pip", "--python", str(env / "bin" / "python"), "install",
             "--quiet", "--disable-pip-version-check", "--only-binary=:all:",
             "-r", str(requirements)],
            [str(env / "bin" / "python"), "-c", CHECK, "numpy", "pandas", "pyarrow", "scipy",
             "yaml"],
        ]
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True, cwd="/",
                                  env={k: v for k, v in os.environ.items()
                                       if k not in ("PYTHONPATH", "VIRTUAL_ENV")})
            if done.returncode != 0:
                last = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:]
                raise PackError(f"{Path(step[0]).name} {step[1]} {step[2]}: "
                                f"{last[0] if last else 'exit ' + str(done.returncode)}")
        partial = Path(tmp) / "env.tar.gz"
        done = subprocess.run(["tar", "-C", str(env), "-czf", str(partial), "."],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise PackError(f"tar failed: {done.stderr.strip()}")
        partial.replace(target)


def pack(build_dir: Path, base_python: str) -> Path:
    pins = pinned_closure(runtime_requirements(ROOT / "pyproject.toml"))
    base = interpreter(base_python)
    here = f"{sys.version_info[0]}.{sys.version_info[1]}"
    if base["version"].rsplit(".", 1)[0] != here:
        raise PackError(f"base Python {base_python} is {base['version']}, the driver's is "
                        f"{here}: PySpark needs the same minor version on driver and executors")
    key = hashlib.sha256(json.dumps(
        {"pins": pins, "base": {**base, "version": base["version"].rsplit(".", 1)[0]},
         "script": Path(__file__).read_text()}, sort_keys=True).encode()).hexdigest()[:16]
    build_dir.mkdir(parents=True, exist_ok=True)
    target = build_dir / f"env-{key}.tar.gz"
    if target.is_file():
        print(f"pack_env.py: reusing {target}", file=sys.stderr)
        return target
    started = time.monotonic()
    build(target, base_python, pins)
    for old in build_dir.glob("env-*.tar.gz"):
        if old != target:
            old.unlink()
    print(f"pack_env.py: {target} ({target.stat().st_size / 1e6:.0f} MB, "
          f"{time.monotonic() - started:.0f} s; {len(pins)} packages on Python "
          f"{base['version']} at {base_python})", file=sys.stderr)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pack_env.py", description=__doc__.split("\n")[0])
    parser.add_argument("--base-python", default=os.environ.get("SEGMENT_ENV_PYTHON")
                        or getattr(sys, "_base_executable", sys.executable))
    parser.add_argument("--build", type=Path, default=Path(
        os.environ.get("SEGMENT_BUILD_DIR") or ROOT / "build" / "submit"))
    args = parser.parse_args(argv)
    if shutil.which("tar") is None:
        print("pack_env.py: no tar on PATH", file=sys.stderr)
        return 1
    try:
        print(pack(args.build.resolve(), args.base_python))
    except PackError as exc:
        print(f"pack_env.py: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
