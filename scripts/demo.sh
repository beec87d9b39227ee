#!/usr/bin/env bash
# Fresh machine to a segmented demo: set up, generate 1,000,000 customers, segment them, report.
#   scripts/demo.sh [CUSTOMERS [SEGMENT RUN OPTIONS...]]   (default 1000000 customers)
#   e.g. scripts/demo.sh 200000 --mlflow-uri http://127.0.0.1:5000   (log the run to MLflow)
set -euo pipefail
cd "$(dirname "$0")/.."
customers="${1:-1000000}"
shift || true
case " $* " in
  *" --mlflow-uri"*) scripts/setup.sh mlflow ;;
  *) scripts/setup.sh ;;
esac
data="data/demo/customers"
if [ ! -f "$data/.customers-$customers" ]; then
  .venv/bin/segment generate --customers "$customers" --output "$data" --seed 7 --overwrite
  touch "$data/.customers-$customers"
fi
.venv/bin/segment run --config conf/default.yaml --report "$@"
cat <<TXT

Outputs of the run:   $(pwd)/runs/demo
  labels/             one row per customer: customer_id, segment, distance
  segments.csv        size, share and a description of each segment
  profiles.csv        per-segment statistics of every feature, in original units
  metrics.csv         WCSS, silhouette, Davies-Bouldin, Calinski-Harabasz, Dunn, stability for every k
  model/              the fitted Spark PipelineModel (score new customers with 'segment score')
Report:               $(pwd)/runs/demo/report/index.html
TXT
