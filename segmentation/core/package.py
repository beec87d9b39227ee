"""The ``segmentation`` package as a zip, for Python workers that do not have it installed.

Spark's Python workers run code of ours (the ``mapInArrow`` metric passes and Lloyd
iterations). Under ``spark-submit`` the zip goes on ``--py-files`` (``scripts/package.sh``);
over Spark Connect the client uploads it as an artifact (``addArtifacts(..., pyfile=True)``).
The zip is reproducible (sorted entries, fixed timestamps) and cached by its content hash.

    python -m segmentation.core.package OUT.zip
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
import zipfile
from pathlib import Path

import segmentation

SOURCE = Path(segmentation.__file__).resolve().parent


def _entries(source: Path) -> list[tuple[str, Path]]:
    """(name in the zip, file) of every source file of the package, sorted."""
    files = [p for p in source.rglob("*") if p.is_file()
             and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo")
             and not any(part.startswith(".") for part in p.relative_to(source).parts)]
    return sorted((str(p.relative_to(source.parent)), p) for p in files)


def write_zip(target: Path, source: Path = SOURCE) -> Path:
    """Write the package at ``source`` into the zip ``target`` (atomically); return it."""
    entries = _entries(source)
    if not entries:
        raise RuntimeError(f"no files under {source}")
    partial = target.with_name(target.name + ".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, path in entries:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    partial.replace(target)
    return target


def package_zip(source: Path = SOURCE) -> Path:
    """The zip of the package in the system temp directory, built once per content."""
    digest = hashlib.sha256()
    for name, path in _entries(source):
        digest.update(name.encode() + b"\0" + path.read_bytes())
    target = Path(tempfile.gettempdir()) / f"segmentation-{digest.hexdigest()[:16]}.zip"
    return target if target.is_file() else write_zip(target, source)


if __name__ == "__main__":
    print(write_zip(Path(sys.argv[1]).resolve()))
