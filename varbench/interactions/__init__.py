"""The interaction track's names, importable from here as before; each lives where its job is:

- methods: `varbench.methods.interactions` (their configs name them as
  `varbench.interactions.methods.<name>`, kept because that path is part of each method's hash);
- the result type `Interactions` and `as_interactions`: `varbench.methods.base`;
- scores: `varbench.scoring.interactions` (`score_interactions`, `score_interaction_result`);
- the truth and its pairs, `pair_matrix` and `upper_pairs`: `varbench.datasets.interactions`.
"""
from varbench.datasets.interactions import pair_matrix, upper_pairs
from varbench.methods.base import Interactions, as_interactions

__all__ = ["Interactions", "as_interactions", "pair_matrix", "upper_pairs"]
