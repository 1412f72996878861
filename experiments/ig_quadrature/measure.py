"""Integrated Gradients' completeness gap vs quadrature nodes on the default ReLU MLP (issue 15).

Trains conf/model/mlp.yaml's 64-64 ReLU network (seed 0, the shared trainer) on each dataset and
prints, for 64 / 128 / 256 Gauss-Legendre nodes, the relative gap mean |sum phi - (f(x) - f(b))| /
mean |f(x) - f(b)| over 500 test rows (b = training mean). Figures quoted in README.md
("Integrated Gradients quadrature"). ~2 min on 2 cores.

    python experiments/ig_quadrature/measure.py
"""
from __future__ import annotations

from functools import partial

import numpy as np

from varbench.datasets.correlated import correlated_linear
from varbench.datasets.scales import mixed_scales
from varbench.datasets.sensitivity import ishigami, sobol_g
from varbench.datasets.synthetic import friedman1, interaction, linear
from varbench.methods.base import baseline_vector
from varbench.methods.gradients import _integrated
from varbench.models.mlp import build_mlp
from varbench.models.trainer import TrainerConfig, train

DATASETS = {"linear": linear, "friedman1": friedman1, "correlated": correlated_linear, "interaction": interaction,
            "ishigami": ishigami, "mixed_scales": mixed_scales, "sobol_g": sobol_g}


def main() -> None:
    build = partial(build_mlp, hidden=[64, 64], activation="relu", dropout=0.0, l2=0.0)
    for name, make in DATASETS.items():
        ds = make()
        model = train(build, ds.X_train, ds.y_train, ds.task, 0, TrainerConfig(engine="single"))  # its README's engine
        X, ref = ds.X_test[:500], baseline_vector(ds.X_train, "mean")
        gaps = [_integrated(model, X, ref, steps, "gausslegendre", None)[1]["relative_gap"] for steps in (64, 128, 256)]
        print(f"{name:14s} " + "  ".join(f"{s:4d} nodes {g:.2%}" for s, g in zip((64, 128, 256), gaps)), flush=True)


if __name__ == "__main__":
    main()
