#!/usr/bin/env bash
# Regenerates results/correlation/ in one command (from any directory): experiments/correlation/run.sh
# (the sweep, `varbench report`, then plot_vs_correlation.py; see experiments/run_study.sh).
exec "$(dirname "$0")/../run_study.sh" correlation decoys_noisy_r99/mlp/0 plot_vs_correlation.py "$@"
