"""The ``segment`` command: run, features, score, export-sql, export-pmml, report, sql,
generate, generate-transactions.

Parses the command line and dispatches: each command loads its config, runs the checks
that need no Spark (the tracking server, a registered model: :mod:`segmentation.tracking.
reach`), opens the job's session (:func:`segmentation.core.session.job_session`) and calls
its job (``jobs/`` are thin spark-submit entry points that call :func:`main`). Every error
a user can cause is printed as one line on stderr with an exit code per class (2 config,
3 input, 4 output, 5 runtime failure of Spark or the machine, 6 a service that cannot be
reached or refuses the credentials, 70 internal error: a bug of
ours, whose traceback goes to a file in the system temp directory; see
:func:`segmentation.core.failures.guarded`); ``--debug`` adds the stack trace.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from segmentation.cli_arguments import (
    add_export_pmml_arguments,
    add_export_sql_arguments,
    add_generate_arguments,
    add_job_arguments,
    add_score_arguments,
    add_spark_arguments,
)
from segmentation.core.errors import ConfigError
from segmentation.core.failures import guarded
from segmentation.core.secrets import RedactingFormatter
from segmentation.tracking.config import resolve_mlflow, with_mlflow
from segmentation.tracking.reach import check_tracking, scoring_registry

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger("segmentation")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``segment`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.debug)
    return guarded(lambda: dispatch(args), debug=args.debug)


def dispatch(args: argparse.Namespace) -> None:
    """Run the command, refusing first what this client's Spark cannot do (Spark Connect
    before pyspark 4.0) so that nothing has started when it fails."""
    if hasattr(args, "remote") and (args.remote or os.environ.get("SPARK_REMOTE")):
        from segmentation.core.sparkversion import require_connect_client

        require_connect_client()
    args.handler(args)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    parser = argparse.ArgumentParser(
        prog="segment", description="Customer segmentation on Apache Spark."
    )
    parser.add_argument("--debug", action="store_true", help="show stack traces on errors")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show stack traces on errors")

    class CommandParser(argparse.ArgumentParser):
        """A sub-command's parser: it also takes the options every command shares."""

        def __init__(self, **kw: Any) -> None:
            super().__init__(parents=[common], **kw)

    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=CommandParser)

    run = sub.add_parser("run", help="segment customers: k sweep, labels, profiles, metrics")
    add_job_arguments(run)
    run.add_argument("--report", action="store_true", help="write the HTML report afterwards")
    run.set_defaults(handler=_run)

    features = sub.add_parser("features", help="build customer features from transactions")
    add_job_arguments(features)
    features.set_defaults(handler=_features)

    score = sub.add_parser("score", help="assign segments to new customers with a saved run")
    add_score_arguments(score)
    score.set_defaults(handler=_score)

    export = sub.add_parser("export-sql", help="a finished run's model as a SQL query or view "
                            "that segments a table's rows where they live")
    add_export_sql_arguments(export)
    export.set_defaults(handler=_export_sql)

    pmml = sub.add_parser("export-pmml", help="a finished run's model, its preparation "
                          "included, as a PMML 4.4 document")
    add_export_pmml_arguments(pmml)
    pmml.set_defaults(handler=_export_pmml)

    report = sub.add_parser("report", help="plots and an HTML page from a finished run")
    report.add_argument("--run", required=True,
                        help="directory of a finished run: local, or s3a://... (the store's "
                        "endpoint in AWS_ENDPOINT_URL, its keys in AWS_ACCESS_KEY_ID/...)")
    report.set_defaults(handler=_report)

    sql = sub.add_parser("sql", help="run Spark SQL with lakehouse connectors: create a "
                         "table, read labels, history, time travel, roll back")
    sql.add_argument("statements", nargs="+", metavar="STATEMENT")
    sql.add_argument("--connectors", default="", metavar="NAME,...",
                     help="connectors to load: delta, iceberg, s3a (comma-separated)")
    sql.add_argument("--config", help="a job's YAML config: its spark section (catalogs, "
                     "s3a settings) is the session's")
    sql.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE",
                     help="a Spark setting over the config's (repeatable)")
    add_spark_arguments(sql)
    sql.set_defaults(handler=_sql)

    gen = sub.add_parser("generate", help="write a synthetic customer table to Parquet")
    add_generate_arguments(gen)
    gen.set_defaults(handler=_generate)

    gen_tx = sub.add_parser(
        "generate-transactions", help="write synthetic transaction lines to Parquet"
    )
    add_generate_arguments(gen_tx)
    gen_tx.set_defaults(handler=_generate_transactions)
    return parser


def configure_logging(debug: bool = False) -> None:
    """Progress on stderr through logging, secrets redacted (tracebacks of ``--debug`` too);
    py4j's own chatter stays quiet."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s",
                                            datefmt="%H:%M:%S"))
    logging.basicConfig(level=logging.DEBUG if debug else logging.INFO, handlers=[handler])
    logging.getLogger("py4j").setLevel(logging.WARNING)


def _job_session(app_name: str, args: argparse.Namespace, settings: Mapping[str, str], *,
                 formats: Sequence[str | None] = (), paths: Sequence[str | None] = (),
                 reads: Sequence[str | None] = (), connectors: Sequence[str] = ()
                 ) -> AbstractContextManager[SparkSession]:
    """The job's session from ``--master``/``--remote``, with the ``connectors`` named and
    those its table ``formats`` and ``paths`` need; ``reads``: the paths of the data it
    reads (None: a table or a database), which size its driver's compilers (imported here:
    ``segment report`` and ``--help`` load no Spark)."""
    from segmentation.core.compiler import small_input
    from segmentation.core.connectors import needed
    from segmentation.core.session import job_session

    names = sorted({*needed(formats=formats, paths=paths), *connectors})
    return job_session(app_name, master=args.master, remote=args.remote, settings=settings,
                       connectors=names, small_input=small_input(reads))


def _run(args: argparse.Namespace) -> None:
    from segmentation.core.fs import local_path
    from segmentation.run.config import load_config
    from segmentation.run.job import run_segmentation

    cfg = with_mlflow(load_config(args.config, args.overrides), args.mlflow_uri)
    if args.report and local_path(cfg.output.path) is None:
        raise ConfigError(
            f"--report writes the report on the local disk, but output.path {cfg.output.path} "
            "is not local: run without --report, then `segment report --run "
            f"{cfg.output.path}` (the store's endpoint in AWS_ENDPOINT_URL)"
        )
    check_tracking(cfg.tracking.mlflow)
    with _job_session("segment-run", args, cfg.spark,
                      formats=[cfg.input.format, cfg.output.table_format],
                      paths=[cfg.input.path, cfg.output.path, cfg.model.previous_run],
                      reads=[cfg.input.path]) as spark:
        manifest = run_segmentation(spark, cfg)
    if args.report:
        from segmentation.report import build_report

        index = build_report(cfg.output.path)
        log.info("report: %s", index)
        if cfg.tracking.mlflow is not None:
            from segmentation.tracking.runs import log_report

            log_report(cfg.tracking.mlflow, manifest["tracking"]["run_id"], Path(index).parent)


def _features(args: argparse.Namespace) -> None:
    from segmentation.features.config import load_features_config
    from segmentation.features.job import run_features

    cfg = with_mlflow(load_features_config(args.config, args.overrides), args.mlflow_uri)
    check_tracking(cfg.tracking.mlflow)
    with _job_session("segment-features", args, cfg.spark,
                      formats=[cfg.transactions.format, cfg.output.table_format],
                      paths=[cfg.transactions.path, cfg.output.path],
                      reads=[cfg.transactions.path]) as spark:
        run_features(spark, cfg)


def _score(args: argparse.Namespace) -> None:
    from segmentation.scoring.config import scoring_input
    from segmentation.scoring.job import score_customers

    given = scoring_input(path=args.input, format=args.input_format, options=args.input_option,
                          schema=args.input_schema, table=args.input_table,
                          config=args.config, overrides=args.overrides)
    tracking = resolve_mlflow(given.tracking.mlflow, args.mlflow_uri)
    registry_uri = scoring_registry(args.model, tracking)
    with _job_session("segment-score", args, given.spark,
                      formats=[given.input.format, args.output_table_format],
                      paths=[given.input.path, args.model, args.output],
                      reads=[given.input.path]) as spark:
        score_customers(spark, model_run=args.model, source=given.input,
                        output_path=args.output, mode=args.mode, table=args.output_table,
                        table_format=args.output_table_format,
                        table_mode=args.output_table_mode, tracking=tracking,
                        registry_uri=registry_uri)


def model_of(run: str) -> str:
    """The saved model of the run at ``run``: all an export reads but a few small files."""
    from segmentation.outputs.layout import MODEL

    return f"{run.rstrip('/')}/{MODEL}"


def _export_sql(args: argparse.Namespace) -> None:
    from segmentation.export.job import export_sql

    with _job_session("segment-export-sql", args, {}, paths=[args.run],
                      reads=[model_of(args.run)]) as spark:
        text = export_sql(spark, run=args.run, dialect=args.dialect, table=args.table,
                          id_column=args.id_column, view=args.view,
                          include_withheld=args.include_withheld)
    sys.stdout.write(text)


def _export_pmml(args: argparse.Namespace) -> None:
    from segmentation.export.job import export_pmml

    with _job_session("segment-export-pmml", args, {}, paths=[args.run],
                      reads=[model_of(args.run)]) as spark:
        text = export_pmml(spark, run=args.run, include_withheld=args.include_withheld)
    sys.stdout.write(text)


def _report(args: argparse.Namespace) -> None:
    from segmentation.report import build_report

    index = build_report(args.run)
    print(index)


def _sql(args: argparse.Namespace) -> None:
    from segmentation.core.configfile import read_yaml_with_overrides
    from segmentation.core.connectors import parse_names
    from segmentation.data.statements import run_statements, spark_settings

    names = parse_names(args.connectors)
    config = read_yaml_with_overrides(args.config) if args.config else {}
    with _job_session("segment-sql", args, spark_settings(config, args.conf),
                      connectors=names) as spark:
        run_statements(spark, args.statements, sys.stdout)


def _generate(args: argparse.Namespace) -> None:
    from segmentation.synthetic.customers import generate_customers

    _generated(args, generate_customers, "customers")


def _generate_transactions(args: argparse.Namespace) -> None:
    from segmentation.synthetic.transactions import generate_transactions

    _generated(args, generate_transactions, "transaction lines")


def _generated(args: argparse.Namespace, generate: Callable[..., int], what: str) -> None:
    """Write ``generate``'s table into ``--output`` as a whole (``--overwrite`` to replace)."""
    from segmentation.core.atomic import replaced_directory

    with replaced_directory(args.output, overwrite=args.overwrite) as out:
        rows = generate(args.customers, out.path, seed=args.seed)
    log.info("wrote %d %s to %s", rows, what, args.output)


if __name__ == "__main__":
    sys.exit(main())
