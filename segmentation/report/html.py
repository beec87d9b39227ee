"""The report's single HTML page: run facts, tables and the plots beside it.

The page is self-contained: inline CSS, no script, no network; the images are PNG files in
the same directory, referenced by relative name. Every piece of text from the run (paths,
feature names, descriptions, versions) goes through :func:`html.escape`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from html import escape
from typing import Any

import pandas as pd

from segmentation.model.selection import METRICS_BY_COLUMN
from segmentation.model.verdicts import STABLE_SEGMENT, UNSTABLE_SEGMENT, segment_rating
from segmentation.report.attributes import tests_table
from segmentation.report.colors import UNKNOWN_COLOR, text_color_on
from segmentation.report.figures import Plot
from segmentation.report.fmt import duration
from segmentation.report.load import RunData

#: Page sections in order: (id, heading).
SECTIONS = (
    ("k", "Choice of k"),
    ("segments", "Segments"),
    ("profiles", "Profiles"),
    ("attributes", "Attributes not clustered"),
    ("distributions", "Distributions"),
    ("scatter", "2-D projection"),
    ("migration", "Migration from the previous run"),
)

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto;
       max-width: 1400px; padding: 0 1.5rem; color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2rem; } h2 { border-bottom: 2px solid #ddd; padding-bottom: 0.2rem;
     margin-top: 2.5rem; }
.sub { color: #666; margin-top: 0; } .note { color: #666; font-style: italic; }
nav a { margin-right: 1rem; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.92rem; }
th, td { border: 1px solid #ddd; padding: 0.3rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.facts th { width: 13rem; } .wide { overflow-x: auto; }
tr.chosen td { background: #fdecea; font-weight: 600; }
tr.withheld td { color: #666; font-style: italic; }
td.best { text-decoration: underline; }
.swatch { display: inline-block; min-width: 1.8rem; text-align: center; border-radius: 3px;
          padding: 0 0.3rem; font-weight: 600; }
.warning { background: #fff4e5; border-left: 4px solid #e69500; padding: 0.5rem 0.8rem;
           margin: 0.8rem 0; }
td.stable { color: #1b7837; } td.doubtful { color: #b35806; }
td.unstable { color: #b2182b; font-weight: 600; }
figure { margin: 1rem 0; } figcaption { color: #555; font-size: 0.9rem; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
"""


def render_html(run: RunData, plots: list[Plot], *, colors: dict[int, str], rule: str) -> str:
    """The whole page as a string."""
    by_section: dict[str, list[Plot]] = {}
    for plot in plots:
        by_section.setdefault(plot.section, []).append(plot)
    warnings = _warnings(run.warnings)
    extra = {
        "k": [warnings, f"<p>{escape(rule)}.</p>", _metrics_table(run.metrics, run.chosen_k),
              _stability_note(run.metrics)],
        "segments": [_segments_table(run.segments, colors), _privacy_note(run)],
        "profiles": [_profiles_note(bool(run.withheld))],
        **({"attributes": [_attributes_note(run), tests_table(run.attributes)]}
           if run.attributes is not None else {}),
        "scatter": [] if run.scatter is not None else [
            '<p class="note">No scatter sample in this run (turned off with '
            "output.pca_sample_size = 0, or fewer than two features).</p>"],
    }
    body = []
    shown = [(sid, title) for sid, title in SECTIONS if sid in by_section or sid in extra]
    for sid, title in shown:
        body.append(f'<section id="{sid}"><h2>{escape(title)}</h2>')
        body.extend(extra.get(sid, []))
        body.extend(_figure(plot) for plot in by_section.get(sid, []))
        body.append("</section>")
    nav = " ".join(f'<a href="#{sid}">{escape(title)}</a>' for sid, title in
                   [("run", "Run"), *shown])
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Segmentation report: {escape(run.path.name)}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Customer segmentation report</h1>",
        f'<p class="sub">Run directory <code>{escape(str(run.path))}</code>; '
        f"report generated {generated}.</p>",
        f"<nav>{nav}</nav>",
        f'<section id="run"><h2>Run</h2>{warnings}{_facts_table(run, rule)}</section>',
        *body,
        "</body></html>",
    ])


def _figure(plot: Plot) -> str:
    name = escape(plot.filename)
    caption = escape(plot.caption or plot.title)
    return (f'<figure><a href="{name}"><img src="{name}" alt="{escape(plot.title)}" '
            f'loading="eager"></a><figcaption>{caption}</figcaption></figure>')


def _facts_table(run: RunData, rule: str) -> str:
    m = run.manifest
    source, features, dropped = (_mapping(m.get(key)) for key in
                                 ("input", "features", "rows_dropped"))
    dropped_total = sum(float(v) for v in dropped.values() if _finite(v))
    dropped_text = _count(dropped_total) if dropped else _count(m.get("rows_dropped"))
    if dropped:
        dropped_text += " (" + ", ".join(f"{reason}: {_count(n)}" for reason, n in
                                         dropped.items()) + ")"
    rows: list[tuple[str, str]] = [
        ("Input", str(source.get("path") or source.get("table")
                      or _mapping(source.get("jdbc")).get("table") or "–")),
        ("Id column", str(source.get("id_column", "–"))),
        ("Rows read", _count(m.get("rows_read"))),
        ("Rows used", _count(m.get("rows_used"))),
        ("Rows dropped", dropped_text),
        ("Numeric features", _names(features.get("numeric"))),
        ("Categorical features", _names(features.get("categorical"))),
        ("log1p applied to", _names(features.get("log1p"))),
        ("Chosen k", str(run.chosen_k) if run.chosen_k is not None else "–"),
        ("Selection rule", rule),
        ("Started", str(m.get("started_at", "–"))),
        ("Finished", str(m.get("finished_at", "–"))),
        ("Duration", duration(m.get("duration_seconds"))),
        ("Stage timings", _pairs(m.get("timings"), duration)),
        ("Versions", _pairs(m.get("versions"), str)),
    ]
    migration = _mapping(m.get("migration"))
    if _finite(migration.get("kept_share")):
        rows.append(("Kept their segment", f"{float(migration['kept_share']):.1%}"))
    cells = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    return f'<table class="facts">{cells}</table>'


def _metrics_table(metrics: pd.DataFrame, chosen_k: int | None) -> str:
    columns = [c for c in metrics.columns if c != "k" and metrics[c].notna().any()]
    best = {}
    for column in columns:
        info = METRICS_BY_COLUMN.get(column)
        if info is not None and info.higher_is_better is not None and len(metrics) > 1:
            values = metrics[column]
            best[column] = values.idxmax() if info.higher_is_better else values.idxmin()
    head = "".join(f"<th>{escape(_metric_heading(c))}</th>" for c in ["k", *columns])
    body = []
    for index, row in metrics.iterrows():
        chosen = ' class="chosen"' if int(row["k"]) == chosen_k else ""
        cells = [f'<td class="num">{int(row["k"])}</td>']
        for column in columns:
            css = "num best" if best.get(column) == index else "num"
            cells.append(f'<td class="{css}">{escape(_metric_value(column, row[column]))}</td>')
        body.append(f"<tr{chosen}>{''.join(cells)}</tr>")
    return (f'<div class="wide"><table><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>"
            '<p class="note">Highlighted row: the chosen k; underlined: the best value of '
            "each metric (↑ higher is better, ↓ lower is better).</p>")


def _warnings(warnings: list[str]) -> str:
    """The run's warnings as visible notes (nothing when there are none)."""
    return "".join(f'<p class="warning"><strong>Warning:</strong> {escape(w)}.</p>'
                   for w in warnings)


def _stability_note(metrics: pd.DataFrame) -> str:
    """How to read the stability columns, when the run measured them."""
    if "stability" not in metrics or metrics["stability"].isna().all():
        return ""
    return ('<p class="note">Stability: the mean adjusted Rand index between the '
            "clusterings of pairs of bootstrap resamples of the evaluation sample (1: the "
            "same segments every time; near 0: no more alike than chance), with its "
            "quartiles.</p>")


def _segments_table(segments: pd.DataFrame, colors: dict[int, str]) -> str:
    rated = segments["stability"].notna().any()
    body = []
    for row in segments.itertuples(index=False):
        colour = colors.get(int(row.segment), UNKNOWN_COLOR)
        swatch = (f'<span class="swatch" style="background:{colour};'
                  f'color:{text_color_on(colour)}">{int(row.segment)}</span>')
        share = f"{row.share:.1%}" if _finite(row.share) else "–"
        css = ' class="withheld"' if row.suppressed else ""
        stability = ""
        if rated:
            rating = segment_rating(float(row.stability))
            # two decimals rounded down: 0.749 ("doubtful") must not read 0.75
            value = f"{math.floor(row.stability * 100) / 100:.2f} {rating}" if rating else "–"
            stability = f'<td class="num {rating}">{escape(value)}</td>'
        body.append(f'<tr{css}><td>{swatch}</td><td class="num">{escape(_count(row.size))}'
                    f'</td><td class="num">{share}</td>{stability}'
                    f"<td>{escape(str(row.description))}</td></tr>")
    head = "<th>Stability</th>" if rated else ""
    note = (f'<p class="note">Stability: the mean Jaccard similarity of the segment with its '
            "best match in the clusterings of bootstrap resamples (Hennig); "
            f"{STABLE_SEGMENT} or more: stable; under {UNSTABLE_SEGMENT}: unstable, do not "
            "act on it alone; between: doubtful.</p>") if rated else ""
    return ("<table><thead><tr><th>Segment</th><th>Customers</th><th>Share</th>"
            f"{head}<th>Description</th></tr></thead><tbody>{''.join(body)}</tbody></table>"
            + note)


def _profiles_note(withheld: bool) -> str:
    overall = "the customers of the shown segments" if withheld else "all customers"
    return (f'<p class="note">Colour: how far the segment mean lies from the mean of {overall}, '
            "in their standard deviations (z). Text: the segment mean in the "
            "feature's own units; for a category level (column=level), the share of the "
            "segment's customers with that level.</p>")


def _attributes_note(run: RunData) -> str:
    over = "the shown segments' customers" if run.withheld else "all customers"
    return ('<p class="note">Columns that were not clustered (features.profile_columns), '
            f"read against the segments; every test is over {over}. A p-value below 5 % "
            "says the segments differ on the column; it says nothing about why.</p>")


def _privacy_note(run: RunData) -> str:
    """What is withheld and why, or nothing when every segment is shown."""
    withheld = run.withheld
    if not withheld:
        return ""
    ids = ", ".join(map(str, withheld))
    shown = run.segments.loc[~run.segments["suppressed"], "size"].sum()
    return (f'<p class="note">Segment{"s" if len(withheld) > 1 else ""} {escape(ids)}: fewer '
            f"than {run.min_segment_size:,} customers (output.min_segment_size), so only the "
            "size is shown: no statistic, description, centroid or sample point. Overall "
            f"statistics are over the {_count(shown)} customers of the shown segments, so "
            "that they cannot be subtracted back into a withheld one.</p>")


def _metric_heading(column: str) -> str:
    """The column name with ↑ (higher is better) or ↓ (lower is better) where known."""
    info = METRICS_BY_COLUMN.get(column)
    if info is None or info.higher_is_better is None:
        return column
    return f"{column} {'↑' if info.higher_is_better else '↓'}"


def _metric_value(column: str, value: Any) -> str:
    if not _finite(value):
        return "–"
    if column == "iterations":
        return str(int(value))
    if column == "seconds":
        return f"{value:.1f}"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3f}"


def _count(value: Any) -> str:
    return f"{int(value):,}" if _finite(value) else "–"


def _names(values: Any) -> str:
    if isinstance(values, list | tuple) and values:
        return ", ".join(map(str, values))
    return "–"


def _pairs(mapping: Any, render: Callable[[Any], str]) -> str:
    if not isinstance(mapping, Mapping) or not mapping:
        return "–"
    return ", ".join(f"{key} {render(value)}" for key, value in mapping.items())


def _mapping(value: Any) -> Mapping[str, Any]:
    """``value`` if the manifest holds a mapping there, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False

