"""What `varbench advise` runs: budgets (families x seeds x methods, training length) and the cells."""
from __future__ import annotations

from dataclasses import dataclass

from varbench.datasets.planted import FAMILIES
from varbench.registry import registry, suites


@dataclass(frozen=True)
class Budget:
    """One preset of `--budget`: more seeds and methods cost more time.

    families: planted families (varbench.datasets.planted); seeds: benchmark seeds per family;
    suites: method suites (varbench.registry) whose importance methods are benchmarked;
    epochs/patience: the trainer's; max_rows: rows used per benchmark cell (None = all);
    real_seeds: trainings on the real target (importance intervals over them); top: methods
    run on the real target."""

    families: tuple[str, ...]
    seeds: int
    suites: tuple[str, ...]
    epochs: int
    patience: int
    max_rows: int | None
    real_seeds: int
    top: int


BUDGETS: dict[str, Budget] = {
    "tiny": Budget(("linear", "correlated_partner"), 1, ("seed_answers",), 30, 5, 300, 2, 2),
    "quick": Budget(FAMILIES, 1, ("seed_answers", "modern"), 60, 8, 2000, 2, 3),
    "default": Budget(FAMILIES, 3, ("seed_answers", "modern"), 80, 10, 3000, 3, 3),
    "thorough": Budget(FAMILIES, 5, ("fast",), 200, 20, None, 5, 4),
}


def budget(name: str) -> Budget:
    if name not in BUDGETS:
        raise ValueError(f"--budget={name!r} is invalid: expected one of {sorted(BUDGETS)}")
    return BUDGETS[name]


def methods_for(b: Budget) -> list[str]:
    """The benchmarked methods: importance methods of the budget's suites (ceilings, which read the
    truth, and retraining methods excluded; floors kept as the no-skill reference)."""
    reg, named = registry(), suites()
    out: list[str] = []
    for s in b.suites:
        for m in named[s]:
            info = reg[m]
            if (m not in out and info.meta.returns == "importance" and info.meta.role != "ceiling"
                    and "trainer" not in info.meta.needs):
                out.append(m)
    floors = [m for m in out if reg[m].meta.role == "floor"]
    return [m for m in out if m not in floors] + floors


def left_out(methods: list[str], groups: dict[str, list[int]]) -> dict[str, str]:
    """The methods that cannot apply to this table, each with the reason (one line): a method
    that judges each encoded column alone (`_meta_.groups: none`) cannot judge a one-hot
    categorical as one variable, so it is left out of the plan when the table has one.

    Examples
    --------
    >>> left_out(["permutation", "conditional_permutation"], {"colour": [3, 4, 5]})["conditional_permutation"][:40]
    'judges each encoded column alone and can'
    """
    reg = registry()
    if not groups:
        return {}
    cats = ", ".join(f"`{c}`" for c in groups)
    return {m: f"judges each encoded column alone and cannot judge a one-hot categorical ({cats}) as one variable"
            for m in methods if reg[m].meta.groups == "none"}


@dataclass(frozen=True)
class Cell:
    """One runner cell: its dataset label (the `dataset` tag), seed and Hydra overrides."""

    label: str
    family: str | None
    seed: int
    overrides: tuple[str, ...]


def quote(value: str) -> str:
    """A string as a quoted Hydra override value (paths with spaces, '=' or commas)."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def common(b: Budget, study: str, tracking_uri: str | None, methods: list[str],
           cache_dir: str | None = None) -> list[str]:
    """Overrides shared by every cell of a plan."""
    out = [f"study={study}", f"trainer.epochs={b.epochs}", f"trainer.patience={b.patience}",
           "methods=[" + ",".join(methods) + "]"]
    return (out + ([f"tracking.uri={quote(tracking_uri)}"] if tracking_uri else [])
            + ([f"cache.dir={quote(cache_dir)}"] if cache_dir else []))


def benchmark_cells(path: str, target: str, task: str, b: Budget, snr: float, n_rows: int,
                    families: tuple[str, ...] | None = None, *, n_relevant: int) -> list[Cell]:
    """The semi-synthetic cells: each family x seed, planted on the table's covariates
    (`n_relevant` planted variables: planted.n_relevant_for the table's variables)."""
    rows = "null" if b.max_rows is None or b.max_rows >= n_rows else str(b.max_rows)
    planted_task = "classification" if task == "classification" else "regression"
    cells = []
    for fam in families or b.families:
        for seed in range(b.seeds):
            cells.append(Cell(f"planted_{fam}", fam, seed, (
                "dataset=semisynthetic", f"dataset.source={quote(path)}", f"dataset.target={quote(target)}",
                f"dataset.family={fam}", f"dataset.snr={snr}", f"dataset.n_samples={rows}",
                f"dataset.n_relevant={n_relevant}",
                f"dataset.task={planted_task}", "model_truth.enabled=false",  # the planted truth scores
                f"seed={seed}")))
    return cells


def real_cells(path: str, target: str, b: Budget, extra: tuple[str, ...] = ()) -> list[Cell]:
    """The real-target cells (`dataset=table`), one per seed (split and initialisation)."""
    return [Cell("real_target", None, seed, ("dataset=table", f"dataset.path={quote(path)}",
                                              f"dataset.target={quote(target)}", *extra, f"seed={seed}"))
            for seed in range(b.real_seeds)]
