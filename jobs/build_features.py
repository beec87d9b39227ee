"""spark-submit entry point of the features job (same arguments as `segment features`):
transactions -> one row per customer.

    spark-submit jobs/build_features.py --config conf/features-demo.yaml [--set k=v]
"""

import sys

from segmentation.cli import main

if __name__ == "__main__":
    sys.exit(main(["features", *sys.argv[1:]]))
