"""The console entry point, as a user runs it: a user's own method and dataset from their own
config dir and module, with no change to varbench."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

USER_MODULE = '''
import numpy as np
from varbench import Dataset, GroundTruth


def true_importance(model, data, rng):
    """A user's method that happens to know the truth."""
    return data.truth.importance


def my_dataset(n_samples=400, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, 5))
    y = 3 * X[:, 0] - 2 * X[:, 3] + 0.05 * rng.normal(size=n_samples)
    truth = GroundTruth(importance=[3, 0, 0, 2, 0], relevant=[1, 0, 0, 1, 0], definition="|w|")
    k = n_samples // 4
    return Dataset(X[k:], y[k:], X[:k], y[:k], task="regression", truth=truth)
'''


def _run(args, cwd, env_extra=None):
    env = {**os.environ, "PYTHONPATH": str(cwd), **(env_extra or {})}
    exe = Path(sys.executable).with_name("varbench")
    return subprocess.run([str(exe), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_user_method_and_dataset_from_own_config_dir(tmp_path):
    (tmp_path / "my_methods.py").write_text(textwrap.dedent(USER_MODULE))
    conf = tmp_path / "conf"
    (conf / "methods").mkdir(parents=True)
    (conf / "dataset").mkdir()
    (conf / "methods" / "truth.yaml").write_text("truth:\n  _target_: my_methods.true_importance\n")
    (conf / "dataset" / "mine.yaml").write_text("_target_: my_methods.my_dataset\nn_samples: 400\n")
    out = _run(["--config-dir", str(conf), "dataset=mine,linear", "seed=0,1", "methods=[truth,random]",
                "dataset.n_samples=400", "trainer.epochs=5", "trainer.progress_every=0", "cache.dir=null"],
               tmp_path)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "ranked by mean Spearman" in out.stdout and "truth" in out.stdout
    assert "cell 4 of 4 in this sweep" in out.stdout  # sweep progress
    assert (tmp_path / "mlflow.db").exists()
    report = _run(["report", "--out", "rep"], tmp_path)
    assert report.returncode == 0, report.stderr[-3000:]
    runs = pd.read_csv(tmp_path / "rep" / "runs.csv")
    assert set(runs["dataset"]) == {"mine", "linear"} and len(runs) == 8
    truth = runs[runs.method == "truth"]
    assert np.allclose(truth["spearman"], 1.0) and np.allclose(truth["topk_recall"], 1.0)


def test_bad_override_fails_fast_with_clear_message(tmp_path):
    out = _run(["dataset=linear", "seed=0", "dataset.n_relevant=50"], tmp_path)
    assert out.returncode != 0
    assert "dataset.n_relevant=50 is invalid" in out.stdout + out.stderr
    assert not list(tmp_path.glob("outputs/**/*.keras"))
    unknown = _run(["dataset=nope"], tmp_path)
    assert unknown.returncode == 2 and "available options in 'dataset': additive," in unknown.stderr
    assert len(unknown.stderr.strip().splitlines()) == 1 and not (tmp_path / "mlflow.db").exists()
