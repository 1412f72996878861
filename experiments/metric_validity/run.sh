#!/usr/bin/env bash
# Regenerates results/metric_validity/ in one command (from any directory):
#   experiments/metric_validity/run.sh [--write-results]
# (the sweep of conf/experiment/metric_validity.yaml, `varbench report`, then analyse.py; see
# experiments/run_study.sh). Without --write-results the outputs go to outputs/studies/.
exec "$(dirname "$0")/../run_study.sh" metric_validity decoys_r90/mlp/0 analyse.py "$@"
