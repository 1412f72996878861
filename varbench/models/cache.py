"""Trained-model cache: one model per hash of (dataset, model, trainer, seed) configs, so a
new method never retrains. Models are stored as .keras files and loaded in Keras safe mode."""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

from varbench.models.trained import TrainedModel
from varbench.models.trainer import refitter, train

log = logging.getLogger(__name__)


def load_or_train(spec: Any) -> tuple[TrainedModel, bool]:
    """Return (model, True) from the cache if present, else train, store and return (model, False)."""
    data = spec.dataset

    def fit() -> TrainedModel:
        return train(spec.build, data.X_train, data.y_train, data.task, spec.seed, spec.trainer,
                     data.X_test, data.y_test)

    if not spec.cache_dir:
        return fit(), False
    path, meta_path = _paths(spec)
    if path.exists() and meta_path.exists():
        try:
            import keras

            net = keras.models.load_model(path, safe_mode=True, compile=False)
            meta = json.loads(meta_path.read_text())
            model = TrainedModel(keras=net, task=data.task,
                                 quality=meta["quality"], train_seconds=meta["train_seconds"],
                                 refit=refitter(spec.build, data.task, spec.seed, spec.trainer))
            return model, True
        except Exception as exc:  # noqa: BLE001 - a corrupt cache entry is retrained, not fatal
            log.warning("model cache entry %s unreadable (%s); retraining", path, exc)
    model = fit()
    store(spec, model)
    return model, False


def _paths(spec: Any) -> tuple[Path, Path]:
    folder = Path(spec.cache_dir)
    return folder / f"{spec.model_hash}.keras", folder / f"{spec.model_hash}.json"


def is_cached(spec: Any) -> bool:
    """Whether the cache holds this cell's model (always False without a cache folder)."""
    return bool(spec.cache_dir) and all(p.exists() for p in _paths(spec))


def store(spec: Any, model: TrainedModel, **meta: Any) -> None:
    """Write a trained model under its cell's model hash (atomically: concurrent workers never
    see a half-written file); `meta` adds facts to its .json (e.g. the stack it was trained in)."""
    path, meta_path = _paths(spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{spec.model_hash}.{os.getpid()}.keras"
    model.keras.save(tmp)
    os.replace(tmp, path)
    tmp_meta = path.parent / f".{spec.model_hash}.{os.getpid()}.json"
    tmp_meta.write_text(json.dumps({"quality": model.quality, "train_seconds": model.train_seconds, **meta}))
    os.replace(tmp_meta, meta_path)


def cached_arrays(spec: Any, key: str, compute: Callable[[], dict[str, np.ndarray]]
                  ) -> tuple[dict[str, np.ndarray], bool]:
    """Arrays derived deterministically from a cached model (e.g. its own truth), stored beside
    it as `<model_hash>.<key>.npz`: (arrays, True) from the cache, else computed and stored."""
    if not spec.cache_dir:
        return compute(), False
    path = Path(spec.cache_dir) / f"{spec.model_hash}.{key}.npz"
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}, True
        except Exception as exc:  # noqa: BLE001 - a corrupt entry is recomputed
            log.warning("cache entry %s unreadable (%s); recomputing", path, exc)
    out = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.npz")
    np.savez(tmp, **out)
    os.replace(tmp, path)
    return out, False
