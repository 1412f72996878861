"""Vectors and matrices as the store's JSON tag strings (6 significant digits): what the scorers
write into a run's tags and `varbench.tracking` logs. A leaf: it imports no varbench module."""
from __future__ import annotations

import json
from typing import Iterable

import numpy as np


def vector_json(v: Iterable[float]) -> str:
    """A vector as a JSON list, 6 significant digits.

    Examples
    --------
    >>> vector_json([1.0, 0.1234567])
    '[1.0, 0.123457]'
    """
    return json.dumps([float(f"{x:.6g}") for x in np.asarray(list(v), dtype=float)])


def matrix_json(m: np.ndarray) -> str:
    """A (d, d) matrix as a JSON list of rows, 6 significant digits.

    Examples
    --------
    >>> matrix_json([[0.0, 2.0], [2.0, 0.0]])
    '[[0.0, 2.0], [2.0, 0.0]]'
    """
    return json.dumps([[float(f"{x:.6g}") for x in row] for row in np.asarray(m, dtype=float)])


__all__ = ["vector_json", "matrix_json"]
