#!/usr/bin/env bash
# Regenerates results/seed_question/ in one command (from any directory): experiments/seed_question/run.sh
# (the sweep, `varbench report`, then analyse.py; see experiments/run_study.sh).
exec "$(dirname "$0")/../run_study.sh" seed_question mixed_scales/mlp/0 analyse.py "$@"
