"""Dataset generators with known ground truth."""
from varbench.datasets.base import Dataset, GroundTruth, validate_dataset

__all__ = ["Dataset", "GroundTruth", "validate_dataset"]
