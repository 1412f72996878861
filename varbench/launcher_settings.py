"""The settings of varbench's two launchers (`hydra/launcher=varbench`, cells in this process, and
`hydra/launcher=varbench_ray`, cells in Ray tasks of `batch_size` cells), checked in one line each
before a sweep composes, pre-trains or runs anything (`varbench.callbacks.validate_sweep`)."""
from __future__ import annotations

import importlib.util
from typing import Any

VARBENCH = "hydra_plugins.varbench_launcher.launcher.VarbenchLauncher"
VARBENCH_RAY = "hydra_plugins.varbench_launcher.launcher.VarbenchRayLauncher"
RESETS = ("auto", "always", "never")  # hydra.launcher.keras_reset (varbench.batch.KerasReset)
RAY_MISSING = ("hydra/launcher=varbench_ray needs Ray, which is not installed: install the ray extra "
               "(pip install 'varbench[ray]', or pip install -e '.[ray]' in a checkout)")


def reset_error(mode: object) -> str | None:
    """Why `hydra.launcher.keras_reset=mode` is refused, or None."""
    if mode in RESETS:
        return None
    return f"hydra.launcher.keras_reset={mode!r} is invalid: expected one of {', '.join(RESETS)}"


def batch_size_error(size: object) -> str | None:
    """Why `hydra.launcher.batch_size=size` (cells per Ray task) is refused, or None."""
    if isinstance(size, int) and not isinstance(size, bool) and size >= 1:
        return None
    return f"hydra.launcher.batch_size={size!r} is invalid: expected an integer >= 1 (cells per Ray task)"


def refusal(launcher: Any) -> str | None:
    """The one line that refuses the launcher config `launcher` (a sweep's `hydra.launcher`), or None:
    an invalid `keras_reset` of either varbench launcher; for `varbench_ray`, Ray not installed or an
    invalid `batch_size`. Other launchers are not varbench's to check.

    Examples
    --------
    >>> refusal({"_target_": VARBENCH, "keras_reset": "sometimes"})
    "hydra.launcher.keras_reset='sometimes' is invalid: expected one of auto, always, never"
    >>> refusal({"_target_": "hydra._internal.core_plugins.basic_launcher.BasicLauncher"}) is None
    True
    """
    target = str(launcher.get("_target_", ""))
    if target not in (VARBENCH, VARBENCH_RAY):
        return None
    if target == VARBENCH_RAY:
        if importlib.util.find_spec("ray") is None:
            return RAY_MISSING
        error = batch_size_error(launcher.get("batch_size"))
        if error:
            return error
    return reset_error(launcher.get("keras_reset"))
