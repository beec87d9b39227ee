"""``segment export-sql`` and ``export-pmml``: a finished run's model as SQL text for a
database or Spark SQL, or as a PMML document.

Either is the model in another form (:mod:`segmentation.export.sql`,
:mod:`segmentation.export.pmml`): it holds the centre
of every segment and the means and standard deviations over all customers, so, like the
run's ``model/``, it belongs where the customer data is. A run that withholds a segment's
statistics (fewer customers than ``output.min_segment_size``) is refused unless the user
says the destination is trusted like the data (``--include-withheld``): with the means over
everyone and the shown segments' profiles, its centre gives the withheld segment's means.
"""

from __future__ import annotations

import importlib.metadata
import logging
from typing import Any

from pyspark.sql import SparkSession

from segmentation.core.errors import ConfigError
from segmentation.core.secrets import redact_text
from segmentation.export.pmml import scoring_pmml
from segmentation.export.spec import ScoringSpec, scoring_spec
from segmentation.export.sql import DIALECTS, scoring_sql, table_name
from segmentation.outputs.finished import FinishedRun, load_finished_run
from segmentation.outputs.layout import MODEL
from segmentation.outputs.privacy import hidden_segments

log = logging.getLogger(__name__)


def export_sql(spark: SparkSession, *, run: str, dialect: str, table: str | None = None,
               id_column: str | None = None, view: str | None = None,
               include_withheld: bool = False) -> str:
    """The SQL that assigns the segments of the finished run at ``run`` to the rows of
    ``table`` (default: the table the run read), keyed by ``id_column`` (default: the
    run's); with ``view``, the statement that creates that view."""
    finished, spec, withheld = _exportable(spark, run, include_withheld)
    sql_dialect = DIALECTS[dialect]
    source = table or _input_table(finished)
    name = table_name(source, sql_dialect, "--table" if table else
                      "the run's input table (pass --table instead):")
    view_name = table_name(view, sql_dialect, "--view") if view else None
    key = id_column or finished.id_column
    log.info("SQL (%s) of the %d segments of %s for table %s", dialect,
             len(spec.centers), finished.path, name)
    header = _header(finished, spec, f"segment export-sql --dialect {dialect}", key, withheld)
    return scoring_sql(spec, sql_dialect, table=name, id_column=key, view=view_name,
                       header=header)


def export_pmml(spark: SparkSession, *, run: str, include_withheld: bool = False) -> str:
    """The PMML 4.4 document of the finished run at ``run``: its inputs to ``segment`` and
    ``distance``."""
    finished, spec, withheld = _exportable(spark, run, include_withheld)
    log.info("PMML of the %d segments of %s", len(spec.centers), finished.path)
    header = _header(finished, spec, "segment export-pmml", finished.id_column, withheld)
    return scoring_pmml(spec, description=" ".join(header),
                        version=importlib.metadata.version("segmentation"))


def _exportable(spark: SparkSession, run: str, include_withheld: bool
                ) -> tuple[FinishedRun, ScoringSpec, list[int]]:
    """The finished run at ``run``, its model's numbers and its withheld segments; a
    ConfigError when it withholds a segment and ``include_withheld`` is false."""
    finished = load_finished_run(spark, run, key="--run")
    withheld = sorted(hidden_segments(finished.segments, finished.manifest.min_segment_size))
    if withheld and not include_withheld:
        raise ConfigError(
            f"run {finished.path} withholds segment(s) {', '.join(map(str, withheld))} "
            f"(fewer than {finished.manifest.min_segment_size} customers): the export holds "
            "their centres, which with the means over all customers give their members' "
            "means; pass --include-withheld only for a destination trusted like the data")
    spec = scoring_spec(finished.model, finished.features, f"{finished.path}/{MODEL}")
    return finished, spec, withheld


def _input_table(run: FinishedRun) -> str:
    """The catalog or database table the run read; a ConfigError when it read files."""
    source: dict[str, Any] = run.manifest.config.get("input", {})
    jdbc = source.get("jdbc") or {}
    found = source.get("table") or jdbc.get("table")
    if not found:
        raise ConfigError(f"run {run.path} read files, not a table: name the table whose "
                          "rows to segment with --table")
    return str(found)


def _header(run: FinishedRun, spec: ScoringSpec, command: str, id_column: str,
            withheld: list[int]) -> list[str]:
    """What the export is, what it reads and what it holds (comments above the SQL, the
    PMML header's description)."""
    columns = [f"{id_column} (id)", *(f"{step.column} (number)" for step in spec.numeric),
               *(f"{step.column} (text)" for step in spec.categorical)]
    lines = [
        f"Segments of the run {redact_text(run.path)} (started "
        f"{run.manifest.data.get('started_at', 'at an unknown time')}), "
        f"written by `{command}`.",
        f"Gives {id_column}, segment and distance for every row; segment ids: "
        f"{', '.join(map(str, sorted(spec.segment_ids)))}.",
        f"Reads the columns {', '.join(columns)}.",
    ]
    if all(step.median is None for step in spec.numeric) and spec.numeric:
        lines.append("The model does not impute: a row with a missing number gets a null "
                     "segment.")
    lines.append("Holds every segment's centre and the means over all customers: keep it "
                 "where the customer data is." + (
                     f" It includes the withheld segment(s) {', '.join(map(str, withheld))}."
                     if withheld else ""))
    return lines
