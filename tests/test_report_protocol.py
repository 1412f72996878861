"""The frozen leaderboard protocol (varbench.report.protocol) on hand-built run tables (no training,
no MLflow): design selection, held-out parts, Kendall tau, and the protocol file's checks."""
import itertools

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats as sps

from varbench.paths import conf_dir
from varbench.report.protocol import kendall, load_protocol, protocol_leaderboard, protocol_markdown

LEVEL = {"a": 0.9, "b": 0.6, "c": 0.3}                 # in-sample order a > b > c


def runs_of(study, datasets, seeds, level, rng):
    rows = []
    for d, s in itertools.product(datasets, seeds):
        for m, v in level.items():
            rows.append({"study": study, "dataset": d, "model": "mlp", "seed": s, "method": m, "status": "ok",
                         "spearman": v + rng.normal(0, 0.01), "seconds": 0.1, "n_model_evals": 10.0,
                         "quality_r2": 0.9, "run_id": f"{study}/{d}/{s}/{m}"})
    return rows


@pytest.fixture
def protocol(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({
        "name": "toy-v1", "version": 1, "metric": "spearman", "model": "mlp", "methods": "fast",
        "in_sample": {"study": "toy", "datasets": ["d1", "d2", "d3"], "seeds": [0, 1]},
        "held_out": {"study": "toy_heldout", "seeds": [100, 101], "generators": ["g1", "g2", "g3"]},
        "run": ["varbench +experiment=toy", "varbench +experiment=toy_heldout"]}))
    return load_protocol(path)


def test_parts_are_ranked_and_tau_compares_them(protocol):
    rng = np.random.default_rng(0)
    rows = runs_of("toy", ["d1", "d2", "d3"], [0, 1], LEVEL, rng)
    rows += runs_of("toy", ["d1", "d2", "d3"], [7], {"a": 0.0, "b": 1.0, "c": 0.5}, rng)       # outside the design
    rows += runs_of("toy_heldout", ["d1", "d2", "d3"], [100, 101], LEVEL, rng)
    rows += runs_of("toy_heldout", ["g1", "g2", "g3"], [100, 101], {"a": 0.9, "b": 0.3, "c": 0.6}, rng)
    lb = protocol_leaderboard(pd.DataFrame(rows), None, protocol)
    st = lb.stability.set_index("part")
    assert list(st["cells_found"]) == [6, 6, 6]                       # seed 7 is not in the design
    assert list(lb.board["method"]) == ["a", "b", "c"]
    assert st.loc["held-out seeds", "kendall_tau"] == pytest.approx(1.0)
    # generators swap b and c: 2 concordant pairs, 1 discordant -> tau = 1/3
    assert st.loc["held-out generators", "kendall_tau"] == pytest.approx(1 / 3)
    assert lb.board.set_index("method").loc["c", "mean_rank (held-out generators)"] == pytest.approx(2.0)
    text = protocol_markdown(lb, "toy store")
    assert text.startswith("# varbench leaderboard: protocol toy-v1 (version 1)")
    assert "Kendall tau = 0.333" in text and "6 of the design's 6 cells" in text


def test_the_page_is_inert_markdown(protocol):
    """A hostile source (a --uri) or method name shows as text, never as HTML or a link."""
    rows = runs_of("toy", ["d1", "d2", "d3"], [0, 1], {"a": 0.9, "<img src=x onerror=alert(1)>": 0.5},
                   np.random.default_rng(3))
    text = protocol_markdown(protocol_leaderboard(pd.DataFrame(rows), None, protocol), "<script>x</script> store")
    assert "<script" not in text and "<img" not in text and "&lt;script>" in text


def test_missing_held_out_parts_say_not_run_and_how(protocol):
    rows = runs_of("toy", ["d1", "d2", "d3"], [0, 1], LEVEL, np.random.default_rng(1))
    lb = protocol_leaderboard(pd.DataFrame(rows), None, protocol)
    assert lb.stability.set_index("part").loc["held-out seeds", "note"] == "not run"
    assert lb.board["mean_rank (held-out seeds)"].isna().all()
    text = protocol_markdown(lb, "toy store")
    assert "not run. Run `varbench +experiment=toy`; `varbench +experiment=toy_heldout`" in text
    with pytest.raises(ValueError, match="no method runs of the protocol's in-sample design"):
        protocol_leaderboard(pd.DataFrame(runs_of("other", ["d1"], [0], LEVEL, np.random.default_rng(2))), None,
                             protocol)


def test_kendall_is_scipys_tau_b_over_common_methods():
    a = pd.Series({"x": 1.0, "y": 2.0, "z": 3.0, "w": 4.0})
    b = pd.Series({"z": 1.5, "x": 1.0, "y": 2.5, "v": 9.0})
    tau, p, n = kendall(a, b)
    ref = sps.kendalltau([1, 2, 3], [1.0, 2.5, 1.5])
    assert n == 3 and tau == pytest.approx(ref.statistic) and p == pytest.approx(ref.pvalue)


def _sweep(name):
    params = yaml.safe_load((conf_dir() / "experiment" / f"{name}.yaml").read_text())["hydra"]["sweeper"]["params"]
    return params["dataset"].split(","), params["seed"]


def test_v1_is_the_standard_experiments_design():
    p = load_protocol("v1")
    ins, seeds, gens = p.parts["in-sample"], p.parts["held-out seeds"], p.parts["held-out generators"]
    datasets, seed_range = _sweep("standard")
    assert list(ins.datasets) == datasets and seed_range == f"range({len(ins.seeds)})" and ins.seeds == (0, 1, 2, 3, 4)
    held, held_range = _sweep("standard_heldout")
    assert held == list(seeds.datasets) + list(gens.datasets)
    assert held_range == f"range({seeds.seeds[0]},{seeds.seeds[-1] + 1})"
    assert all((conf_dir() / "dataset" / f"{d}.yaml").is_file() for d in held)
    frozen = yaml.safe_load((conf_dir() / "leaderboard" / "v1.yaml").read_text())["methods"]
    assert len(frozen) == 21 and "expected_gradients" not in frozen  # frozen before the fast suite grew
    for name in ("standard", "standard_heldout"):
        defaults = yaml.safe_load((conf_dir() / "experiment" / f"{name}.yaml").read_text())["defaults"]
        assert {"override /methods": frozen} in defaults, name


@pytest.mark.parametrize("change, message", [
    (lambda d: d["held_out"].update(seeds=[1, 100]), "overlaps the in-sample seeds"),
    (lambda d: d["held_out"].update(generators=["d1"]), "overlaps the in-sample datasets"),
    (lambda d: d.update(metric="nope"), "metric='nope' is invalid"),
    (lambda d: d["in_sample"].pop("seeds"), "`seeds` is missing"),
    (lambda d: d["in_sample"].update(seeds=[]), r"in_sample.seeds=\[\] is invalid"),
])
def test_a_bad_protocol_is_refused_in_one_line(protocol, tmp_path, change, message):
    raw = yaml.safe_load(protocol.source.read_text())
    change(raw)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(raw))
    with pytest.raises(ValueError, match=message):
        load_protocol(bad)
    with pytest.raises(ValueError, match="--protocol='v0' is invalid"):
        load_protocol("v0")


@pytest.mark.parametrize("dataset", ["friedman2", "xor"])
def test_the_held_out_experiment_composes_into_valid_cells(compose_cfg, dataset):
    from varbench.config import resolve_cell

    cfg = compose_cfg(["+experiment=standard_heldout", f"dataset={dataset}", "seed=100"])
    spec = resolve_cell(cfg, check_model=False)
    assert cfg.study == "standard_heldout" and len(spec.methods) == 21
    assert spec.dataset.truth is not None and (spec.dataset.truth.importance == 0).any()   # irrelevant_share defined
