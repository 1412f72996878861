#!/usr/bin/env bash
# Shared driver of the studies' run.sh: experiments/run_study.sh STUDY CELL ANALYSIS_SCRIPT [--write-results]
# 1. the sweep (conf/experiment/STUDY.yaml) into a study-local MLflow store and model cache under
#    outputs/ (not committed); re-running resumes: finished (cell, method) pairs are skipped;
# 2. `varbench report` -> OUT (tables, statistics, generic plots; importance bars for CELL);
# 3. experiments/STUDY/ANALYSIS_SCRIPT -> the study's own tables and plots in OUT;
# 4. OUT/wall_time.txt.
# OUT is outputs/studies/STUDY/results; the committed results/STUDY/ is replaced only with
# --write-results (the committed reference outputs are never overwritten by accident).
# Environment: VARBENCH_STORE (default outputs/studies/STUDY), VARBENCH_JOBS (default 2),
# VARBENCH (default varbench), PYTHON (default python), VARBENCH_REPORT_STUDY (the report's --study,
# default STUDY; empty: every run of the study-local store, for a study whose conditions are tags).
set -euo pipefail
cd "$(dirname "$0")/.."
STUDY=$1
CELL=$2
ANALYSIS=$3
WRITE=${4:-}
STORE=${VARBENCH_STORE:-outputs/studies/$STUDY}
JOBS=${VARBENCH_JOBS:-2}
VARBENCH=${VARBENCH:-varbench}
PYTHON=${PYTHON:-python}
REPORT_STUDY=${VARBENCH_REPORT_STUDY-$STUDY}
OUT=$STORE/results
if [ "$WRITE" = "--write-results" ]; then OUT=results/$STUDY; elif [ -n "$WRITE" ]; then
  echo "run_study.sh: unknown argument '$WRITE' (expected --write-results)" >&2; exit 2; fi
URI=sqlite:///$STORE/mlflow.db
fresh=yes; [ -e "$STORE/mlflow.db" ] && fresh="no (resumed an existing store)"
mkdir -p "$STORE" "$OUT"

t0=$(date +%s)
status=0
"$VARBENCH" +experiment=$STUDY hydra/launcher=joblib hydra.launcher.n_jobs="$JOBS" \
  tracking.uri="$URI" cache.dir="$STORE/models" hydra.sweep.dir="$STORE/sweep" 'hydra.sweep.subdir=${hydra.job.num}' \
  || status=$?
t1=$(date +%s)
[ "$status" -eq 0 ] || echo "run.sh: the sweep exited with $status (failed method runs are listed in $OUT/failed.csv)" >&2

rm -rf "$OUT" && mkdir -p "$OUT"   # no stale tables or plots from an earlier run
# importance bars for one telling cell only (the report would draw one per dataset x model)
"$VARBENCH" report ${REPORT_STUDY:+--study "$REPORT_STUDY"} --out "$OUT" --uri "$URI" --no-mlflow-log --cell "$CELL"
VARBENCH_TRACKING_URI="$URI" "$PYTHON" "experiments/$STUDY/$ANALYSIS" --runs "$OUT/runs.csv" --out "$OUT"
t2=$(date +%s)

cat > "$OUT/wall_time.txt" <<TXT
study: $STUDY
date: $(date -u +%Y-%m-%dT%H:%M:%SZ)
machine: $(nproc) cores, load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)
parallel workers (hydra joblib n_jobs): $JOBS
fresh store: $fresh
sweep seconds: $((t1 - t0))
report + analysis seconds: $((t2 - t1))
total seconds: $((t2 - t0))
TXT
cat "$OUT/wall_time.txt"
exit "$status"
