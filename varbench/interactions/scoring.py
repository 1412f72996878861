"""The interaction track's scores, importable from here as before; they live in
`varbench.scoring.interactions` (and `average_precision` in `varbench.rank_stats`)."""
from varbench.scoring.interactions import INTERACTION_METRICS, score_interactions
from varbench.rank_stats import average_precision

__all__ = ["score_interactions", "average_precision", "INTERACTION_METRICS"]
