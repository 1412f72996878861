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


CACHE_TYPE = "varbench.trained_model"
CACHE_VERSION = 1


def read_meta(path: Path) -> dict[str, Any]:
    """A cache entry's metadata, validated: our type and version, `quality` a mapping of names
    to numbers, `train_seconds` a number. Raises ValueError naming what is off (-> retrain)."""
    meta = json.loads(path.read_text())
    if not isinstance(meta, dict):
        raise ValueError(f"metadata is {type(meta).__name__}, expected an object")
    if meta.get("type") != CACHE_TYPE or meta.get("version") != CACHE_VERSION:
        raise ValueError(f"type/version {meta.get('type')!r}/{meta.get('version')!r}, "
                         f"expected {CACHE_TYPE!r}/{CACHE_VERSION}")
    quality, seconds = meta.get("quality"), meta.get("train_seconds")
    number = (int, float)
    if not isinstance(quality, dict) or not all(isinstance(k, str) and isinstance(v, number)
                                                and not isinstance(v, bool) for k, v in quality.items()):
        raise ValueError(f"quality={quality!r}, expected a mapping of names to numbers")
    if not isinstance(seconds, number) or isinstance(seconds, bool):
        raise ValueError(f"train_seconds={seconds!r}, expected a number")
    return meta


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

            import varbench.models.layers  # noqa: F401 - registers varbench's custom layers for safe mode

            meta = read_meta(meta_path)
            net = keras.models.load_model(path, safe_mode=True, compile=False)
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
    """Whether the cache holds this cell's model with valid metadata (always False without a
    cache folder)."""
    if not spec.cache_dir or not all(p.exists() for p in _paths(spec)):
        return False
    try:
        read_meta(_paths(spec)[1])
    except (ValueError, OSError):
        return False
    return True


def store(spec: Any, model: TrainedModel, **meta: Any) -> None:
    """Write a trained model under its cell's model hash (atomically: concurrent workers never
    see a half-written file); `meta` adds facts to its .json (e.g. the stack it was trained in)."""
    path, meta_path = _paths(spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{spec.model_hash}.{os.getpid()}.keras"
    model.keras.save(tmp)
    os.replace(tmp, path)
    tmp_meta = path.parent / f".{spec.model_hash}.{os.getpid()}.json"
    tmp_meta.write_text(json.dumps({**meta, "type": CACHE_TYPE, "version": CACHE_VERSION,
                                      "quality": model.quality, "train_seconds": model.train_seconds}))
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
