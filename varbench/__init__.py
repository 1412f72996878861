"""varbench: which variable-importance method tells the truth about your neural network?

`importance`, `describe_methods` and `plot_importance` are `varbench.api`'s own functions (their
real signatures and docstrings), loaded on first use so that `import varbench` stays light: it
imports neither pandas' plotting, TensorFlow nor the method registry until one of them is used.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from varbench.datasets.base import Dataset, GroundTruth

if TYPE_CHECKING:  # for static readers (type checkers, the API reference): the names below are these
    from varbench.api import describe_methods, importance, plot_importance

__version__ = "0.1.0"

_FROM_API = ("describe_methods", "importance", "plot_importance")


def __getattr__(name: str) -> Any:
    """Load `varbench.api` the first time one of its functions is asked for (PEP 562)."""
    if name in _FROM_API:
        from varbench import api

        value = getattr(api, name)
        globals()[name] = value  # later look-ups skip this hook
        return value
    raise AttributeError(f"module 'varbench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_FROM_API))


__all__ = ["Dataset", "GroundTruth", "describe_methods", "importance", "plot_importance", "__version__"]
