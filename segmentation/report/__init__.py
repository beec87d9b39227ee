"""The local report of a finished run: PNG plots and one HTML page, from small files only.

Reads the run directory's CSV and JSON files with pandas (no Spark), draws the plots with
matplotlib on the headless Agg canvas and writes ``RUN_DIR/report/index.html`` beside them.
The report directory is written with the run's own atomic swap
(:func:`segmentation.core.atomic.atomic_output`), so a failed render never leaves a
half-written report and an earlier report stays until the new one is complete. A run on
an object store (``s3a://...``) is reported the same way through a local copy of its small
files (:mod:`segmentation.report.remote`), the report written back beside it.

Examples
--------
>>> from segmentation.report import build_report
>>> build_report(run_dir)  # the directory of a finished run
'.../report/index.html'
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from segmentation.core.atomic import atomic_output
from segmentation.core.fs import local_path
from segmentation.outputs.layout import REPORT_DIR
from segmentation.outputs.privacy import withheld_text
from segmentation.report.attributes import plot_attributes
from segmentation.report.boxes import plot_distributions
from segmentation.report.colors import segment_colors
from segmentation.report.figures import Plot
from segmentation.report.heatmaps import plot_migration, plot_profiles
from segmentation.report.html import render_html
from segmentation.report.load import RunData, load_run
from segmentation.report.plots import explained_variance, plot_k_selection, plot_scatter, plot_sizes
from segmentation.report.remote import local_copy, upload

__all__ = ["build_report"]

log = logging.getLogger(__name__)


def build_report(run_dir: str | os.PathLike[str], *,
                 settings: Mapping[str, str] | None = None) -> str:
    """Write the plots and ``index.html`` of the run in ``run_dir`` into ``run_dir/report``.

    Parameters
    ----------
    run_dir : str or path-like
        A finished run directory: a local path, a ``file:`` URI, or on an object store
        (``s3a://...``: its small files are read, the report written back beside them).
    settings : mapping, optional
        A config's ``spark:`` settings, for the S3A endpoint and keys of a remote
        ``run_dir`` (else ``AWS_ENDPOINT_URL`` and the AWS credential variables).

    Returns
    -------
    str
        The path of ``index.html``.

    Raises
    ------
    InputDataError
        The run directory is missing, unfinished or malformed (the message names the path).
    """
    text = os.fspath(run_dir)
    if local_path(text) is None:
        target = f"{text.rstrip('/')}/{REPORT_DIR}"
        with local_copy(text.rstrip("/"), settings or {}) as copy, \
                tempfile.TemporaryDirectory(prefix="segment-report-") as pages:
            run = load_run(copy)
            count = _render(run, Path(pages))
            with atomic_output(target, "overwrite", name="report directory",
                               settings=settings) as out:
                upload(Path(pages), out)
    else:
        run = load_run(run_dir)
        target = str(run.path / REPORT_DIR)
        with atomic_output(target, "overwrite", name="report directory") as out:
            count = _render(run, Path(out.path))
    index = f"{target}/index.html"
    log.info("report of %s: %d images, %s", text, count, index)
    return index


def _render(run: RunData, out_dir: Path) -> int:
    """Draw the run's plots and its ``index.html`` into ``out_dir``; the number of plots."""
    colors = segment_colors(run.segments["segment"])
    plots = render_plots(run, colors=colors, rule=run.selection_rule, out_dir=out_dir)
    (out_dir / "index.html").write_text(render_html(run, plots, colors=colors,
                                                    rule=run.selection_rule), encoding="utf-8")
    return len(plots)


def render_plots(run: RunData, *, colors: dict[int, str], rule: str, out_dir: Path
                 ) -> list[Plot]:
    """Draw every plot the run's files support into ``out_dir``, in page order."""
    ids = [int(s) for s in run.segments["segment"]]
    withheld = run.withheld
    features = run.manifest.get("features")
    log1p = features.get("log1p", []) if isinstance(features, dict) else []
    plots = [
        plot_k_selection(run.metrics, chosen_k=run.chosen_k, select_by=run.select_by,
                         rule=rule, out_dir=out_dir),
        plot_sizes(run.segments, colors=colors, out_dir=out_dir),
        plot_profiles(run.profiles, ids, colors=colors, out_dir=out_dir,
                      withheld={s: withheld_text(run.min_segment_size) for s in withheld}),
        *plot_distributions(run.profiles, ids, colors=colors, log_features=log1p or [],
                            out_dir=out_dir, withheld=withheld),
    ]
    if run.scatter is not None and not run.scatter.empty:
        plots.append(plot_scatter(run.scatter, run.centroids, colors=colors,
                                  explained=explained_variance(run.manifest), out_dir=out_dir))
    if run.attributes is not None and not run.attributes.empty:
        plots += plot_attributes(run.attributes, ids, colors=colors, out_dir=out_dir,
                                 withheld={s: withheld_text(run.min_segment_size)
                                           for s in withheld})
    if run.migration is not None and not run.migration.empty:
        migration = run.manifest.get("migration")
        kept = migration.get("kept_share") if isinstance(migration, dict) else None
        plots.append(plot_migration(run.migration, colors=colors,
                                    kept_share=float(kept) if kept is not None else None,
                                    out_dir=out_dir))
    return plots
