"""Smoke tests of the benchmark machinery (varbench.bench) at tiny sizes. No timing is asserted:
the report must have every row, every number in it finite and positive, every documented
bench.json key present, and every comparison within its tolerance."""
from __future__ import annotations

import importlib.util
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from varbench import bench
from varbench.bench import peers, shap_peers

ROWS = {  # summary row prefix -> the peer module it needs (None: no peer)
    "training (fit": "keras",
    "training: keras fit with steps_per_execution": "keras",
    "training: trainer.engine=single": "keras",
    "stacked training: 8 models": "keras",
    "stacked training: 32 models": "keras",
    "permutation importance, as called": "sklearn",
    "permutation importance, same engine": "sklearn",
    "KernelSHAP (40 coalitions), as called": "shap",
    "KernelSHAP (40 coalitions), same engine": "shap",
    "KernelSHAP exact": "shap",
    "Expected Gradients (200 samples/row), as called": "shap",
    "Expected Gradients (200 samples/row), equal error": "shap",
    "DeepSHAP, as called": "shap",
    "LIME (60 samples/row), as called": "lime",
    "LIME (60 samples/row), same engine": "lime",
    "Integrated Gradients": None,
    "roofline share: sage": None,
    "reduced seed_question study": "keras",
    "study end to end: seed_question": None,
    "fresh tracking store from the template": "mlflow",
    "logging a method run in one transaction": None,
    "harness overhead per method run": None,
}
KEYS = ("training_vs_fit", "stacked_8_vs_1", "stacked_32_vs_1", "study_speedup", "study_full_speedup",
        "permutation_vs_sklearn_as_called",
        "permutation_vs_sklearn_same_engine", "kernel_shap_vs_shap_as_called", "kernel_shap_vs_shap_same_engine",
        "lime_vs_lime_as_called", "lime_vs_lime_same_engine", "expected_gradients_vs_shap_as_called",
        "expected_gradients_vs_shap_equal_error", "deep_shap_vs_shap_as_called", "deep_shap_vs_shap_equal_error",
        "store_create_seconds", "store_create_migration_seconds", "overhead_per_method_run_ms",
        "overhead_per_method_run_stepwise_ms", "logging_per_method_run_ms", "scoring_per_method_run_ms")
METHODS = ("permutation", "kernel_shap", "integrated_gradients", "lime", "sage")


def _cells(line: str) -> list[str]:
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def _number(text: str) -> float:
    return float(text.replace(",", "").rstrip("x"))


def _summary(report: str) -> dict[str, list[str]]:
    block = report.split("## Summary", 1)[1].split("## Misses", 1)[0]
    lines = [ln for ln in block.splitlines() if ln.startswith("|")]
    header = _cells(lines[0])
    assert header[:6] == ["benchmark", "varbench (s)", "peer", "peer (s)", "ratio or figure", "aim"]
    return {cells[0]: cells for cells in map(_cells, lines[2:])}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    result = bench.run(bench.TINY, out)
    assert (out / "performance.md").read_text() == result.text
    assert json.loads((out / "bench.json").read_text()) == result.figures
    return result


@pytest.fixture(scope="module")
def report(run):
    return run.text


def test_bench_json_has_every_documented_key_as_a_finite_number(run):
    figures = run.figures
    for key in KEYS:
        assert isinstance(figures[key], float) and math.isfinite(figures[key]) and figures[key] > 0, key
    for m in METHODS:  # a share of a peak measured at another moment: timing noise on a loaded
        # machine can push a tiny run past 1, so only its sign and finiteness are asserted here
        assert 0 < figures[f"roofline_share_{m}"] and math.isfinite(figures[f"roofline_share_{m}"]), m
    assert run.disagreements == []
    assert figures["study_cells"] == 2 and figures["permutation_vs_sklearn_same_engine_agrees"] == 1.0


def test_docs_document_every_bench_json_key(run):
    readme = (Path(__file__).resolve().parents[1] / "docs" / "performance.md").read_text()
    missing = [k for k in run.figures if f"`{k}`" not in readme]
    assert not missing, missing


def test_tiny_run_reports_every_row_with_finite_positive_numbers(report):
    rows = _summary(report)
    for prefix, peer in ROWS.items():
        match = [name for name in rows if name.startswith(prefix)]
        assert len(match) == 1, (prefix, list(rows))
        cells = rows[match[0]]
        status = cells[6]
        assert _number(cells[1]) > 0 and math.isfinite(_number(cells[1]))
        if prefix.startswith(("stacked", "reduced", "roofline", "harness overhead", "study end to end")):  # an aim
            assert status in (bench.MET, bench.NOT_MET), cells
            assert cells[5].startswith("<= " if prefix.startswith(("stacked", "harness")) else ">= "), cells
        elif peer is None:
            assert status == bench.INFO, cells
        if peer is None:
            continue
        if importlib.util.find_spec(peer) is None:
            assert status == bench.NOT_RUN
            continue
        assert status in (bench.MET, bench.NOT_MET, bench.INFO), cells
        for col in (3, 4):  # peer seconds, ratio
            value = _number(cells[col])
            assert math.isfinite(value) and value > 0, cells


def test_tiny_run_has_every_section_with_numbers(report):
    for title in ("## Training", "## Stacked training", "## Roofline share of the batched methods", "## Memory",
                  "## Tracking store and logging", "## Study throughput", "## Study end to end (CLI)", "## Where the time goes", "## Disagreements", "## Misses",
                  "## Default study and methods=all"):
        assert title in report
    if importlib.util.find_spec("sklearn"):
        assert "## Permutation importance" in report
    training = report.split("## Training", 1)[1].split("## ", 1)[0]
    flop = re.search(r"varbench ([\d.]+) GFLOP/s = ([\d.]+)% of peak", training)
    assert flop and float(flop.group(2)) > 0
    memory = report.split("## Memory", 1)[1].split("## ", 1)[0]
    mem_rows = [_cells(ln) for ln in memory.splitlines() if ln.startswith("| ") and "MiB" not in ln]
    assert len(mem_rows) >= 8  # two methods x two row counts x two chunk sizes
    for cells in mem_rows:
        assert _number(cells[3]) >= 0 and math.isfinite(_number(cells[3]))
    profile = report.split("## Where the time goes", 1)[1]
    total = re.search(r"\| run_cell \(whole cell\) \| ([\d.,]+) \|", profile)
    assert total and _number(total.group(1)) > 0


@pytest.mark.parametrize("ratio,target,expected", [
    (6.0, 5.0, bench.MET), (5.0, 5.0, bench.MET), (4.9, 5.0, bench.NOT_MET), (3.0, None, bench.INFO),
    (None, 5.0, bench.NOT_RUN), (float("nan"), 5.0, bench.NOT_RUN)])
def test_verdict(ratio, target, expected):
    assert bench.verdict(ratio, target) == expected


def test_verdict_of_a_maximum_and_its_miss_line():
    assert bench.verdict(1.4, 1.5, at_most=True) == bench.MET
    assert bench.verdict(1.6, 1.5, at_most=True) == bench.NOT_MET
    res = bench.Result("stack", 3.0, "one", 1.0, 1.5, "ok", bench.verdict(3.0, 1.5, at_most=True),
                       figure=3.0, at_most=True)
    text = bench.render([bench.Section("S", [res], "body")], bench.TINY, 1.0, "0", "0")
    assert "**stack**: 3.0x against <= 1.5x, short by a factor of 2.00." in text
    share = bench.Result("share", 1.0, target=0.25, status=bench.verdict(0.1, 0.25), figure=0.1, unit="")
    text = bench.render([bench.Section("S", [share], "body")], bench.TINY, 1.0, "0", "0")
    assert "**share**: 0.10 against >= 0.25, short by a factor of 2.50." in text


def test_side_by_side_interleaves_and_alternates_order():
    calls = []
    times, outs = bench.side_by_side({"a": lambda r: calls.append(("a", r)) or r,
                                      "b": lambda r: calls.append(("b", r)) or 10 * r}, 3)
    assert calls == [("a", 0), ("b", 0), ("b", 1), ("a", 1), ("a", 2), ("b", 2)]
    assert outs == {"a": [0, 1, 2], "b": [0, 10, 20]}
    assert all(len(v) == 3 and min(v) >= 0 for v in times.values())


def test_result_ratio_and_render_lists_misses():
    res = bench.Result("x", 2.0, "peer", 6.0, 5.0, "ok", bench.verdict(3.0, 5.0), "because")
    assert res.ratio == pytest.approx(3.0)
    text = bench.render([bench.Section("S", [res], "body")], bench.TINY, 1.0, "0", "0")
    assert "**x**: 3.0x against >= 5x, short by a factor of 1.67. because" in text
    bad = bench.Result("y", 1.0, "peer", 1.0, None, "off by 9%", bench.DISAGREE)
    text = bench.render([bench.Section("S", [bad], "body")], bench.TINY, 1.0, "0", "0")
    assert "## Disagreements\n\n- **y**: off by 9%" in text
    assert "## S\n\nbody" in text
    assert "{" not in text.split("## Summary")[0], "an unformatted placeholder in the header"


def test_missing_peer_is_reported_not_run(monkeypatch):
    monkeypatch.setattr(peers, "_available", lambda module: f"{module} is not importable (test)")
    ctx = bench.Context(sizes=bench.TINY, data=None, big=None)
    for section in (bench.bench_kernel_shap, bench.bench_lime, bench.bench_permutation):
        (res,) = section(ctx).results
        assert res.status == bench.NOT_RUN and "not importable (test)" in res.why


def test_missing_shap_reports_every_shap_explainer_not_run(monkeypatch):
    monkeypatch.setattr(shap_peers, "_available", lambda module: f"{module} is not importable (test)")
    results = bench.bench_shap_explainers(bench.Context(sizes=bench.TINY, data=None, big=None)).results
    assert len(results) == 3 and all(r.status == bench.NOT_RUN and "not importable (test)" in r.why for r in results)


def test_time_at_error_interpolates_in_log_log_and_says_when_it_cannot():
    # error = 1 / sqrt(time): the time to reach error e is exactly 1 / e^2 between the bracketing points
    times = [1.0, 4.0, 16.0, 64.0]
    errors = [1 / np.sqrt(t) for t in times]
    t, how = shap_peers.time_at_error([10, 20, 30, 40], errors, times, 1 / np.sqrt(10.0))
    assert how == "interpolated" and t == pytest.approx(10.0)
    assert shap_peers.time_at_error([1, 2], [0.2, 0.1], [1.0, 2.0], 0.5) == (1.0, "at most")
    assert shap_peers.time_at_error([1, 2], [0.2, 0.1], [1.0, 2.0], 0.05) == (None, "not reached")
    # budgets are read in budget order, whatever order they are given in
    assert shap_peers.time_at_error([40, 30, 20, 10], errors[::-1], times[::-1], 0.5)[0] == pytest.approx(4.0)


def test_sizes_validation():
    with pytest.raises(ValueError, match="shap_coalitions=3 is invalid"):
        bench.Sizes(shap_coalitions=3)
    with pytest.raises(ValueError, match="epochs=0 is invalid"):
        bench.Sizes(epochs=0)


def test_main_parses_arguments_and_fails_on_disagreement(monkeypatch, tmp_path, capsys):
    seen = {}
    disagreements: list[str] = []

    def fake_run(sizes, out, write_results=False):
        seen.update(sizes=sizes, out=out, write_results=write_results)
        return bench.Report("# P\n\n## Summary\n\n| a |\n\n## Misses\n", {}, disagreements)

    monkeypatch.setattr(bench, "run", fake_run)
    monkeypatch.chdir(tmp_path)
    assert bench.main(["--quick", "--out", "q"]) == 0
    assert (seen["sizes"], seen["out"].path, seen["write_results"]) == (bench.QUICK, Path("q"), False)
    assert bench.main([]) == 0 and (seen["sizes"], seen["out"].path) == (bench.FULL, Path("outputs/bench"))
    (tmp_path / "mine.txt").write_text("mine")                   # a folder with the user's files: refused, run not called
    seen.clear()
    assert bench.main(["--out", "."]) == 2 and not seen and "--force" in capsys.readouterr().err
    assert bench.main(["--write-results"]) == 0 and seen["write_results"] is True
    with pytest.raises(SystemExit):
        bench.main(["--quick", "--write-results"])  # the committed results are full mode only
    assert "| a |" in capsys.readouterr().out
    disagreements.append("x: off")
    assert bench.main([]) == 1 and "DISAGREES: x: off" in capsys.readouterr().err


def test_peak_bytes_sees_numpy_allocations():
    small = bench.peak_bytes(lambda: np.ones(1000))
    big = bench.peak_bytes(lambda: np.ones(1_000_000))
    assert big >= 8_000_000 > small


def test_docs_speed_figures_are_quoted_from_the_committed_results():
    root = Path(__file__).resolve().parents[1]
    readme = (root / "docs" / "performance.md").read_text()
    section = readme.split("# Performance", 1)[1].split("`bench.json` is one flat object", 1)[0]
    committed = (root / "results" / "performance.md").read_text()
    figures = re.findall(r"\b\d[\d,]*\.\d+x?\b", section)
    assert len(figures) >= 10
    missing = [f for f in figures if f not in committed]
    assert not missing, missing


def test_readme_speed_figures_are_quoted_from_the_committed_results():
    root = Path(__file__).resolve().parents[1]
    speed = (root / "README.md").read_text().split("- **Speed", 1)[1].split("\n- **", 1)[0]
    committed = (root / "results" / "performance.md").read_text()
    figures = re.findall(r"\b\d[\d,]*\.\d+x?\b", speed)
    assert len(figures) >= 5
    missing = [f for f in figures if f not in committed]
    assert not missing, missing
    for key in ("study_full_speedup", "overhead_per_method_run_ms", "store_create_seconds", "_equal_error"):
        assert key in speed, key


def test_study_profile_parts_are_disjoint_and_add_up_to_the_total():
    """The parts of a profiled study: nested timers subtracted, the methods' own seconds split from
    their runs' scoring and logging, the remainder the one-time start-up."""
    from varbench.bench.study_profile import PRETRAIN_REST, parts

    def entry(path, name, cum, callers=None):
        return (path, 1, name), (1, 1, 0.0, cum, callers or {})

    stats = dict([entry("hydra/_internal/config_loader_impl.py", "load_sweep_config", 4.0),
                  entry("varbench/sweep.py", "check_composed", 2.0),
                  entry("varbench/callbacks.py", "open_store", 1.0),
                  entry("varbench/models/stacked.py", "train_stacked", 3.0,
                        {("varbench/pretrain.py", 70, "pretrain"): (1, 1, 0.0, 3.0)}),
                  entry("varbench/pretrain.py", "model_truths", 2.0,
                        {("varbench/pretrain.py", 70, "pretrain"): (1, 1, 0.0, 2.0)}),
                  entry("varbench/pretrain.py", "on_multirun_start", 6.0),
                  entry("varbench/batch.py", "before", 0.5),
                  entry("varbench/config.py", "resolve_cell", 1.5,
                        {("varbench/harness/cell.py", 45, "run_cell"): (1, 1, 0.0, 1.0),
                         ("varbench/sweep.py", 59, "check_composed"): (1, 1, 0.0, 0.5)}),
                  entry("varbench/harness/training.py", "train_cell_model", 0.5),
                  entry("varbench/harness/model_truth.py", "log_model_truth", 0.25),
                  entry("varbench/harness/method_run.py", "run_method", 5.0),
                  entry("varbench/harness/cell.py", "run_cell", 7.0)])
    out = dict(parts(stats, 30.0, {"kernel_shap": 2.0, "sage": 1.0, "lime": 0.5, "random": 0.25}))
    assert out[PRETRAIN_REST] == 1.0  # 6 - 3 - 2
    assert out["cell: config resolved, data generated"] == 1.0  # only the calls from run_cell
    assert out["cell: method kernel_shap (its own seconds)"] == 2.0
    assert out["cell: the other 2 methods (their own seconds)"] == 0.75
    assert out["cell: scoring, truth-free metrics, logging of method runs"] == 1.25  # 5 - 3.75
    assert out["cell: claims, runs opened and closed, resume"] == 0.25  # 7 - (1 + 0.5 + 0.25) - 5
    assert sum(out.values()) == pytest.approx(30.0) and out["start-up, imports, Hydra set-up, summary (once)"] > 0


@pytest.mark.slow
def test_study_profile_of_a_tiny_study_splits_its_cells_time():
    """The profiled console run end to end (a subprocess under cProfile) at tiny sizes."""
    import dataclasses

    sizes = dataclasses.replace(bench.TINY, study_profile=True)
    section = bench.bench_study_profile(bench.Context(sizes=sizes, data=None, big=None))
    assert section.figures["study_profile_cells"] == 2 and section.figures["study_profile_seconds"] > 0
    rows = {_cells(ln)[0]: _cells(ln) for ln in section.body.splitlines() if ln.startswith("| ")}
    assert _number(rows["Hydra composition"][1]) > 0 and any(k.startswith("cell: method ") for k in rows)
    assert _number(rows["total"][1]) == pytest.approx(section.figures["study_profile_seconds"], rel=0.01)
