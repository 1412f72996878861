"""The cell runner's public names, under the path they have always had.

The work is done in `varbench.harness`, one module per job:

- `harness.cell`: `run_cell`, `CellResult` (one cell end to end);
- `harness.resume`: `Previous`, `previous`, `heal` (what the store holds; repair under the claim);
- `harness.training`: the cell's model, loaded or trained, and its quality;
- `harness.quality`: the quality-threshold rule;
- `harness.model_truth`: `MODEL_TRUTHS`, `model_truth_skipped`, `cached_model_truth` (the trained
  model's own truth);
- `harness.method_run`: `run_method`, `method_rng` (one method run, fault-isolated and timed);
- `harness.result_kinds`: `RUN_KINDS` and the table of result kinds (importance, interactions,
  selection: recognised, scored, stored).

Also here under their old paths: `score_importance_result` (`varbench.scoring`) and
`variable_level` (`varbench.methods.variables`).

Examples
--------
>>> from varbench.runner import run_cell, method_rng
>>> from varbench.harness.cell import run_cell as same
>>> run_cell is same
True
"""
from __future__ import annotations

from varbench.harness.cell import CellResult, run_cell
from varbench.harness.method_run import method_rng, run_method
from varbench.harness.model_truth import MODEL_TRUTHS, cached_model_truth, model_truth_skipped
from varbench.harness.result_kinds import RUN_KINDS
from varbench.harness.resume import Previous, heal, previous
from varbench.methods.variables import variable_level
from varbench.scoring import score_importance_result

__all__ = ["CellResult", "MODEL_TRUTHS", "Previous", "RUN_KINDS", "cached_model_truth", "heal", "method_rng",
           "model_truth_skipped", "previous", "run_cell", "run_method", "score_importance_result", "variable_level"]
