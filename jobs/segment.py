"""spark-submit entry point of the segmentation job.

    spark-submit jobs/segment.py --config conf/default.yaml [--set model.k_max=8]
"""

from __future__ import annotations

import argparse
import sys

from segmentation.cli import add_job_arguments, configure_logging, guarded
from segmentation.config import load_config
from segmentation.job import run_segmentation
from segmentation.session import build_session


def main() -> int:
    parser = argparse.ArgumentParser(description="Segment customers (Spark MLlib KMeans).")
    add_job_arguments(parser)
    parser.add_argument("--debug", action="store_true", help="show stack traces on errors")
    args = parser.parse_args()
    configure_logging(args.debug)

    def run() -> None:
        cfg = load_config(args.config, args.overrides)
        spark = build_session(app_name="segment-run", master=args.master, settings=cfg.spark)
        run_segmentation(spark, cfg)

    return guarded(run, debug=args.debug)


if __name__ == "__main__":
    sys.exit(main())
