"""spark-submit entry point of the features job (transactions -> one row per customer).

    spark-submit jobs/build_features.py --config conf/features-demo.yaml [--set k=v]
"""

from __future__ import annotations

import argparse
import sys

from segmentation.cli import add_job_arguments, configure_logging, guarded
from segmentation.features_config import load_features_config
from segmentation.features_job import run_features
from segmentation.session import build_session


def main() -> int:
    parser = argparse.ArgumentParser(description="Build customer features from transactions.")
    add_job_arguments(parser)
    parser.add_argument("--debug", action="store_true", help="show stack traces on errors")
    args = parser.parse_args()
    configure_logging(args.debug)

    def run() -> None:
        cfg = load_features_config(args.config, args.overrides)
        spark = build_session(app_name="segment-features", master=args.master, settings=cfg.spark)
        run_features(spark, cfg)

    return guarded(run, debug=args.debug)


if __name__ == "__main__":
    sys.exit(main())
