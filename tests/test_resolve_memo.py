"""A sweep run by the varbench launcher resolves each cell once (`varbench.config.remember_cells`):
the sweep check, pre-training and the job get the same spec; nothing is kept otherwise."""
from hydra import compose, initialize_config_dir

from varbench import config
from varbench.paths import conf_dir


def _cfg(*overrides):
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose("config", overrides=["dataset.n_samples=100", "methods=[random]", *overrides])


def test_a_remembered_cell_is_resolved_once_and_built_once_when_asked(monkeypatch):
    built = []
    real = config.check_model_builds
    monkeypatch.setattr(config, "check_model_builds", lambda build, data, *a: (built.append(1), real(build, data, *a)))
    a, b = _cfg("seed=1"), _cfg("seed=2")
    try:
        config.remember_cells()
        first = config.resolve_cell(a, check_model=False)
        assert config.resolve_cell(_cfg("seed=1"), check_model=False) is first  # an equal config: same spec
        assert config.resolve_cell(b, check_model=False) is not first
        assert config.resolve_cell(a, {"dataset": "lin"}, check_model=False) is not first  # other names
        assert built == []
        assert config.resolve_cell(a) is first and built == [1]  # the job's check builds the network once
        assert config.resolve_cell(a) is first and built == [1]
    finally:
        config.forget_cells()
    again = config.resolve_cell(a, check_model=False)
    assert again is not first and again.cell_hash == first.cell_hash
    assert (again.dataset.X_train == first.dataset.X_train).all()


def test_nothing_is_kept_unless_asked():
    a = _cfg("seed=1")
    assert config.resolve_cell(a, check_model=False) is not config.resolve_cell(a, check_model=False)


def test_a_refused_sweep_leaves_no_resolved_cells_behind(tmp_path):
    """The sweep check keeps what it resolves for the launcher; a sweep refused before it runs must
    not leave that memo on in the process (a later resolution would get a stale spec)."""
    from test_sweep_checks import run_cli

    code, _, err = run_cli(["-m", "dataset=linear", "seed=0,-1", "methods=[random]"], tmp_path)
    assert code == 2 and "seed=-1 is invalid" in err
    assert config._REMEMBERED is None


def test_checking_a_sweep_directly_keeps_nothing():
    """Only a multirun's own callback keeps resolved cells for its launcher; `check_sweep` called
    by itself (as a library, or a test) leaves no memo behind."""
    from hydra import compose, initialize_config_dir

    from varbench.sweep import check_sweep

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose("config", overrides=["dataset.n_samples=100", "methods=[random]",
                                           "hydra.sweeper.params.dataset=linear", "hydra.sweeper.params.seed='0,1'"],
                      return_hydra_config=True)
        jobs = check_sweep(cfg)
    assert len(jobs) == 2 and all(j.error is None for j in jobs)
    assert config._REMEMBERED is None
