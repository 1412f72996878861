"""The "On your own Keras model" examples (a model with two inputs and an Embedding, a
FeatureSpace model, a scikeras classifier, a plot saved from a script), run exactly as
docs/own-model.md prints them, from an empty directory: EXAMPLES are read from that page."""
import os
import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[1] / "docs" / "own-model.md"
SECTION = PAGE.read_text().split("## Several inputs, embeddings, FeatureSpace, scikeras", 1)[1].split("\n## ", 1)[0]
EXAMPLES = re.findall(r"```python\n(.*?)```", SECTION, flags=re.S)


@pytest.mark.parametrize("block", range(len(EXAMPLES)))
def test_own_model_examples_run_as_printed(block, tmp_path, monkeypatch):
    import keras
    import matplotlib

    matplotlib.use("Agg")
    keras.utils.set_random_seed(0)
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    exec(compile(EXAMPLES[block], f"example_{block}", "exec"), ns)  # noqa: S102 - the docs' own code
    if block == 0:
        assert list(ns["r"].index) == ["num[0]", "num[1]", "num[2]", "cat"]
        assert set(ns["r"]["importance"].nlargest(2).index) == {"num[0]", "cat"}
        assert os.path.getsize(tmp_path / "importance.png") > 1000
    else:
        assert set(ns["r_fs"].index) == {"u", "s"} and ns["r_fs"]["importance"].min() > 0.3
        assert ns["r_clf"]["importance"].idxmax() == "x1"
