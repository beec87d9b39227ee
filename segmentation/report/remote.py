"""The report of a run on an object store (``s3a://...``): its small files are copied to a
temporary local folder, the report is drawn there and written back beside the run.

The report needs only the run's top-level files (CSV and JSON, a few kB), never its labels
or model, so nothing large crosses the network. The store is reached as the job reached it
(:mod:`segmentation.core.objectstore`): from a config's ``spark:`` settings when given,
else from ``AWS_ENDPOINT_URL`` and the AWS credential variables.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa

from segmentation.core.atomic import StagedOutput
from segmentation.core.errors import InputDataError, one_line
from segmentation.core.fs import file_system


@contextmanager
def local_copy(run_dir: str, settings: Mapping[str, str]) -> Iterator[Path]:
    """A temporary folder holding the top-level files of the remote ``run_dir``; errors
    raised while it is read name ``run_dir``, not the folder."""
    fs = file_system(run_dir, settings=settings)
    with tempfile.TemporaryDirectory(prefix="segment-report-") as folder:
        try:
            for name in fs.list_names(run_dir):
                source = f"{run_dir}/{name}"
                if not fs.is_dir(source):
                    (Path(folder) / name).write_bytes(fs.read_bytes(source))
        except (OSError, pa.ArrowException) as exc:
            raise InputDataError(f"run directory {run_dir}: cannot read its files: "
                                 f"{one_line(exc)}") from exc
        try:
            yield Path(folder)
        except InputDataError as exc:
            raise InputDataError(str(exc).replace(folder, run_dir)) from exc


def upload(folder: Path, out: StagedOutput) -> None:
    """Write the files of a local ``folder`` into the staged output ``out``."""
    for path in sorted(folder.iterdir()):
        if path.is_file():
            out.fs.write_bytes(out.file(path.name), path.read_bytes())
