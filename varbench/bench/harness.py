"""Benchmark harness: problem sizes per mode, results and sections, interleaved timing, the
shared context (data, model, measured matmul peak)."""
from __future__ import annotations

import importlib
import importlib.metadata
import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from varbench.datasets.synthetic import friedman1
from varbench.models.runtime import thread_counts
from varbench.schema import Section, at_least, rule

MET, NOT_MET, NOT_RUN, INFO = "met", "not met", "not run", "info"
DISAGREE = "DISAGREES"  # a comparison whose values differ beyond its stated tolerance


# ------------------------------------------------------------------------------------ sizes

COUNT = at_least(1)
# the reduced seed_question study (16 cells): 2 datasets x 2 architectures x 4 seeds
REDUCED_STUDY = ("dataset=linear,correlated_block", "model=mlp,mlp_wide", "seed=0,1,2,3")


@dataclass(frozen=True)
class Sizes(Section):
    """Problem sizes of one benchmark mode. Defaults are the full mode (the reference
    settings: MLP 10-64-64-1 on Friedman #1, 3,000 training rows, 50 epochs, batch 64).
    A section of the declared schema (varbench.schema): checked on construction."""

    name: str = "full"
    n_train: int = field(default=3000, metadata=COUNT)
    n_test: int = field(default=1000, metadata=COUNT)
    epochs: int = field(default=50, metadata=COUNT)
    batch_size: int = field(default=64, metadata=COUNT)
    lr: float = 0.003
    seeds: int = field(default=5, metadata=COUNT)  # training: seeds (each one timed, both tools)
    repeats: int = field(default=3, metadata=COUNT)  # methods: interleaved timing repeats per tool
    perm_rows: int = field(default=1000, metadata=COUNT)
    perm_repeats: int = field(default=10, metadata=COUNT)
    shap_rows: int = field(default=50, metadata=COUNT)
    shap_background: int = field(default=50, metadata=COUNT)
    shap_coalitions: int = field(default=200, metadata=rule(lambda v: v >= 2 and v % 2 == 0, "an even integer >= 2"))
    shap_exact: bool = True             # also time exact KernelSHAP (all 2^d - 2 coalitions)
    lime_rows: int = field(default=50, metadata=COUNT)
    lime_samples: int = field(default=1000, metadata=at_least(2))
    eg_samples: tuple[int, ...] = (25, 50, 100, 200, 400, 800)  # expected-gradients sweep (includes shap's 200)
    eg_reference_steps: int = 256       # Gauss-Legendre nodes of the expected-gradients estimand
    perm_pairs: tuple[int, ...] = (3, 6, 12, 23, 46)  # permutation sweep, antithetic pairs (shap's default: 23 at d=10)
    shap_permutation: bool = True       # run shap's PermutationExplainer (its numba kernels compile on first use)
    perm_called_rows: int = 5           # rows for PermutationExplainer as called (keras predict per walk is slow)
    ig_rows: int = field(default=2000, metadata=COUNT)
    ig_steps: int = field(default=64, metadata=COUNT)
    mem_rows: tuple[int, int] = (500, 2000)     # IG / permutation rows, small and large
    mem_chunks: tuple[int, int] = (1024, 8192)  # TrainedModel.chunk_size, small and large
    mem_shap_rows: tuple[int, int] = (64, 160)  # exact KernelSHAP rows (both >= 2 row blocks)
    matmul_n: int = field(default=2048, metadata=COUNT)
    sage_rows: int = 200
    sage_permutations: int = 256
    stack_sizes: tuple[int, ...] = (8, 32)
    profile: tuple[str, ...] | None = ("dataset=friedman1",)  # cell overrides (not seed); None = skip
    studies: bool = True                # time the default study and methods=all on one cell (CLI)
    # the reduced seed_question study timed one by one and with stacked pre-training
    study_overrides: tuple[str, ...] = REDUCED_STUDY
    study_profile: bool = True          # profile the reduced study run by the CLI (bench.study_profile)
    # the seed_question study run end to end by the CLI (bench.study_full); () = the whole study (200 cells)
    full_study_overrides: tuple[str, ...] = ()
    # agreement tolerances (a comparison outside them is reported as DISAGREES and fails the run)
    perm_z_tolerance: float = 5.0       # |varbench - sklearn| per feature, in standard errors of the difference
    shap_error_factor: float = 2.0      # varbench's error vs exact <= max(factor x shap's, floor)
    shap_error_floor: float = 0.05
    lime_tolerance: float = 0.25        # max |diff| of global mean |coef|, share of lime's largest
    stack_mse_tolerance: float = 0.05   # stacked member vs the same seed trained alone: relative test MSE


FULL = Sizes()
QUICK = Sizes(name="quick", seeds=2, repeats=2, perm_rows=500, perm_repeats=5, perm_called_rows=1,
              shap_rows=10, shap_exact=False, lime_rows=20, ig_rows=500, mem_rows=(250, 1000),
              mem_shap_rows=(64, 96), sage_rows=100, sage_permutations=64, studies=False,
              study_overrides=("dataset=linear", "model=mlp,mlp_wide", "seed=0,1,2"), full_study_overrides=REDUCED_STUDY)
# Smoke-test sizes (seconds, not meaningful numbers).
TINY_STUDY = ("dataset=linear", "model=mlp", "seed=0,1", "dataset.n_samples=200", "trainer.epochs=2",
              "methods=[probing,permutation]", "model_truth.enabled=false")
TINY = Sizes(name="tiny", n_train=200, n_test=60, epochs=2, seeds=2, repeats=1, perm_rows=40,
             perm_repeats=2, shap_rows=2, shap_background=5, shap_coalitions=40, shap_exact=True,
             eg_samples=(25, 200, 800), eg_reference_steps=32, shap_permutation=False,
             lime_rows=2, lime_samples=60, ig_rows=20, ig_steps=4, mem_rows=(20, 40),
             mem_chunks=(256, 1024), mem_shap_rows=(2, 4), matmul_n=128, sage_rows=10, sage_permutations=4,
             shap_error_factor=3.0, shap_error_floor=0.5, lime_tolerance=1.0, stack_mse_tolerance=0.2,
             study_overrides=TINY_STUDY, full_study_overrides=TINY_STUDY, study_profile=False,
             profile=("dataset=friedman1", "dataset.n_samples=200", "trainer.epochs=2",
                      "trainer.patience=0", "methods=[probing,permutation]",
                      "model_truth.enabled=false"), studies=False)
MODES = {"full": FULL, "quick": QUICK, "tiny": TINY}


# ------------------------------------------------------------------------------------ results

@dataclass
class Result:
    """One comparison: medians in seconds, ratio = peer / varbench, target = minimum ratio.
    A row whose figure is not a peer ratio (a share of the roofline, a time relative to one
    model) carries it in `figure`, with its `unit` and, when its aim is a maximum, `at_most`."""

    name: str
    varbench: float | None
    peer_name: str = ""
    peer: float | None = None
    target: float | None = None
    agreement: str = ""
    status: str = INFO
    why: str = ""
    figure: float | None = None
    unit: str = "x"
    at_most: bool = False

    @property
    def ratio(self) -> float | None:
        if self.figure is not None:
            return self.figure
        if self.varbench is None or self.peer is None or self.varbench <= 0:
            return None
        return self.peer / self.varbench


def verdict(ratio: float | None, target: float | None, at_most: bool = False) -> str:
    """"met" / "not met" for a figure against its aim (a minimum, or with `at_most` a maximum),
    "info" without an aim, "not run" without a figure."""
    if ratio is None or not math.isfinite(ratio):
        return NOT_RUN
    if target is None:
        return INFO
    return MET if (ratio <= target if at_most else ratio >= target) else NOT_MET


@dataclass
class Section:
    """A benchmark's summary rows and its markdown detail."""

    title: str
    results: list[Result] = field(default_factory=list)
    body: str = ""
    figures: dict[str, float] = field(default_factory=dict)  # bench.json keys


def median(values: Sequence[float]) -> float:
    """The median as a float."""
    return float(statistics.median(values))


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(wall seconds, result) of one call."""
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def side_by_side(fns: dict[str, Callable[[int], Any]], repeats: int
                 ) -> tuple[dict[str, list[float]], dict[str, list[Any]]]:
    """Call every fn(repeat) `repeats` times, interleaved (the order alternates between repeats
    so neither side always runs first on a shared machine); return times and outputs per name."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    outs: dict[str, list[Any]] = {k: [] for k in fns}
    names = list(fns)
    for r in range(repeats):
        for name in (names if r % 2 == 0 else names[::-1]):
            t, out = timed(lambda: fns[name](r))
            times[name].append(t)
            outs[name].append(out)
    return times, outs


def _available(module: str) -> str | None:
    """None if `module` imports, else the reason it does not."""
    try:
        importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001 - any import failure means "not run"
        return f"{module} is not importable ({type(exc).__name__}: {exc})"
    return None


def _kernel_shap_available() -> str | None:
    try:
        from varbench.methods.shapley import kernel_shap  # noqa: F401 - the probe is this import
    except Exception as exc:  # noqa: BLE001
        return f"varbench.methods.shapley.kernel_shap is not importable ({type(exc).__name__}: {exc})"
    return None


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


# ------------------------------------------------------------------------------------ context

@dataclass
class Context:
    """What the sections share: the data, the varbench-trained model, the measured peak."""

    sizes: Sizes
    data: Any
    big: Any                 # a dataset with >= max(ig_rows, mem_rows) test rows
    model: Any = None        # TrainedModel (seed 0), set by the training section
    peak_flops: float | None = None


def make_context(sizes: Sizes) -> Context:
    """Friedman #1 at the benchmark's sizes (seed 0), plus a larger test set for IG and memory."""
    n = sizes.n_train + sizes.n_test
    data = friedman1(n_samples=n, test_fraction=sizes.n_test / n, seed=0)
    big_rows = max(sizes.ig_rows, *sizes.mem_rows)
    big = friedman1(n_samples=2 * big_rows, test_fraction=0.5, seed=1)
    return Context(sizes=sizes, data=data, big=big)


def _trainer_config(s: Sizes) -> Any:
    """The shared trainer's config for sizes `s` (a TrainerConfig)."""
    from varbench.models.trainer import TrainerConfig  # lazy: the trainer loads scikit-learn (rank_stats)

    # no validation split and no early stopping: the same work as model.fit below
    return TrainerConfig(epochs=s.epochs, batch_size=s.batch_size, lr=s.lr, patience=0,
                         val_fraction=0.0, progress_every=0)


# ------------------------------------------------------------------------------------ peak

def measure_peak_flops(n: int, repeats: int = 5) -> float:
    """float32 FLOP/s of n x n matmuls in TensorFlow on this machine (best of `repeats`): one
    matmul per inter-op thread, run concurrently, so the peak counts every core whatever the
    intra-op thread count."""
    import tensorflow as tf


    lanes = thread_counts()[1]
    pairs = [(tf.random.normal((n, n), dtype=tf.float32, seed=2 * i + 1),
              tf.random.normal((n, n), dtype=tf.float32, seed=2 * i + 2)) for i in range(lanes)]
    run = tf.function(lambda: tf.add_n([tf.reduce_sum(tf.linalg.matmul(a, b)) for a, b in pairs]))
    run().numpy()  # warm-up (tracing)
    best = math.inf
    for _ in range(repeats):
        t, _ = timed(lambda: run().numpy())
        best = min(best, t)
    return lanes * 2.0 * n**3 / best
