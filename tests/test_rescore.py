"""Re-scoring logged runs gives what the runner logs for the same importance vector."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from varbench.rescore import dataset_truth, rescore
from varbench.scoring import score_against


def test_rescore_matches_score_against_and_skips_failed_rows():
    truth = dataset_truth("decoys_r90", 0)
    imp = [4.0, 1.0, 3.0, 0.5, 2.0, 0.0, 1.0, 0.2]
    runs = pd.DataFrame({"dataset": ["decoys_r90", "decoys_r90"], "seed": [0, 0], "method": ["kernel_shap", "sage"],
                         "status": ["ok", "failed"], "aggregation": ["mean_abs_local", "global"],
                         "importance": [json.dumps(imp), None], "spearman": [0.1, 0.2]})
    out = rescore(runs)
    want = score_against(np.array(imp), truth, None, "marginal", "mean_abs_local").metrics
    for k, v in want.items():
        assert out.loc[0, k] == pytest.approx(v)
    assert out.loc[0, "decoy_share"] == pytest.approx(np.mean([1 / 5, 0.5 / 3.5, 0.0, 0.2 / 1.2]))
    assert out.loc[1, "spearman"] == 0.2 and np.isnan(out.loc[1, "decoy_share"])  # failed row untouched
