"""varbench: which variable-importance method tells the truth about your neural network?

`importance`, `describe_methods` and `plot_importance` are `varbench.api`'s functions themselves
(their real signatures and docstrings), imported on first use so that `import varbench` stays light.
"""
from typing import Any

from varbench.datasets.base import Dataset, GroundTruth

__version__ = "0.1.0"

_API = ("describe_methods", "importance", "plot_importance")


def __getattr__(name: str) -> Any:
    """The API functions, imported from `varbench.api` when first asked for (PEP 562)."""
    if name in _API:
        from varbench import api

        return getattr(api, name)
    raise AttributeError(f"module 'varbench' has no attribute {name!r}")


__all__ = ["Dataset", "GroundTruth", "describe_methods", "importance", "plot_importance", "__version__"]
