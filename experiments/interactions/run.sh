#!/usr/bin/env bash
# Regenerates results/interactions/ in one command (from any directory): experiments/interactions/run.sh
# (the sweep `varbench +experiment=interactions`, `varbench report`, then tables.py; see experiments/run_study.sh).
exec "$(dirname "$0")/../run_study.sh" interactions tsang_f5/mlp/0 tables.py "$@"
