"""spark-submit entry point of the segmentation job (same arguments as `segment run`).

    spark-submit jobs/segment.py --config conf/default.yaml [--set model.k_max=8]
"""

import sys

from segmentation.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]]))
