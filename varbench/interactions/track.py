"""The interaction track's scoring of one run, importable from here as before; it lives in
`varbench.scoring.interactions`."""
from varbench.scoring.interactions import TRACK, score_interaction_result

__all__ = ["score_interaction_result", "TRACK"]
