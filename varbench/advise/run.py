"""Run `advise` cells through the ordinary runner (MLflow, model cache, resume), with progress."""
from __future__ import annotations

import logging
import time
from typing import Any, Callable

from varbench.advise.plan import Cell
from varbench.config import resolve_cell
from varbench.harness.cell import run_cell
from varbench.paths import conf_dir

log = logging.getLogger("varbench.advise")


def compose(overrides: tuple[str, ...] | list[str]) -> Any:
    """The primary config with these overrides (Hydra's compose API; no Hydra run directory)."""
    # lazy: Hydra is loaded only when a config is composed
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=str(conf_dir())):
        return hydra_compose(config_name="config", overrides=list(overrides))


def validate(cells: list[Cell], common: list[str]) -> dict[Cell, Any]:
    """Compose and validate every cell before anything trains or is logged (raises ConfigError)."""
    specs = {}
    for cell in cells:
        cfg = compose([*common, *cell.overrides])
        specs[cell] = (cfg, resolve_cell(cfg, {"dataset": cell.label, "model": "mlp"}, check_model=False))
    return specs


def run_all(cells: list[Cell], specs: dict[Cell, Any], sweep: str, phase: str,
            on_done: Callable[[int, int], None] | None = None) -> dict[str, float]:
    """Run the cells in order; returns seconds spent {"train": ..., "methods": ..., "total": ...}."""
    import keras  # lazy: TensorFlow loads only when a network is used

    total = time.perf_counter()
    train = methods = 0.0
    for k, cell in enumerate(cells, 1):
        cfg, _ = specs[cell]
        log.info("advise %s: cell %d of %d (%s, seed %d)", phase, k, len(cells), cell.family or cell.label, cell.seed)
        keras.backend.clear_session()
        start = time.perf_counter()
        result = run_cell(cfg, sweep=sweep, names={"dataset": cell.label, "model": "mlp"})
        elapsed = time.perf_counter() - start
        spent = sum(float(r.get("seconds", 0.0)) for r in result.rows)
        methods += spent
        train += elapsed - spent
        if result.status == "failed":
            log.warning("advise %s: cell %s seed %d failed (see its MLflow run)", phase, cell.label, cell.seed)
        if on_done:
            on_done(k, len(cells))
    return {"train_and_overhead": train, "methods": methods, "total": time.perf_counter() - total}
