"""Which input columns a builder embeds: the data's one-hot groups, handed to builders that ask.

The harness's datasets give every model one (n, d) float matrix; a categorical variable is a
group of one-hot columns (`Dataset.groups`). A builder with a `groups` parameter (e.g.
`varbench.models.embedding.build_mlp_embed`) gets them bound by `bind_groups` when the cell is
resolved, so the trainer, the stack check, the cache and refits keep calling
`build(n_features, task, **head)` as for every other builder. The bound builder refuses to build
for another width in one line (a refit on a column subset, whose one-hot blocks have moved).
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

GROUPS_ARG = "groups"


@dataclass(frozen=True)
class ColumnLayout:
    """numeric: the ungrouped columns, in order; categorical: (name, columns) per one-hot group."""

    numeric: tuple[int, ...]
    categorical: tuple[tuple[str, tuple[int, ...]], ...]


def column_layout(n_features: int, groups: Mapping[str, Sequence[int]] | None) -> ColumnLayout:
    """The numeric columns and the one-hot blocks of an (n, n_features) input; ValueError naming
    `groups` when a group is empty, has one column, repeats a column or names one outside
    [0, n_features).

    Examples
    --------
    >>> column_layout(5, {"colour": [2, 3, 4]})
    ColumnLayout(numeric=(0, 1), categorical=(('colour', (2, 3, 4)),))
    """
    seen: set[int] = set()
    blocks = []
    for name, cols in (groups or {}).items():
        cols = tuple(int(c) for c in cols)
        if len(cols) < 2 or len(set(cols)) != len(cols) or any(not 0 <= c < n_features for c in cols) \
                or seen & set(cols):
            raise ValueError(f"groups[{name!r}]={list(cols)!r} is invalid for {n_features} input columns: "
                             "expected >= 2 distinct one-hot columns in range, in no other group")
        seen |= set(cols)
        blocks.append((str(name), cols))
    return ColumnLayout(tuple(j for j in range(n_features) if j not in seen), tuple(blocks))


def takes_groups(build: Callable[..., Any]) -> bool:
    """Whether the builder (or the function a partial wraps) has a `groups` parameter."""
    try:
        return GROUPS_ARG in inspect.signature(getattr(build, "func", build)).parameters
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class GroupedBuild:
    """`build` with the data's one-hot groups bound, for inputs of exactly `n_features` columns."""

    build: Callable[..., Any]
    groups: dict[str, list[int]]
    n_features: int

    def __call__(self, n_features: int, task: str, **head: Any) -> Any:
        if int(n_features) != self.n_features:
            raise ValueError(f"n_features={n_features} is invalid for this model: its embeddings were laid out "
                             f"for the dataset's {self.n_features} columns with one-hot groups {self.groups} "
                             "(retraining on a column subset is not supported for embedding models)")
        return self.build(n_features, task, groups=self.groups, **head)


def bind_groups(build: Callable[..., Any], X: np.ndarray, groups: Mapping[str, Sequence[int]] | None,
                key: str = "model") -> Callable[..., Any]:
    """`build` itself if it takes no `groups` or the data has none; else a `GroupedBuild` handing it
    the data's one-hot groups.
    Refuses (ValueError naming `key`) a config that sets `groups` itself (the data decides them)
    and a group whose columns in X are not one-hot (0/1, one 1 per row): an embedding treats
    each group as one categorical variable.

    Examples
    --------
    >>> from varbench.models.embedding import build_mlp_embed
    >>> X = np.array([[0.5, 1, 0], [-1.0, 0, 1]])
    >>> bind_groups(build_mlp_embed, X, {"c": [1, 2]}).groups
    {'c': [1, 2]}
    """
    if not takes_groups(build):
        return build
    if GROUPS_ARG in (getattr(build, "keywords", None) or {}):
        raise ValueError(f"{key}.groups={build.keywords[GROUPS_ARG]!r} is invalid: the groups are the "
                         "dataset's one-hot groups, bound by varbench (remove the key)")
    X = np.asarray(X)
    layout = column_layout(X.shape[1], groups)
    for name, cols in layout.categorical:
        block = X[:, list(cols)]
        if not (np.isin(block, (0.0, 1.0)).all() and np.all(block.sum(axis=1) == 1)):
            raise ValueError(f"{key} embeds each group as a categorical variable, but group {name!r} "
                             f"(columns {list(cols)}) is not one-hot in the training data")
    if not layout.categorical:  # nothing to embed: the builder as it is (refits on column subsets work)
        return build
    return GroupedBuild(build, {name: list(cols) for name, cols in layout.categorical}, int(X.shape[1]))
