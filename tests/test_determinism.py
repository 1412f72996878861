"""Reproducibility across processes: the same config and seed give identical importances and
scores for EVERY registered method (each conf/method/*.yaml), and the console exit code reports
method failures. The varbench processes run concurrently, each on its own tracking store."""
import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import CONF_DIR
from varbench.tracking import fetch_cells, fetch_table

TESTS = Path(__file__).resolve().parent
REGISTRY = sorted(p.stem for p in Path(CONF_DIR, "method").glob("*.yaml"))

# One tiny cell: 5 features (two interacting pairs, so interaction methods have a truth too), a
# small network, 3 epochs (retraining methods refit it d times).
CELL = ["dataset=interaction", "seed=0", "dataset.n_samples=200", "dataset.n_features=5",
        "model.hidden=[16]", "trainer.epochs=3", "trainer.patience=0", "trainer.progress_every=0",
        "cache.dir=null", "threads=1", "model_truth.enabled=false",
        "hydra.sweep.subdir=job"]  # the default subdir lists every override: too long a name here
# Method settings shrunk to test size, wherever a method has the setting (new methods included).
SMALL = {"n_rows": 20, "n_repeats": 2, "n_samples": 64, "n_permutations": 16, "n_coalitions": 64,
         "background_size": 8, "steps": 8}
BOOKKEEPING = {"run_id", "parent_run_id", "start_time", "sweep"}


def compared(column: str) -> bool:
    """Wall-clock times (seconds, extra_retrain_seconds, ...) are the only results allowed to differ."""
    return column not in BOOKKEEPING and not column.endswith("seconds")


def small_method_overrides() -> list[str]:
    out = [f"methods=[{','.join(REGISTRY)}]"]
    for name in REGISTRY:
        node = yaml.safe_load(Path(CONF_DIR, "method", f"{name}.yaml").read_text()) or {}
        for key, small in SMALL.items():
            if key in node and (node[key] is None or node[key] > small):
                out.append(f"methods.{name}.{key}={small}")
    return out


def _start(args, cwd):
    env = {**os.environ, "PYTHONPATH": str(TESTS), "TF_CPP_MIN_LOG_LEVEL": "3"}
    exe = Path(sys.executable).with_name("varbench")
    return subprocess.Popen([str(exe), *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two varbench processes started at once on the same cell: every registered method plus a
    method that always fails. {name: (returncode, output, tracking uri)}."""
    jobs = {}
    for name in ("first", "second"):
        cwd = tmp_path_factory.mktemp(name)
        uri = f"sqlite:///{cwd}/mlflow.db"
        jobs[name] = (_start([*CELL, *small_method_overrides(), "+methods.boom._target_=user_methods.boom",
                              f"tracking.uri={uri}"], cwd), uri)
    done = {}
    for name, (proc, uri) in jobs.items():
        out, err = proc.communicate(timeout=600)
        done[name] = (proc.returncode, out + err, uri)
    return done


def test_every_method_has_a_suite_wrapper():
    """`methods=[a,b]` needs conf/methods/<name>.yaml for each registered method."""
    missing = [m for m in REGISTRY if not Path(CONF_DIR, "methods", f"{m}.yaml").exists()]
    assert not missing


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def _both_tracks(uri):
    """Main-track, interaction-track and selection-track runs of a store, one row per method."""
    runs = pd.concat([fetch_table(uri, "varbench"), fetch_table(uri, "varbench", kind="interaction"),
                      fetch_table(uri, "varbench", kind="selection")])
    return runs.set_index("method").drop(index="boom").sort_index()


def test_two_processes_give_identical_importances_and_scores(runs):
    a = _both_tracks(runs["first"][2])
    b = _both_tracks(runs["second"][2])
    assert list(a.index) == REGISTRY and list(b.index) == REGISTRY  # every registered method ran
    assert set(a.columns) == set(b.columns)
    columns = sorted(c for c in a.columns if compared(c))
    assert {"importance", "spearman", "n_model_evals"} <= set(columns)
    differ = {(m, c): (a.loc[m, c], b.loc[m, c]) for m in REGISTRY for c in columns
              if not _same(a.loc[m, c], b.loc[m, c])}
    assert not differ
    ok = a.index[(a["status"] == "ok") & (a["track"] == "main")]
    assert len(ok) > 0
    for m in ok:  # the importance vectors themselves, as logged, character for character
        assert a.loc[m, "importance"].startswith("[") and a.loc[m, "importance"] == b.loc[m, "importance"], m
    ca = fetch_cells(runs["first"][2], "varbench").iloc[0]
    cb = fetch_cells(runs["second"][2], "varbench").iloc[0]
    for col in ("r2", "train_loss", "epochs", "truth", "cell_hash"):
        if col in ca:
            assert _same(ca[col], cb[col]), col


def test_every_registered_method_runs_through_the_harness(runs):
    """Both tracks: an interaction method that fails is caught as well as an importance method."""
    table = _both_tracks(runs["first"][2])
    from varbench.registry import registry

    interactions = {n for n, i in registry().items() if i.meta.returns == "interactions"}
    assert interactions and set(table.loc[table["track"] == "interactions"].index) == interactions
    failed = table.loc[table["status"] != "ok", "error"].to_dict()
    assert not failed


def test_cli_exits_1_and_says_so_when_a_method_failed(runs):
    for code, text, uri in runs.values():
        assert code == 1, text[-4000:]
        assert "method boom failed: RuntimeError: this method always fails" in text
        runs_table = fetch_table(uri, "varbench").set_index("method")
        n_failed = int((runs_table["status"] != "ok").sum())
        assert runs_table.loc["boom", "status"] == "failed"
        assert f"{n_failed} method run(s) FAILED" in text  # the summary says so
