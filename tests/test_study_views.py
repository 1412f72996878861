"""The studies' scripts are views on the report layer: they read the truth each run carries (no
dataset regeneration), and their numbers are hand-computable on a tiny run table."""
import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent


def load(rel: str):
    spec = importlib.util.spec_from_file_location(Path(rel).stem, ROOT / rel)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def runs_csv(path: Path, rows: list[dict]) -> Path:
    base = {"study": "s", "model": "mlp", "status": "ok", "cell_status": "ok", "quality_r2": 0.9,
            "topk_recall": 1.0, "model_spearman": 1.0, "seconds": 0.1}
    df = pd.DataFrame([{**base, "run_id": f"r{i}", "start_time": i, **r} for i, r in enumerate(rows)])
    df.to_csv(path, index=False)
    return path


def test_seed_question_reads_the_truth_from_the_table(tmp_path):
    sq = load("experiments/seed_question/analyse.py")
    truth = json.dumps([1.0, 0.5, 0.0])
    rows = []
    for ds in ("linear", "redundant"):
        for seed in (0, 1):
            for m, imp, rho in (("first_layer", [1, 1, 1], 0.2 + 0.2 * seed), ("permutation", [2, 1, 0], 1.0),
                                ("conditional_permutation", [4, 1, 1], 0.9), ("random", [0, 1, 3], -0.5)):
                rows.append({"dataset": ds, "seed": seed, "method": m, "spearman": rho, "importance": json.dumps(imp),
                             "truth": truth, "feature_names": "a,b,c"})
    rows.append({"dataset": "linear", "seed": 5, "method": "first_layer", "spearman": 0.0, "importance": "[1, 1, 1]",
                 "truth": truth, "feature_names": "a,b,c", "cell_status": "low_quality"})   # left out
    path = runs_csv(tmp_path / "runs.csv", rows)
    df = sq.load(path)
    assert len(df) == 16 and df.attrs["n_all"] == 17
    share = df.groupby("method")["irrelevant_share"].mean()
    # |importance| on the feature with truth 0: 1/3, 0/3, 1/6, 3/4
    assert share.to_dict() == pytest.approx({"first_layer": 1 / 3, "permutation": 0.0,
                                             "conditional_permutation": 1 / 6, "random": 0.75})
    # truth [1, 0.5, 0] has no ties: the best untied ordering reaches Spearman 1
    assert (df["ceiling"] == 1.0).all()
    assert sq.main(["--runs", str(path), "--out", str(tmp_path / "out"), "--cells", "linear/mlp/0"]) == 0
    head = (tmp_path / "out" / "headline.md").read_text()
    # first_layer Spearman 0.2, 0.4, 0.2, 0.4: mean 0.3, s = 0.1155, t(0.975, 3) = 3.182 -> [0.12, 0.48]
    assert "- first_layer: Spearman 0.30 [0.12, 0.48] (n=4)" in head
    assert "irrelevant share 0.33 [0.33, 0.33] (n=4)" in head
    assert (tmp_path / "out" / "importance_linear_mlp_seed0.png").stat().st_size > 0
    with pytest.raises(ValueError, match="has no truth: the table was written without its cells"):
        sq.load(runs_csv(tmp_path / "bare.csv", [{k: v for k, v in r.items() if k != "truth"} for r in rows]))


def test_olden_similarity_against_the_carried_truth(tmp_path):
    sim = load("experiments/olden2004/similarity.py")
    truth = json.dumps([0.6, 0.45, 0.3, 0.15, 0.0])
    rows = [{"dataset": "olden2004", "study": "olden2004", "seed": s, "method": m, "spearman": 0.5,
             "importance": json.dumps(imp), "truth": truth, "feature_names": "a,b,c,d,e"}
            for s in (0, 1) for m, imp in (("olden", [5, 4, 3, 2, 1]), ("garson", [1, 2, 3, 4, 5] if s else [5, 4, 3, 1, 2]))]
    runs = pd.read_csv(runs_csv(tmp_path / "runs.csv", rows))
    table = sim.per_cell(runs)
    # olden ranks every predictor right; garson: reversed (only the middle one right: 1/5), then 3 of 5
    assert table.groupby("method")["similarity"].apply(list).to_dict() == {"olden": [1.0, 1.0], "garson": [0.6, 0.2]}
    summary = sim.summarize(table).set_index("method")
    # garson 0.4 +- 12.706 * 0.2828 / sqrt(2) = [-2.14, 2.94], clipped to [0, 1]
    assert (summary.loc["garson", "similarity_lo"], summary.loc["garson", "similarity_hi"]) == (0.0, 1.0)
    md = sim.markdown(summary.reset_index(), pd.Series(dtype=float))
    assert "| Garson's algorithm | 0.28-0.74 (range over the other 8) | 0.40 [0.00, 1.00] |" in md
    assert "| Connection weights (Olden & Jackson 2002) | 0.92 | 1.00 ± 0.00 |" in md
    assert np.isclose(summary.loc["olden", "ci95"], 0.0)


def test_correlation_view_irrelevant_share_from_the_carried_truth(tmp_path):
    corr = load("experiments/correlation/plot_vs_correlation.py")
    truth = json.dumps([4.0, 0.0, 3.0, 0.0])                                   # two decoy twins
    rows = [{"dataset": f"decoys_r{r:02d}", "seed": s, "method": "permutation", "spearman": 1 - r / 100,
             "importance": json.dumps([4, d, 3, d]), "truth": truth, "feature_names": "a,a2,b,b2"}
            for r in (0, 90) for s, d in ((0, 0.5), (1, 1.0))]
    df = corr.load(runs_csv(tmp_path / "runs.csv", rows))
    # decoy share = 2d / (7 + 2d): 1/8 and 2/9
    assert df["irrelevant_share"].tolist() == pytest.approx([1 / 8, 2 / 9, 1 / 8, 2 / 9])
    s = corr.summarise(df).set_index("rho")
    assert s.loc[0.9, "spearman"] == pytest.approx(0.1) and s.loc[0.0, "irrelevant_share_n"] == 2
    assert s.loc[0.0, "irrelevant_share"] == pytest.approx((1 / 8 + 2 / 9) / 2) and s.loc[0.0, "irrelevant_share_lo"] == 0.0
