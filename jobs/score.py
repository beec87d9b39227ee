"""spark-submit entry point of scoring: new customers -> segments of a finished run's model.

    spark-submit jobs/score.py --model runs/demo --input data/new --output runs/demo-scored
"""

from __future__ import annotations

import argparse
import sys

from segmentation.cli import add_score_arguments, configure_logging, guarded
from segmentation.score import score_customers
from segmentation.session import build_session


def main() -> int:
    parser = argparse.ArgumentParser(description="Assign segments with a saved run's model.")
    add_score_arguments(parser)
    parser.add_argument("--debug", action="store_true", help="show stack traces on errors")
    args = parser.parse_args()
    configure_logging(args.debug)

    def run() -> None:
        spark = build_session(app_name="segment-score", master=args.master)
        score_customers(spark, model_run=args.model, input_path=args.input,
                        output_path=args.output, mode=args.mode)

    return guarded(run, debug=args.debug)


if __name__ == "__main__":
    sys.exit(main())
