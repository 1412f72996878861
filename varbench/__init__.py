"""varbench: which variable-importance method tells the truth about your neural network?"""
from varbench.datasets.base import Dataset, GroundTruth

__version__ = "0.1.0"


def importance(*args, **kwargs):
    """Run a registered method on your own Keras model; see `varbench.api.importance`."""
    from varbench.api import importance as _importance

    return _importance(*args, **kwargs)


__all__ = ["Dataset", "GroundTruth", "importance", "__version__"]
