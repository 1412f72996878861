"""The interaction methods under the path their configs' `_target_`s name (part of each method's
config hash, so kept); they live in `varbench.methods.interactions`."""
from varbench.methods.interactions import (exact_shapley_interactions, expected_hessian, h_statistic, nid,
                                           oracle_interactions, random_interactions, shapley_interactions,
                                           sobol_second_from_outputs, sobol_second_order)

__all__ = ["h_statistic", "shapley_interactions", "exact_shapley_interactions", "expected_hessian",
           "nid", "sobol_second_order", "sobol_second_from_outputs", "random_interactions",
           "oracle_interactions"]
