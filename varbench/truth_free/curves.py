"""Deletion and insertion curves and the prediction gaps PGI / PGU, from one batched pass.

Variables are hidden the way the methods hide them: through the value function of
`varbench.methods.shapley` (`coalition_outputs`): a hidden variable's columns (a one-hot group
moves as one block) take the values of a background row (marginal), or of a draw from the
Gaussian conditional of the hidden columns given the kept ones (`gaussian_set_draws`).

For an order of the V variables (the method's importance, descending) and t = 0..V:
- deletion step t hides the t first variables; insertion step t keeps only the t first.
- The loss of a step is the mean over explained rows of the head's loss of the value
  v_x(S) = mean over B background draws of f(x_S, b_notS) (probabilities for a classifier: the
  SAGE convention, `loss_of_output`).
- Normalisation: with L_full the loss with every variable kept and L_empty with every variable
  hidden, the deletion curve is (L_t - L_full) / (L_empty - L_full) and the insertion curve
  (L_empty - L_t) / (L_empty - L_full); both run from 0 to 1 (a step may leave [0, 1] when hiding
  a variable lowers the loss). The AUC is the trapezoid area over t / V in [0, 1]; for both,
  higher is better (a good order loses most of the loss early, or recovers it early). Undefined
  (NaN) when L_empty - L_full is not positive (hiding everything does not hurt the model).
- PGI at k (OpenXAI's prediction gap on important features, with background draws instead of
  Gaussian noise): mean over rows and draws of |f(x) - f(x with the k first variables hidden)|,
  i.e. deletion step k; PGU: the same with all but the k first hidden (insertion step k). In the
  explained output's units (probability for a classifier); PGI higher, PGU lower is better.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from varbench.methods.conditional import gaussian_set_draws
from varbench.methods.shapley import coalition_outputs, loss_of_output, to_probability
from varbench.models.trained import TrainedModel


def variable_order(importance: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Variables by descending |importance|; ties in a random order drawn from `rng`.

    Examples
    --------
    >>> import numpy as np
    >>> variable_order(np.array([0.1, -3.0, 2.0]), np.random.default_rng(0)).tolist()
    [1, 2, 0]
    """
    imp = np.abs(np.asarray(importance, dtype=float))
    tie = rng.permutation(imp.size)
    return np.lexsort((tie, -imp))


def step_masks(order: np.ndarray, col_var: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(deletion, insertion) column masks, each (V + 1, d), True = column kept from x: deletion
    step t hides the columns of the t first variables of `order`, insertion step t keeps only them.

    Examples
    --------
    >>> import numpy as np
    >>> dele, ins = step_masks(np.array([1, 0]), np.array([0, 0, 1]))  # columns 0, 1: variable 0
    >>> dele.astype(int).tolist()
    [[1, 1, 1], [1, 1, 0], [0, 0, 0]]
    """
    V = order.size
    rank = np.empty(V, dtype=int)
    rank[order] = np.arange(V)
    first = rank[col_var][None, :] < np.arange(V + 1)[:, None]  # column's variable among the t first
    return ~first, first


@dataclass(frozen=True)
class CurveScores:
    """The curves (each (V + 1,), normalised) and the scores read from them."""

    deletion: np.ndarray
    insertion: np.ndarray
    deletion_auc: float
    insertion_auc: float
    pgi: float
    pgu: float
    k: int


def auc(curve: np.ndarray) -> float:
    """Trapezoid area under a curve sampled at t / V, t = 0..V (NaN if the curve is).

    Examples
    --------
    >>> import numpy as np
    >>> auc(np.array([0.0, 1.0, 1.0]))
    0.75
    """
    c = np.asarray(curve, dtype=float)
    return float(np.mean((c[1:] + c[:-1]) / 2)) if c.size > 1 else float("nan")


def curve_scores(model: TrainedModel, X: np.ndarray, y: np.ndarray, background: np.ndarray,
                 order: np.ndarray, col_var: np.ndarray, k: int,
                 conditional: tuple[np.ndarray, np.ndarray] | None = None,
                 rng: np.random.Generator | None = None, insertion: bool = True) -> CurveScores:
    """Deletion / insertion curves, their AUCs, PGI and PGU at k for one order of the variables
    (see the module note), from one batched pass of n x 2(V + 1) x B model evaluations.

    X, y: the explained rows (n, d) and targets; background: (B, d) rows of the training split
    (marginal), or, with `conditional` = (mu, Sigma) of a Gaussian fitted to the training split,
    B draws per row and step from the Gaussian conditional (`rng` draws them); order: the
    variables, most important first; col_var: (d,) variable of each column; k: 1 <= k <= V;
    insertion: False evaluates the deletion steps only (half the pass; insertion AUC and PGU NaN).

    Examples
    --------
    See ``tests/test_truth_free.py``: for f(x) = 3 x_0 + x_1 explaining y = f(x) with independent
    standard normal inputs, the normalised deletion curve of the true order is (0, 0.9, 1) in
    expectation, an AUC of (0.45 + 0.95) / 2 = 0.7; the reversed order gives 0.3.
    """
    V = order.size
    if not 1 <= k <= V:
        raise ValueError(f"k={k!r} is invalid: expected an integer in [1, {V}]")
    dele, ins = step_masks(np.asarray(order), np.asarray(col_var))
    masks = np.concatenate([dele, ins]) if insertion else dele
    if conditional is None:
        bg = background
    else:
        if rng is None:
            raise ValueError("rng is required with a conditional sampler")
        bg = gaussian_set_draws(*conditional, X, masks, background.shape[0], rng)
    F = coalition_outputs(model, X, bg, masks)  # (n, 2(V + 1), B) explained outputs
    g = to_probability(model)
    P = (F if g is None else g(F)).mean(axis=2)
    losses = loss_of_output(model, P, np.asarray(y, dtype=np.float64)[:, None]).mean(axis=0)
    L_del, L_ins = losses[:V + 1], (losses[V + 1:] if insertion else np.full(V + 1, np.nan))
    full, empty = L_del[0], L_del[V]
    span = empty - full
    if span > 0:
        d_curve, i_curve = (L_del - full) / span, (empty - L_ins) / span
    else:
        d_curve = i_curve = np.full(V + 1, np.nan)
    fx = F[:, 0, :1]  # step 0 of deletion keeps every column: f(x)
    pgi = float(np.mean(np.abs(F[:, k] - fx)))
    pgu = float(np.mean(np.abs(F[:, V + 1 + k] - fx))) if insertion and k < V else float("nan")
    return CurveScores(d_curve, i_curve, auc(d_curve), auc(i_curve), pgi, pgu, k)

