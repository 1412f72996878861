"""Targets planted on real covariates, with their truth per variable.

A `Plant` is a function f of the encoded covariate matrix (standardised numeric columns and
one-hot groups, `varbench.datasets.table.encode_table`) built from a documented family:

- `linear` (sparse linear): f = sum_{j in S} g_j, g_j = w_j z_j for a numeric variable and
  g_j = w_j * (standardised level effects b_l, drawn N(0, 1) by seed) for a categorical one;
- `additive` (additive nonlinear): as `linear` but numeric terms are w_j s_j(z_j) with shapes
  s_j cycling through sin(pi z), z^2, |z|, 1[z > 0] (varbench.datasets.additive.COMPONENTS);
- `interaction` (with a pairwise interaction): `linear` plus w_int z_a z_b on the two strongest
  planted numeric variables a, b;
- `correlated_partner` (a relevant variable with a correlated irrelevant partner): `linear` on S,
  where S contains one of the two most correlated numeric variables of the table and excludes the
  other (its partner, irrelevant however correlated).

S (|S| = n_relevant) and the level effects are drawn with the seed, so seeds give different truths on
the same covariates; weights w are 2.0 .. 0.5 in drawn order (w_int = 1.0).

Truth per variable j ("what the function uses", population = all rows of the table):
    T_j = E[(f(X) - f(X with variable j's columns taken from an independent row))^2] / 2,
the interventional total effect (a total Sobol-type index under the product of the empirical
joint and the empirical marginal of j). importance_j = sqrt(T_j): for an additive term this is
sd(g_j) (= |w_j| for a linear term on a standardised column); unplanted variables are 0 however
correlated they are with planted ones. With the interaction term, T_a and T_b are computed in
closed form from empirical moments (`_interaction_total`), and a Monte Carlo test re-estimates them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from varbench.datasets.additive import component

FAMILIES = ("linear", "additive", "interaction", "correlated_partner")
SHAPES = ("sin", "square", "abs", "step")
Term = Callable[[np.ndarray], np.ndarray]


@dataclass
class Plant:
    """A planted function f(X) = sum of main terms (one variable each) + optional w z_a z_b."""

    family: str
    variables: list[tuple[str, list[int]]]
    main: dict[int, Term]  # variable index -> term on the full encoded matrix
    pair: tuple[int, int] | None = None  # variable indices of the interaction (numeric, one column each)
    pair_weight: float = 0.0
    partner: dict[str, str] = field(default_factory=dict)  # relevant variable -> its irrelevant partner
    description: str = ""

    def __call__(self, X: np.ndarray) -> np.ndarray:
        f = np.zeros(X.shape[0])
        for term in self.main.values():
            f = f + term(X)
        if self.pair is not None:
            a, b = (self.variables[v][1][0] for v in self.pair)
            f = f + self.pair_weight * X[:, a] * X[:, b]
        return f

    @property
    def relevant(self) -> np.ndarray:
        rel = np.zeros(len(self.variables), bool)
        rel[list(self.main)] = True
        if self.pair is not None:
            rel[list(self.pair)] = True
        return rel

    def total_effects(self, X: np.ndarray) -> np.ndarray:
        """T_j (module docstring) on the empirical distribution of the rows of X, exactly."""
        T = np.zeros(len(self.variables))
        for j, term in self.main.items():
            T[j] = term(X).var()
        if self.pair is not None:
            a, b = self.pair
            ca, cb = self.variables[a][1][0], self.variables[b][1][0]
            ga = self.main[a](X) if a in self.main else np.zeros(X.shape[0])
            gb = self.main[b](X) if b in self.main else np.zeros(X.shape[0])
            T[a] = _interaction_total(ga, X[:, ca], X[:, cb], self.pair_weight)
            T[b] = _interaction_total(gb, X[:, cb], X[:, ca], self.pair_weight)
        return T


def _interaction_total(g: np.ndarray, h: np.ndarray, other: np.ndarray, w: float) -> float:
    """E[D^2]/2 for D = g(a) - g(a') + w o (h(a) - h(a')), a' an independent copy of a (empirical
    moments; o the partner's value, from the same row as a)."""
    E = np.mean
    cross = E(other * h * g) - E(other * h) * E(g) - E(other * g) * E(h) + E(other) * E(h * g)
    square = E(other**2 * h**2) - 2 * E(other**2 * h) * E(h) + E(other**2) * E(h**2)
    return float(g.var() + w * cross + w**2 * square / 2)


def _numeric_term(col: int, kind: str, weight: float) -> Term:
    g = component(kind, weight)
    return lambda X: g(X[:, col])


def _level_term(cols: list[int], weight: float, rng: np.random.Generator, X: np.ndarray) -> Term:
    b = rng.standard_normal(len(cols))
    values = X[:, cols] @ b
    sd = values.std()
    b = b * (weight / sd) if sd > 0 else b
    return lambda Z: Z[:, cols] @ b


def n_relevant_for(n_var: int) -> int:
    """How many variables to plant on a table of `n_var` variables when the caller does not say
    (`varbench advise`): half of them, at least 1 and at most 4, so irrelevant ones remain.

    Examples
    --------
    >>> [n_relevant_for(d) for d in (2, 3, 5, 8, 40)]
    [1, 1, 2, 4, 4]
    """
    return max(1, min(4, n_var // 2))


def unfit(family: str, n_var: int, n_numeric: int) -> str | None:
    """Why `family` cannot be planted on covariates with `n_var` variables of which `n_numeric`
    are numeric (in plain words, no option names), or None when it can.

    Examples
    --------
    >>> unfit("interaction", 3, 1)
    'needs at least two numeric columns (the table has 1)'
    """
    if n_var < 2:
        return f"needs at least two variables (the table has {n_var})"
    if family in ("interaction", "correlated_partner") and n_numeric < 2:
        return f"needs at least two numeric columns (the table has {n_numeric})"
    return None


def most_correlated_pair(X: np.ndarray, variables: list[tuple[str, list[int]]],
                         numeric: list[int]) -> tuple[int, int, float]:
    """(variable i, variable j, corr) of the two numeric variables with the largest |correlation|."""
    if len(numeric) < 2:
        raise ValueError(f"dataset.family='correlated_partner' {unfit('correlated_partner', 2, len(numeric))}")
    cols = [variables[v][1][0] for v in numeric]
    C = np.corrcoef(X[:, cols], rowvar=False)
    np.fill_diagonal(C, 0.0)
    i, j = np.unravel_index(np.argmax(np.abs(C)), C.shape)
    return numeric[int(i)], numeric[int(j)], float(C[i, j])


def plant(X: np.ndarray, variables: list[tuple[str, list[int]]], numeric: set[str], family: str,
          n_relevant: int, rng: np.random.Generator) -> Plant:
    """Draw a planted function of `family` (module docstring) on the covariates X."""
    if family not in FAMILIES:
        raise ValueError(f"dataset.family={family!r} is invalid: expected one of {FAMILIES}")
    n_var = len(variables)
    num_idx = [v for v, (name, _) in enumerate(variables) if name in numeric]
    why = unfit(family, n_var, len(num_idx))
    if why:
        raise ValueError(f"dataset.family={family!r} {why}")
    partner: dict[str, str] = {}
    excluded: set[int] = set()
    forced: list[int] = []
    extra = ""
    if family == "correlated_partner":
        i, j, rho = most_correlated_pair(X, variables, num_idx)
        rel, other = (i, j) if rng.random() < 0.5 else (j, i)
        forced, excluded = [rel], {other}
        partner[variables[rel][0]] = variables[other][0]
        extra = f"; {variables[rel][0]!r} relevant, its partner {variables[other][0]!r} (corr {rho:.2f}) irrelevant"
    cap = n_var - len(excluded)
    if not (isinstance(n_relevant, int) and 1 <= n_relevant <= cap):
        raise ValueError(f"dataset.n_relevant={n_relevant!r} is invalid: expected an integer in [1, {cap}]")
    pool = [v for v in range(n_var) if v not in excluded and v not in forced]
    drawn = forced + [int(v) for v in rng.choice(pool, size=n_relevant - len(forced), replace=False)]
    if family == "interaction":
        spare = [v for v in num_idx if v not in drawn]
        while sum(v in num_idx for v in drawn) < 2:  # make room for two numeric variables
            new = int(rng.choice(spare))
            spare.remove(new)
            cats = [v for v in drawn if v not in num_idx]
            if cats and len(drawn) >= 2:
                drawn.remove(cats[-1])
            drawn.append(new)
        nums = [v for v in drawn if v in num_idx]
        pair = (nums[0], nums[1])
    weights = np.linspace(2.0, 0.5, len(drawn)) if len(drawn) > 1 else np.array([2.0])
    main: dict[int, Term] = {}
    shapes: list[str] = []
    for rank, (v, w) in enumerate(zip(drawn, weights)):
        name, cols = variables[v]
        if name in numeric:
            kind = SHAPES[rank % len(SHAPES)] if family == "additive" else "linear"
            main[v] = _numeric_term(cols[0], kind, float(w))
            shapes.append(f"{w:.2f}*{kind}({name})")
        else:
            main[v] = _level_term(cols, float(w), rng, X)
            shapes.append(f"{w:.2f}*levels({name})")
    desc = " + ".join(shapes)
    p = Plant(family, variables, main, partner=partner)
    if family == "interaction":
        p.pair, p.pair_weight = pair, 1.0
        desc += f" + 1.00*{variables[pair[0]][0]}*{variables[pair[1]][0]}"
    p.description = desc + extra
    return p


__all__ = ["FAMILIES", "Plant", "plant", "most_correlated_pair", "n_relevant_for", "unfit"]
