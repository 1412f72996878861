"""The cell's model: loaded from the model cache or trained (`varbench.models.cache`), its quality
judged against the cell's threshold and logged on the cell run. A training fault fails this cell
only."""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from varbench.config import CellSpec
from varbench.harness.quality import is_low, quality_of
from varbench.models.cache import load_or_train
from varbench.models.trainer import DivergedError

log = logging.getLogger(__name__)


@dataclass
class CellModel:
    """The cell's trained model and what the cell run records about it."""

    model: Any
    cached: bool  # loaded from the model cache, not trained here
    quality: dict[str, float]  # the model-quality metrics (`quality.QUALITY_KEYS`)
    low: bool  # below the cell's quality threshold

    @property
    def status(self) -> str:
        """The cell's status tag: "low_quality" or "ok"."""
        return "low_quality" if self.low else "ok"


def train_cell_model(spec: CellSpec, tracker: Any, parent: str, label: str) -> CellModel | None:
    """Load or train the cell's model (`label` names the cell in the log) and log its quality on
    the cell run `parent`; None when training failed (divergence or any fault: logged on the cell
    run, which is closed FAILED)."""
    data = spec.dataset
    log.info("cell %s: %d features, %d train rows; training", label, data.n_features, data.X_train.shape[0])
    try:
        model, cached = load_or_train(spec)
        model = dataclasses.replace(model, output=spec.output)  # what is explained: not part of the model hash
    except Exception as exc:  # noqa: BLE001 - divergence or any training fault fails this cell only
        msg = str(exc) if isinstance(exc, DivergedError) else f"training failed: {type(exc).__name__}: {exc}"
        tracker.log(parent, tags={"status": "failed", "error": msg[:4000]})
        tracker.end_run(parent, "FAILED")
        log.error("cell failed: %s", msg)
        return None
    quality = quality_of(model.quality)
    fitted = CellModel(model, cached, quality, is_low(quality, spec.quality_threshold))
    output_sd = float(np.std(model.predict_all(data.X_test)))  # the scale of what the methods explain
    tracker.log(parent, metrics={**quality, "train_seconds": model.train_seconds, "output_sd": output_sd,
                                 "epochs": model.quality.get("epochs", float("nan"))},
                tags={"status": fitted.status, "model_cached": str(cached)})
    log.info("model quality %s (%s, %.1fs)%s", {k: round(v, 4) for k, v in quality.items()},
             "cached" if cached else "trained", model.train_seconds,
             "  [below quality threshold]" if fitted.low else "")
    return fitted
