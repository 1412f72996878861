"""The scoring package's shape: one metric table the report reads, one function per result kind,
and the old import paths (varbench.selection, varbench.interactions.*) still naming the same
objects, the interaction methods' config `_target_`s included."""
import importlib
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

import varbench.scoring as scoring
from varbench.datasets.base import GroundTruth
from varbench.methods.base import Attribution
from varbench.report.metrics import COSTS, METRICS, metric
from varbench.scoring import METRIC_INFO, score_importance_result

CONF = Path(__file__).resolve().parent.parent / "conf" / "method"


def test_metric_name_tuples_are_the_table_kinds():
    assert scoring.MAGNITUDE_METRICS == ("irrelevant_share", "importance_tv", "ndcg", "relevant_spearman",
                                         "decoy_share")
    assert scoring.ESTIMAND_METRICS == ("estimand_spearman", "estimand_tv")
    assert scoring.SELECTION_METRICS == ("fdr", "power")


def test_report_metrics_read_the_one_table():
    assert list(METRICS) == list(METRIC_INFO)
    for name, info in METRIC_INFO.items():
        m = metric(name)
        assert m.info is info and (m.lo, m.hi) == (info.low, info.high)
    assert metric("fdr").direction == "lower is better" and metric("fdr").sign == -1.0
    assert metric("spearman").direction == "higher is better" and metric("spearman").sign == 1.0
    assert COSTS["seconds"].lo == 0.0 and COSTS["seconds"].hi == np.inf and not COSTS["seconds"].higher_is_better
    assert "seconds" not in METRIC_INFO  # a cost is not a score


@pytest.mark.parametrize("old, new, names", [
    ("varbench.selection", "varbench.methods.base", ["Selection", "as_selection", "benjamini_hochberg", "Q"]),
    ("varbench.selection", "varbench.scoring.selection", ["fdr_power", "score_selection_result", "TRACK"]),
    ("varbench.interactions", "varbench.methods.base", ["Interactions", "as_interactions"]),
    ("varbench.interactions", "varbench.datasets.interactions", ["pair_matrix", "upper_pairs"]),
    ("varbench.interactions.scoring", "varbench.scoring.interactions", ["score_interactions", "INTERACTION_METRICS"]),
    ("varbench.scoring", "varbench.rank_stats", ["auroc", "average_precision", "spearman", "rowwise_spearman"]),
])
def test_old_import_paths_name_the_same_objects(old, new, names):
    a, b = importlib.import_module(old), importlib.import_module(new)
    for name in names:
        assert getattr(a, name) is getattr(b, name), (old, name)


def test_interaction_method_targets_resolve_to_the_methods_layer():
    targets = [yaml.safe_load(p.read_text())["_target_"] for p in sorted(CONF.glob("inter_*.yaml"))]
    assert len(targets) >= 7
    for target in targets:
        module, name = target.rsplit(".", 1)
        fn = getattr(importlib.import_module(module), name)
        assert fn.__module__ == "varbench.methods.interactions", target


def _data(known=True):
    truth = GroundTruth(np.array([3.0, 2.0, 1.0, 0.0]), np.array([True, True, True, False]), "planted", known=known)
    return type("D", (), {"truth": truth, "groups": None})()


def test_score_importance_result_collects_every_score_of_one_run():
    att = Attribution(importance=np.array([0.9, 0.5, 0.0, 0.2]), extras={"delta": 0.25},
                      replicates=np.array([[1.0, 0.4, 0.1, 0.2], [0.8, 0.6, -0.1, 0.2]]))
    mine = np.array([1.0, 2.0, 3.0, 4.0])  # the model's own truth: reversed order, Spearman -0.8
    metrics, tags, imp = score_importance_result(att, _data(), None, {"model_spearman": mine, "short": np.ones(2)})
    assert metrics["spearman"] == pytest.approx(0.8) and metrics["topk_recall"] == pytest.approx(2 / 3)
    assert metrics["irrelevant_share"] == pytest.approx(0.2 / 1.6)
    assert metrics["model_spearman"] == pytest.approx(-0.8) and "short" not in metrics  # wrong length: skipped
    assert metrics["extra_delta"] == 0.25 and tags["status"] == "ok" and tags["score_status"] == "ok"
    assert tags["aggregation"] == "global" and imp.tolist() == [0.9, 0.5, 0.0, 0.2]
    # two replicates: standard error |a - b| / 2 per variable
    assert np.allclose(np.array(json.loads(tags["importance_std"])), [0.1, 0.1, 0.1, 0.0])


def test_score_importance_result_without_a_data_truth_scores_the_model_truth_only():
    att = Attribution(importance=np.array([0.9, 0.5, 0.0, 0.2]))
    metrics, tags, _ = score_importance_result(att, _data(known=False), None, {"model_spearman": np.arange(4.0)})
    assert set(metrics) == {"model_spearman"} and tags["score_status"].startswith("no data truth")
    assert "importance_std" not in tags


@pytest.mark.parametrize("module", ["varbench.scoring.table", "varbench.scoring.importance",
                                    "varbench.scoring.interactions", "varbench.scoring.selection", "varbench.tag_json",
                                    "varbench.methods.variables", "varbench.datasets.interactions"])
def test_docstring_examples_run(module):
    import doctest

    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0
