"""Trained-model cache: one model per hash of (dataset, model, trainer, seed) configs, so a
new method never retrains. Models are stored as .keras files and loaded in Keras safe mode."""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

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
    folder = Path(spec.cache_dir)
    path, meta_path = folder / f"{spec.model_hash}.keras", folder / f"{spec.model_hash}.json"
    if path.exists() and meta_path.exists():
        try:
            import keras

            net = keras.models.load_model(path, safe_mode=True, compile=False)
            meta = json.loads(meta_path.read_text())
            model = TrainedModel(keras=net, task=data.task, output=spec.trainer.output,
                                 quality=meta["quality"], train_seconds=meta["train_seconds"],
                                 refit=refitter(spec.build, data.task, spec.seed, spec.trainer))
            return model, True
        except Exception as exc:  # noqa: BLE001 - a corrupt cache entry is retrained, not fatal
            log.warning("model cache entry %s unreadable (%s); retraining", path, exc)
    model = fit()
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{spec.model_hash}.{os.getpid()}.keras"
    model.keras.save(tmp)
    os.replace(tmp, path)  # atomic: concurrent workers never see a half-written file
    meta_path.write_text(json.dumps({"quality": model.quality, "train_seconds": model.train_seconds}))
    return model, False
