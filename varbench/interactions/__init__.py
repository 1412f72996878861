"""The interaction-detection track: pairwise interaction methods, their scores and the runner
hook (its generators with known interacting pairs are in `varbench.datasets.interactions`).

A method of this track is a callable ``fn(model, data, rng, **params)`` returning an
`Interactions` (or a bare (d, d) array): a symmetric matrix of pairwise interaction strengths
whose diagonal is ignored. It is scored by `varbench.interactions.scoring.score_interactions`
against `data.truth.interactions` by the runner (`varbench.runner.run_method`, for a method whose
`_meta_` says `returns: interactions`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from varbench.datasets.interactions import pair_matrix  # public here too; defined with the truth it builds


@dataclass
class Interactions:
    """A method's pairwise interaction strengths.

    matrix: (d, d) symmetric, non-negative by convention (scores use |matrix|); the diagonal is
        ignored and set to 0 by `as_interactions`.
    extras: scalar diagnostics to log (e.g. an estimator's standard error).
    """

    matrix: np.ndarray
    extras: dict[str, float] = field(default_factory=dict)


def as_interactions(result: object, d: int, rtol: float = 1e-5) -> Interactions:
    """Normalise a method's return value: a (d, d) finite matrix, symmetric up to `rtol` of its
    largest entry (then symmetrised exactly), with a zero diagonal. Raises ValueError otherwise."""
    if not isinstance(result, Interactions):
        result = Interactions(matrix=np.asarray(result, dtype=float))
    M = np.asarray(result.matrix, dtype=float)
    if M.shape != (d, d):
        raise ValueError(f"method returned an interaction matrix of shape {M.shape}, expected ({d}, {d})")
    if not np.all(np.isfinite(M)):
        raise ValueError("method returned a non-finite interaction matrix")
    scale = float(np.max(np.abs(M))) if M.size else 0.0
    if np.max(np.abs(M - M.T), initial=0.0) > rtol * max(scale, 1e-300):
        raise ValueError("method returned an asymmetric interaction matrix "
                         f"(max |M - M.T| = {float(np.max(np.abs(M - M.T))):.3g})")
    M = (M + M.T) / 2
    np.fill_diagonal(M, 0.0)
    result.matrix = M
    result.extras = {str(k): float(v) for k, v in result.extras.items()}
    return result


def upper_pairs(d: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of the d (d - 1) / 2 pairs i < j (row-major order)."""
    return np.triu_indices(d, k=1)


__all__ = ["Interactions", "as_interactions", "pair_matrix", "upper_pairs"]
