"""The harness package (varbench/harness/, one module per job of the cell runner): its result-kind
table follows the documented recognition rule, stores each payload as the tracking contract says,
and `varbench.runner` still exports the same objects under the old paths."""
import doctest
import json

import numpy as np
import pytest

import varbench.runner
from varbench.harness import cell, method_run, model_truth, quality, result_kinds, resume
from varbench.harness.result_kinds import IMPORTANCE, INTERACTIONS, SELECTION, declared_kind, kind_of
from varbench.interactions import Interactions
from varbench.methods.base import Attribution, Selection
from varbench.registry import MethodMeta


@pytest.mark.parametrize("module", [varbench.runner, method_run, model_truth, quality, result_kinds])
def test_docstring_examples_run(module):
    assert doctest.testmod(module).failed == 0


def test_the_old_import_paths_name_the_harness_objects():
    assert varbench.runner.run_cell is cell.run_cell and varbench.runner.CellResult is cell.CellResult
    assert varbench.runner.run_method is method_run.run_method and varbench.runner.method_rng is method_run.method_rng
    assert varbench.runner.Previous is resume.Previous
    assert varbench.runner.cached_model_truth is model_truth.cached_model_truth
    assert varbench.runner.MODEL_TRUTHS is model_truth.MODEL_TRUTHS
    # the MLflow `kind` tag of each track: the store's contract (docs' tracking contract), written out
    assert varbench.runner.RUN_KINDS == {"main": "method", "interactions": "interaction", "selection": "selection"}


A, S, I = Attribution(importance=np.ones(3)), Selection(selected=np.array([True, False, True])), \
    Interactions(matrix=np.zeros((3, 3)))


@pytest.mark.parametrize("returns,raw,track", [
    # declared kind, whatever the result is (a malformed one then fails in that kind's scorer) ...
    ("importance", np.ones(3), "main"), ("importance", A, "main"),
    ("selection", np.ones(3), "selection"), ("interactions", np.ones((3, 3)), "interactions"),
    ("interactions", S, "interactions"),
    # ... except that a result of a track's type goes to that track, interactions first
    ("importance", I, "interactions"), ("importance", S, "selection"), ("selection", I, "interactions"),
])
def test_a_result_is_scored_as_declared_unless_its_type_names_a_track(returns, raw, track):
    assert kind_of(raw, declared_kind(MethodMeta(returns=returns))).track == track


def test_every_returns_value_of_the_registry_has_a_kind():
    from varbench.registry import RETURNS

    assert {declared_kind(MethodMeta(returns=r)).returns for r in RETURNS} == set(RETURNS)
    assert {IMPORTANCE.returns, INTERACTIONS.returns, SELECTION.returns} == set(RETURNS)


def test_payloads_are_stored_as_tags_and_artifacts_at_the_tag_limit(monkeypatch):
    monkeypatch.setattr(result_kinds, "MAX_TAG", 30)  # the 2x2 matrix's text (24 characters) fits
    short, long = np.array([0.5, 0.25]), np.arange(10.0)
    tags, artifact = IMPORTANCE.store(short)
    assert json.loads(tags["importance"]) == [0.5, 0.25] and artifact is None
    tags, artifact = IMPORTANCE.store(long)  # the tag is kept (the store cuts it), the whole vector beside it
    assert artifact == (tags["importance"], "importance.json") and json.loads(artifact[0]) == list(long)
    monkeypatch.setattr(result_kinds, "MAX_TAG", len(tags["importance"]))  # exactly at the limit: a tag only
    assert IMPORTANCE.store(long)[1] is None
    monkeypatch.setattr(result_kinds, "MAX_TAG", 30)
    tags, artifact = INTERACTIONS.store(np.zeros((2, 2)))
    assert json.loads(tags["interactions"]) == [[0, 0], [0, 0]] and artifact is None
    tags, artifact = INTERACTIONS.store(np.eye(4))  # too long for a tag: an artifact only
    assert tags == {} and artifact[1] == "interactions.json" and json.loads(artifact[0]) == np.eye(4).tolist()
    assert SELECTION.store(np.array([1.0, 0.0])) == ({}, None)


def test_quality_threshold_rule():
    assert quality.headline({"accuracy": 0.9, "auc": 0.8}) == 0.8  # classification: AUC, not accuracy
    assert quality.is_low({"r2": 0.7}, 0.7) is False and quality.is_low({"r2": 0.69}, 0.7) is True
    assert quality.is_low({"accuracy": 0.99}, 0.5) is True  # no headline known: below any threshold
