"""Smoke tests of the benchmark machinery (varbench.bench) at tiny sizes. No timing is asserted:
the report must have every row, and every number in it must be finite and positive."""
from __future__ import annotations

import importlib.util
import math
import re

import numpy as np
import pytest

from varbench import bench

ROWS = {  # summary row prefix -> the peer module it needs (None: no peer)
    "training (fit": "keras",
    "training: keras fit with steps_per_execution": "keras",
    "permutation importance": "sklearn",
    "KernelSHAP (": "shap",
    "KernelSHAP exact": "shap",
    "LIME (": "lime",
    "Integrated Gradients": None,
}


def _cells(line: str) -> list[str]:
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def _number(text: str) -> float:
    return float(text.replace(",", "").rstrip("x"))


def _summary(report: str) -> dict[str, list[str]]:
    block = report.split("## Summary", 1)[1].split("## Misses", 1)[0]
    lines = [ln for ln in block.splitlines() if ln.startswith("|")]
    header = _cells(lines[0])
    assert header[:5] == ["benchmark", "varbench (s)", "peer", "peer (s)", "ratio"]
    return {cells[0]: cells for cells in map(_cells, lines[2:])}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "performance.md"
    text = bench.run(bench.TINY, out)
    assert out.read_text() == text
    return text


def test_tiny_run_reports_every_row_with_finite_positive_numbers(report):
    rows = _summary(report)
    for prefix, peer in ROWS.items():
        match = [name for name in rows if name.startswith(prefix)]
        assert len(match) == 1, (prefix, list(rows))
        cells = rows[match[0]]
        status = cells[6]
        assert _number(cells[1]) > 0 and math.isfinite(_number(cells[1]))
        if peer is None:
            assert status == bench.INFO
            continue
        if importlib.util.find_spec(peer) is None:
            assert status == bench.NOT_RUN
            continue
        assert status in (bench.MET, bench.NOT_MET, bench.INFO), cells
        for col in (3, 4):  # peer seconds, ratio
            value = _number(cells[col])
            assert math.isfinite(value) and value > 0, cells


def test_tiny_run_has_every_section_with_numbers(report):
    for title in ("## Training", "## Memory", "## Where the time goes", "## Misses",
                  "## Default study and methods=all"):
        assert title in report
    if importlib.util.find_spec("sklearn"):
        assert "## Permutation importance" in report
    training = report.split("## Training", 1)[1].split("## ", 1)[0]
    flop = re.search(r"achieves ([\d.]+) GFLOP/s = ([\d.]+)% of peak", training)
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
    assert "**x**: 3.0x against >= 5x, short by a factor of 1.67. Why: because." in text
    assert "## S\n\nbody" in text


def test_missing_peer_is_reported_not_run(monkeypatch):
    monkeypatch.setattr(bench.peers, "_available", lambda module: f"{module} is not importable (test)")
    ctx = bench.Context(sizes=bench.TINY, data=None, big=None)
    for section in (bench.bench_kernel_shap, bench.bench_lime, bench.bench_permutation):
        (res,) = section(ctx).results
        assert res.status == bench.NOT_RUN and "not importable (test)" in res.why


def test_sizes_validation():
    with pytest.raises(ValueError, match="shap_coalitions=3 is invalid"):
        bench.Sizes(shap_coalitions=3)
    with pytest.raises(ValueError, match="epochs=0 is invalid"):
        bench.Sizes(epochs=0)


def test_main_parses_arguments(monkeypatch, tmp_path, capsys):
    seen = {}

    def fake_run(sizes, out):
        seen.update(sizes=sizes, out=out)
        return "# P\n\n## Summary\n\n| a |\n\n## Misses\n"

    monkeypatch.setattr(bench, "run", fake_run)
    assert bench.main(["--quick", "--out", str(tmp_path / "p.md")]) == 0
    assert seen == {"sizes": bench.QUICK, "out": str(tmp_path / "p.md")}
    assert bench.main([]) == 0 and seen["sizes"] is bench.FULL and seen["out"] == "results/performance.md"
    assert "| a |" in capsys.readouterr().out


def test_peak_bytes_sees_numpy_allocations():
    small = bench.peak_bytes(lambda: np.ones(1000))
    big = bench.peak_bytes(lambda: np.ones(1_000_000))
    assert big >= 8_000_000 > small
