"""The cell harness: one module per job of running a (dataset, model, seed) cell.

- `cell`: `run_cell`, the cell end to end (claim, train or load, log the cell run, run each
  method, log each method run);
- `resume`: what the store already holds for a cell (`Previous`, `previous`) and the repair done
  under the cell's claim (`heal`);
- `training`: the cell's model, loaded from the model cache or trained, and its quality logged;
- `quality`: the quality-threshold rule (the headline number, low or not);
- `model_truth`: the trained model's own truth, computed or read from the cache, and logged;
- `method_run`: one method run with fault isolation, timing and model-evaluation counts
  (`run_method`, `method_rng`);
- `result_kinds`: the table of result kinds (importance, interactions, selection): how each is
  recognised, scored (by `varbench.scoring`'s one scorer per result kind) and stored.

`varbench.runner` re-exports the public names under their old paths.
"""
