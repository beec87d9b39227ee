"""The arguments of the ``segment`` commands (:mod:`segmentation.cli` builds the parser
from them): what each job takes, with the help users read in ``segment COMMAND --help``."""

from __future__ import annotations

import argparse


def add_generate_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of the two generators."""
    parser.add_argument("--customers", type=positive_int, required=True)
    parser.add_argument("--output", required=True, help="directory, empty or absent")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--overwrite", action="store_true",
                        help="replace --output whole when it is not empty")


def add_score_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``segment score``."""
    parser.add_argument("--model", required=True,
                        help="directory of a finished run, or a model it logged to MLflow: "
                        "models:/NAME@ALIAS, models:/NAME/VERSION, runs:/RUN_ID/model")
    parser.add_argument("--input", help="customers to score: a path (Parquet unless "
                        "--input-format); or --input-table, or --config with an input section")
    parser.add_argument("--input-format", help="format of --input (orc, csv, json, ...)")
    parser.add_argument("--input-option", action="append", default=[], metavar="KEY=VALUE",
                        help="reader option for --input, e.g. header=true (repeatable)")
    parser.add_argument("--input-schema", help="Spark DDL schema of --input")
    parser.add_argument("--input-table", help="a catalog table (db.table) to score")
    parser.add_argument("--config", help="YAML with an input section (path, table or jdbc, "
                        "as in segment run) and optional spark settings")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a key of --config (repeatable)")
    parser.add_argument("--output", required=True, help="directory for the scored outputs")
    parser.add_argument("--mode", choices=["error", "overwrite"], default="error",
                        help="what to do when --output exists (default: error)")
    parser.add_argument("--output-table", help="also show the labels as this catalog table")
    parser.add_argument("--output-table-format", choices=["parquet", "delta", "iceberg"],
                        default="parquet", help="parquet: an external table over --output's "
                        "labels; delta or iceberg: a table of that format, one commit per run")
    parser.add_argument("--output-table-mode", choices=["overwrite", "merge"],
                        default="overwrite", help="merge (delta, iceberg): update the scored "
                        "customers' rows by id, insert new ones, leave the others")
    add_spark_arguments(parser)
    add_tracking_argument(parser)


def add_export_sql_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``segment export-sql``."""
    from segmentation.export.sql import DIALECTS

    parser.add_argument("--run", required=True, help="directory of a finished segment run")
    parser.add_argument("--dialect", required=True, choices=sorted(DIALECTS),
                        help="SQL dialect of the query: postgresql, spark (Spark SQL) or ansi")
    parser.add_argument("--table", help="table whose rows to segment, as written in SQL "
                        "(default: the table the run read, if it read one)")
    parser.add_argument("--id", dest="id_column", metavar="COLUMN",
                        help="id column of --table (default: the run's input.id_column)")
    parser.add_argument("--view", metavar="NAME",
                        help="print a statement that creates (or replaces) this view instead "
                        "of the bare query")
    _include_withheld(parser)
    add_spark_arguments(parser)


def add_export_pmml_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``segment export-pmml``."""
    parser.add_argument("--run", required=True, help="directory of a finished segment run")
    _include_withheld(parser)
    add_spark_arguments(parser)


def _include_withheld(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--include-withheld", action="store_true",
                        help="export a run that withholds small segments all the same: the "
                        "export then holds their centres (for a destination trusted like "
                        "the data)")


def add_tracking_argument(parser: argparse.ArgumentParser) -> None:
    """``--mlflow-uri``: log the job to MLflow (needs the ``mlflow`` extra)."""
    parser.add_argument(
        "--mlflow-uri", metavar="URI",
        help="log this job to the MLflow tracking server (or store) at URI; tracking is "
        "also on with a tracking.mlflow config section, which MLFLOW_TRACKING_URI alone never "
        "switches on")


def add_spark_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the job's Spark is: a master of its own, or a Spark Connect server."""
    parser.add_argument(
        "--master", help="Spark master when not started by spark-submit (default: local[*])"
    )
    parser.add_argument(
        "--remote", metavar="sc://HOST:PORT",
        help="run over Spark Connect (default: the SPARK_REMOTE environment variable, if set)",
    )


def add_job_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments shared by the Spark jobs: a config file, overrides, a master."""
    parser.add_argument("--config", required=True, help="YAML config file")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set model.k_max=8 (repeatable)",
    )
    add_spark_arguments(parser)
    add_tracking_argument(parser)


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be >= 1")
    return value
