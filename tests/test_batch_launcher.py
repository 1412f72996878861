"""The varbench launcher (varbench.batch, the default of a multirun) against Hydra's basic launcher:
the same sweep gives the same method results and the same store; a failing cell does not stop
the others; a rerun resumes. The sweeps run in this process (`varbench` as its console script runs)."""
import os

import numpy as np
import pandas as pd
import pytest

from test_sweep_checks import run_cli
from varbench.tracking import fetch_cells, fetch_table

SMALL = ["-m", "dataset=linear,friedman1", "methods=[random,probing,permutation]", "dataset.n_samples=200",
         "trainer.epochs=3", "trainer.patience=0", "trainer.progress_every=0", "cache.dir=null",
         "model_truth.enabled=false", "methods.permutation.n_repeats=2"]
# what differs between two runs of the same sweep: ids, times, the sweep folder
VOLATILE = {"run_id", "parent_run_id", "start_time", "sweep"}


@pytest.fixture(autouse=True)
def _sweep_env(monkeypatch):
    """The sweep callback exports its cell count and parent pid; keep them out of other tests."""
    for key in ("VARBENCH_SWEEP_TOTAL", "VARBENCH_SWEEP_PARENT", "HYDRA_FULL_ERROR", "VARBENCH_FULL_ERROR",
                "VARBENCH_DEBUG"):
        monkeypatch.delenv(key, raising=False)
    yield
    for key in ("VARBENCH_SWEEP_TOTAL", "VARBENCH_SWEEP_PARENT"):
        os.environ.pop(key, None)


def _sweep(path, *extra):
    path.mkdir(exist_ok=True)  # an absolute store path: in one process a relative URI names the first store
    return run_cli([*SMALL, f"tracking.uri=sqlite:///{path}/mlflow.db", *extra], path)


def _stable(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    keep = [c for c in df.columns if c not in VOLATILE and "seconds" not in c]
    return df[keep].sort_values(keys).reset_index(drop=True)


@pytest.mark.slow  # the same sweep through two launchers (CI's slow step runs it)
def test_same_results_and_store_as_the_basic_launcher(tmp_path):
    code_b, out_b, err_b = _sweep(tmp_path / "basic", "seed=0,1", "hydra/launcher=basic")
    code_v, out_v, err_v = _sweep(tmp_path / "varbench", "seed=0,1")
    assert code_b == 0 and code_v == 0, (out_b[-2000:], err_b[-2000:], out_v[-2000:], err_v[-2000:])
    uri = {k: f"sqlite:///{tmp_path / k}/mlflow.db" for k in ("basic", "varbench")}
    runs = {k: _stable(fetch_table(u, "varbench"), ["dataset", "seed", "method"]) for k, u in uri.items()}
    assert len(runs["basic"]) == 2 * 2 * 3 and (runs["basic"]["status"] == "ok").all()
    numeric = [c for c in runs["basic"] if pd.api.types.is_float_dtype(runs["basic"][c])]
    assert {"spearman", "topk_recall", "quality_r2"} <= set(numeric)
    # every metric of every method run equal (NaN where NaN), every tag and status equal
    np.testing.assert_array_equal(runs["varbench"][numeric].to_numpy(), runs["basic"][numeric].to_numpy())
    pd.testing.assert_frame_equal(runs["varbench"], runs["basic"])
    cells = {k: _stable(fetch_cells(u, "varbench"), ["dataset", "seed"]) for k, u in uri.items()}
    pd.testing.assert_frame_equal(cells["varbench"], cells["basic"])
    # per cell, only the line that reruns it; no .hydra folder per job
    (folder,) = (tmp_path / "varbench" / "outputs" / "multirun").iterdir()
    lines = (folder / "jobs.txt").read_text().splitlines()
    assert len(lines) == 4 and lines[0].startswith("#0 dataset=linear seed=0 ")
    assert not list(folder.rglob(".hydra")) and len(list((tmp_path / "basic").rglob(".hydra"))) == 4
    assert "each composed once (4 reused" in out_v  # the sweep check's configs, not composed again


def test_failing_cell_does_not_stop_the_others_and_rerun_resumes(tmp_path):
    # the first cell diverges (lr=1e30), the second still runs; the exit code says 1
    args = ["dataset=linear", "seed=0", "trainer.lr=1e30,0.003"]
    code, out, err = _sweep(tmp_path, *args)
    assert code == 1 and "Traceback" not in out + err, (out[-3000:], err[-3000:])
    cells = fetch_cells(f"sqlite:///{tmp_path}/mlflow.db", "varbench").sort_values("start_time")
    assert len(cells) == 2 and list(cells["status"] == "failed") == [True, False]
    assert (fetch_table(f"sqlite:///{tmp_path}/mlflow.db", "varbench")["status"] == "ok").sum() == 3
    code, out, err = _sweep(tmp_path, *args)  # the rerun skips the good cell, retries the failed one
    assert code == 1 and out.count("skipping (resume)") == 1, out[-3000:]
    assert len(fetch_cells(f"sqlite:///{tmp_path}/mlflow.db", "varbench")) == 2  # the failed cell rerun in place


def test_keras_reset_only_when_the_model_config_changes():
    from omegaconf import OmegaConf

    from varbench.batch import KerasReset
    from varbench.schema import ConfigError

    mlp, wide = OmegaConf.create({"model": {"hidden": [64, 64]}}), OmegaConf.create({"model": {"hidden": [256]}})
    cells = [mlp, mlp, wide, wide, mlp]
    auto, always, never = KerasReset("auto"), KerasReset("always"), KerasReset("never")
    assert [auto.before(c) for c in cells] == [False, False, True, False, True] and auto.count == 2
    assert all(always.before(c) for c in cells) and not any(never.before(c) for c in cells)
    with pytest.raises(ConfigError, match="keras_reset='sometimes' is invalid"):
        KerasReset("sometimes")
