"""The selection track's names, importable from here as before; each lives where its job is:
the result type `Selection`, `as_selection`, `benjamini_hochberg` and the level `Q` in
`varbench.methods.base`; the scores (`fdr_power`, `score_selection_result`, `TRACK`) in
`varbench.scoring.selection`; `SELECTION_METRICS` in the metric table, `varbench.scoring.table`.
"""
from varbench.methods.base import Q, Selection, as_selection, benjamini_hochberg
from varbench.scoring.selection import TRACK, fdr_power, score_selection_result
from varbench.scoring.table import SELECTION_METRICS

__all__ = ["Selection", "benjamini_hochberg", "as_selection", "fdr_power", "score_selection_result",
           "Q", "TRACK", "SELECTION_METRICS"]
