"""spark-submit entry point of scoring (same arguments as `segment score`): new
customers -> segments of a finished run.

    spark-submit jobs/score.py --model runs/demo --input data/new --output runs/demo-scored
"""

import sys

from segmentation.cli import main

if __name__ == "__main__":
    sys.exit(main(["score", *sys.argv[1:]]))
