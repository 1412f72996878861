"""Cost and progress of one `varbench.importance` call: the number of model evaluations (rows
through the network) a method is expected to make, stated up front, and one tqdm progress bar fed
by the engine (`TrainedModel.progress`), shown only when the call runs longer than `DELAY` seconds.

`expected_evals` knows the methods whose cost is fixed by their parameters and the data's size;
for the others (and SAGE, which may stop early: its count is an upper bound) the bar counts
without a total. The harness does not use this: it logs progress as before.
"""
from __future__ import annotations

import contextlib
import sys
from typing import Any, Iterator, Mapping

from varbench.methods.shapley import kernel_shap_budget

DELAY = 2.0  # seconds before the bar appears: quick calls stay silent


def _n(n_rows: Any, available: int) -> int:
    return available if n_rows is None else min(int(n_rows), available)


def expected_evals(method: str, params: Mapping[str, Any], n_test: int, n_train: int, n_variables: int,
                   n_views: int = 1) -> int | None:
    """Rows the method sends through the model (all output views), or None when not fixed in advance.

    Examples
    --------
    >>> from varbench.progress import expected_evals
    >>> expected_evals("permutation", {"n_rows": None, "n_repeats": 5}, n_test=100, n_train=400, n_variables=3)
    1600
    """
    p, V = dict(params), n_variables
    if method == "permutation":
        n = _n(p.get("n_rows"), n_test)
        per = n + V * int(p["n_repeats"]) * n
    elif method == "occlusion":
        per = _n(p.get("n_rows"), n_test) * (V + 1)
    elif method == "kernel_shap":
        n, B = _n(p.get("n_rows"), n_test), _n(p.get("background_size"), n_train)
        K = 2 ** V - 2 if V <= max(int(p["max_exact_features"]), 1) else kernel_shap_budget(V, p.get("n_coalitions"))
        per = n + B + n * K * B
    elif method == "sampling_shapley":
        per = _n(p.get("n_rows"), n_test) * int(p["n_permutations"]) * (V + 1)
    elif method == "lime":
        per = _n(p.get("n_rows"), n_test) * int(p["n_samples"])
    elif method == "sage":
        n, B = _n(p.get("n_rows"), n_test), _n(p.get("background_size"), n_train)
        per = n + B + int(p["n_permutations"]) * max(V - 1, 0) * B  # an upper bound: it may converge earlier
    elif method == "sobol_total":
        per = (V + 2) * int(p["n_samples"])
    else:
        return None
    return int(per) * n_views


@contextlib.contextmanager
def progress_bar(method: str, total: int | None, enabled: bool = True) -> Iterator[Any]:
    """A callback `update(rows)` for the engine, drawing one tqdm bar on stderr that states the
    expected total and appears only after `DELAY` seconds; a no-op when not enabled."""
    if not enabled:
        yield None
        return
    from tqdm.auto import tqdm

    what = f"{method}: {total:,} model evaluations" if total else f"{method}: model evaluations"
    with tqdm(total=total, desc=what, unit="rows", unit_scale=True, delay=DELAY, file=sys.stderr,
              leave=False) as bar:
        yield bar.update
