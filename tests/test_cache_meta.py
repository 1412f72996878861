"""A damaged or foreign model-cache entry means retrain, never a crashed cell."""
import json

import pytest

from varbench.models.cache import CACHE_TYPE, CACHE_VERSION, read_meta

GOOD = {"type": CACHE_TYPE, "version": CACHE_VERSION, "quality": {"r2": 0.9, "epochs": 3}, "train_seconds": 1.5}


def test_good_metadata_reads(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps(GOOD))
    assert read_meta(path) == GOOD


@pytest.mark.parametrize("change, message", [
    ({"type": "something.else"}, "type/version"),
    ({"version": CACHE_VERSION + 1}, "type/version"),
    ({"version": None}, "type/version"),
    ({"quality": "high"}, "quality='high'"),
    ({"quality": {"r2": "0.9"}}, "quality="),
    ({"quality": {"r2": True}}, "quality="),
    ({"train_seconds": "1.5"}, "train_seconds='1.5'"),
    ({"train_seconds": None}, "train_seconds=None"),
])
def test_damaged_metadata_is_refused(tmp_path, change, message):
    path = tmp_path / "m.json"
    path.write_text(json.dumps({**GOOD, **change}))
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        read_meta(path)


@pytest.mark.parametrize("text", ["[1, 2]", "{not json", ""])
def test_unreadable_metadata_is_refused(tmp_path, text):
    path = tmp_path / "m.json"
    path.write_text(text)
    with pytest.raises(ValueError):
        read_meta(path)


def test_cell_with_damaged_cache_entry_retrains(compose_cfg, tmp_path):
    from varbench.runner import run_cell
    from varbench.tracking import fetch_cells

    cache = tmp_path / "cache"
    cfg = compose_cfg(["dataset=linear", "methods=[random]", f"cache.dir={cache}", "resume=false",
                       "model_truth.enabled=false"])
    assert run_cell(cfg).status == "ok"
    (meta,) = cache.glob("*.json")
    assert read_meta(meta)["type"] == CACHE_TYPE  # what a good entry holds
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "quality": {"r2": "0.93"}}))  # wrong type
    assert run_cell(cfg).status == "ok"
    assert list(fetch_cells(cfg.tracking.uri, "varbench").sort_values("start_time")["model_cached"]) == ["False", "False"]
    assert read_meta(meta)["quality"]["r2"] != "0.93"  # rewritten by the retraining
    assert run_cell(cfg).status == "ok"
    assert sorted(fetch_cells(cfg.tracking.uri, "varbench")["model_cached"]) == ["False", "False", "True"]
