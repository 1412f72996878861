#!/usr/bin/env bash
# Regenerate results/olden2004/: the Olden, Joy & Death (2004) reproduction and its extension.
#   bash experiments/olden2004/run.sh                 # ~20 min on 2 cores
#   N=10 M=5 bash experiments/olden2004/run.sh        # a quick look (fewer replicates)
# N: replicate data sets (seeds) for the methods without retraining (classic and modern);
# M: replicates for the two stepwise methods (14 retrainings each per replicate).
# The MLflow store and model cache live in $STORE (default outputs/olden2004, recreated).
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${N:-50}
M=${M:-25}
STORE=${STORE:-outputs/olden2004}
OUT=${OUT:-$STORE/results}   # the committed results/olden2004/ is replaced only with --write-results
if [ "${1:-}" = "--write-results" ]; then OUT=results/olden2004; elif [ -n "${1:-}" ]; then
  echo "run.sh: unknown argument '$1' (expected --write-results)" >&2; exit 2; fi
VARBENCH=${VARBENCH:-varbench}
PYTHON=${PYTHON:-python}
rm -rf "$STORE"
mkdir -p "$STORE"
URI="sqlite:///$(cd "$STORE" && pwd)/mlflow.db"
COMMON=(tracking.uri="$URI" cache.dir="$STORE/models")
start=$(date +%s)

# 1. the paper's methods that need no retraining (+ the random floor), N replicates
"$VARBENCH" +experiment=olden2004 "seed=range($N)" \
  "methods=[olden,garson,pad,input_perturbation,profile,random]" "${COMMON[@]}" hydra.sweep.dir="$STORE/multirun/classic"
# 2. the extension: the modern suite on the same cells (models from the cache)
"$VARBENCH" +experiment=olden2004_modern "seed=range($N)" "${COMMON[@]}" hydra.sweep.dir="$STORE/multirun/modern"
# 3. the two stepwise methods (retraining), M replicates
"$VARBENCH" +experiment=olden2004 "seed=range($M)" \
  "methods=[stepwise_addition,stepwise_elimination]" "${COMMON[@]}" hydra.sweep.dir="$STORE/multirun/stepwise"
# 4. design sensitivity: the same study with 200 training rows (400 rows in all), no stepwise
BIG=(study=olden2004_n200 dataset.n_samples=400)
"$VARBENCH" +experiment=olden2004 "seed=range($N)" "${BIG[@]}" \
  "methods=[olden,garson,pad,input_perturbation,profile,random]" "${COMMON[@]}" hydra.sweep.dir="$STORE/multirun/n200"
"$VARBENCH" +experiment=olden2004_modern "seed=range($N)" "${BIG[@]}" "${COMMON[@]}" \
  hydra.sweep.dir="$STORE/multirun/n200_modern"

# 5. tables and plots, then the paper's similarity measure
rm -rf "$OUT"
"$VARBENCH" report --study olden2004 --out "$OUT" --uri "$URI" --no-mlflow-log
"$PYTHON" experiments/olden2004/similarity.py "$OUT/runs.csv" --out "$OUT"
"$VARBENCH" report --study olden2004_n200 --out "$OUT/n200" --uri "$URI" --no-mlflow-log --no-plots
"$PYTHON" experiments/olden2004/similarity.py "$OUT/n200/runs.csv" --out "$OUT/n200" --study olden2004_n200 \
  --set n_samples=400
echo "olden2004: done in $(( $(date +%s) - start )) s (N=$N, M=$M)"
