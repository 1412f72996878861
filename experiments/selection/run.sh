#!/usr/bin/env bash
# The selection study (issue 15): which importance test controls false discoveries on a neural
# network, and at what power? Sweep, report and tables into results/selection/ (see README.md).
exec "$(dirname "$0")/../run_study.sh" selection sel_decoys/mlp/0 analyse.py
