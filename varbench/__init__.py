"""varbench: which variable-importance method tells the truth about your neural network?"""
from varbench.datasets.base import Dataset, GroundTruth

__version__ = "0.1.0"


def importance(*args, **kwargs):
    """Run a registered method on your own Keras model; see `varbench.api.importance`."""
    from varbench.api import importance as _importance

    return _importance(*args, **kwargs)


def describe_methods():
    """Which methods explain what, need what and honour groups how; see `varbench.api.describe_methods`."""
    from varbench.api import describe_methods as _describe

    return _describe()


def plot_importance(*args, **kwargs):
    """Bars with 95 % error bars of an `importance` result; see `varbench.api.plot_importance`."""
    from varbench.api import plot_importance as _plot

    return _plot(*args, **kwargs)


__all__ = ["Dataset", "GroundTruth", "describe_methods", "importance", "plot_importance", "__version__"]
