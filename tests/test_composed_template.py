"""Job configs made from a template (varbench.templated, through varbench.composed) against Hydra's own
composition of every job (`load_sweep_config`): equal in full, `hydra` node and resolver cache
included, and equal once the task part is resolved. The template path must be the one taken for
jobs that differ in value overrides only, and Hydra's full composition for any other override."""
import pytest
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import ConfigCompositionException
from hydra.types import RunMode
from omegaconf import OmegaConf, open_dict, read_write

from varbench import composed as composed_module
from varbench.composed import composed, forget, task_config
from varbench.paths import conf_dir
from varbench.pretrain import sweep_overrides

SEED_QUESTION = ["+experiment=seed_question", "dataset=linear,correlated_block", "model=mlp,mlp_wide", "seed=0,1,2"]


@pytest.fixture
def sweep():
    """sweep(args) -> (Hydra's config loader, the multirun's master config, every job's overrides)."""
    forget()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()

        def _sweep(args):
            master = loader.load_configuration("config", args, run_mode=RunMode.MULTIRUN)
            return loader, master, sweep_overrides(master)

        yield _sweep
    forget()


def _resolved_task(cfg):
    saved = HydraConfig.instance().cfg
    HydraConfig.instance().set_config(cfg)  # `${hydra:...}` resolves as in the job
    try:
        return OmegaConf.to_container(task_config(cfg), resolve=True)
    finally:
        HydraConfig.instance().cfg = saved


def _compare_every_job(loader, master, jobs, after_first=lambda: None):
    """Compose each job both ways, compare, then modify ours as the varbench launcher does;
    `after_first()` runs after the first job."""
    before = dict(composed_module.STATS)
    for num, overrides in enumerate(jobs):
        hydra = loader.load_sweep_config(master, list(overrides))
        ours = composed(loader, master, overrides)
        assert ours is not hydra
        assert OmegaConf.to_container(ours, resolve=False) == OmegaConf.to_container(hydra, resolve=False), overrides
        assert OmegaConf.get_cache(ours) == OmegaConf.get_cache(hydra), overrides
        assert _resolved_task(ours) == _resolved_task(hydra), overrides
        assert (OmegaConf.is_struct(ours), OmegaConf.is_readonly(ours.hydra)) == (
            OmegaConf.is_struct(hydra), OmegaConf.is_readonly(hydra.hydra))
        with read_write(ours.hydra), open_dict(ours.hydra):  # what the launcher sets: not seen by the next job
            ours.hydra.job.num = ours.hydra.job.id = num
        if num == 0:  # the master's resolver cache changes after the first template: later jobs copy it again
            OmegaConf.set_cache(master, {"now": {("%H-%M-%S",): "later"}})
            after_first()
    assert composed(loader, master, jobs[-1]) is ours  # kept for the launcher
    return {k: composed_module.STATS[k] - before[k] for k in before}


def test_seed_question_jobs_equal_hydra_and_one_composition_per_group_choice(sweep):
    loader, master, jobs = sweep([*SEED_QUESTION, "hydra.job.config.override_dirname.exclude_keys=[seed]"])
    assert len(jobs) == 12 and "seed=0" in jobs[0]
    assert composed_module.uses_launcher(master)
    # 2 datasets x 2 models composed once each; every job made from its template
    assert _compare_every_job(loader, master, jobs) == {"composed": 4, "templated": 12, "reused": 1}
    assert list(master.hydra.overrides.hydra) == ["hydra.job.config.override_dirname.exclude_keys=[seed]"]
    assert OmegaConf.get_cache(composed(loader, master, jobs[-1]))["now"] == {("%H-%M-%S",): "later"}


def test_trainer_value_sweep_is_templated_and_follows_cwd_and_environment(sweep, monkeypatch, tmp_path):
    monkeypatch.setenv("VARBENCH_TEMPLATE_TEST", "first")
    loader, master, jobs = sweep(["dataset=linear", "model=mlp", "trainer.epochs=3,4", "seed=5",
                                  "hydra.job.env_copy=[VARBENCH_TEMPLATE_TEST]"])
    assert len(jobs) == 2

    def move():  # Hydra reads both when it composes a job: the second job's differ from its template's
        monkeypatch.setenv("VARBENCH_TEMPLATE_TEST", "second")
        monkeypatch.chdir(tmp_path)

    assert _compare_every_job(loader, master, jobs, move) == {"composed": 1, "templated": 2, "reused": 1}
    second = composed(loader, master, jobs[1]).hydra
    assert second.job.env_set.VARBENCH_TEMPLATE_TEST == "second" and second.runtime.cwd == str(tmp_path)
    dirnames = [composed(loader, master, j).hydra.job.override_dirname for j in jobs]
    assert dirnames == ["dataset=linear,model=mlp,seed=5,trainer.epochs=3",
                        "dataset=linear,model=mlp,seed=5,trainer.epochs=4"]


def test_overrides_a_template_cannot_take_are_composed_in_full(sweep):
    # `+key=` adds and `~key` deletes: Hydra composes these jobs itself
    loader, master, jobs = sweep(["dataset=linear", "seed=0,1", "+foo=1", "~model_truth.rows"])
    assert _compare_every_job(loader, master, jobs) == {"composed": 2, "templated": 0, "reused": 1}
    assert "foo" in composed(loader, master, jobs[0]) and "rows" not in composed(loader, master, jobs[0]).model_truth


def test_an_unknown_key_fails_with_hydras_own_error(sweep):
    loader, master, jobs = sweep(["dataset=linear", "seed=0", "trainer.epochz=3,4"])  # a sweep: the master skips it
    for overrides in jobs:
        with pytest.raises(ConfigCompositionException) as hydra:
            loader.load_sweep_config(master, list(overrides))
        with pytest.raises(ConfigCompositionException) as ours:
            composed(loader, master, overrides)
        assert str(ours.value) == str(hydra.value) and "trainer.epochz" in str(ours.value)


def test_another_launcher_composes_every_job_in_full_and_keeps_none(sweep):
    loader, master, jobs = sweep(["dataset=linear", "seed=0,1", "hydra/launcher=basic"])
    before = dict(composed_module.STATS)
    configs = [composed(loader, master, j) for j in jobs]
    assert composed(loader, master, jobs[0]) is not configs[0]
    assert {k: composed_module.STATS[k] - before[k] for k in before} == {"composed": 3, "templated": 0, "reused": 0}


def test_a_changed_job_name_is_composed_in_full(sweep):
    from hydra.core.utils import JobRuntime

    loader, master, jobs = sweep(["dataset=linear", "seed=0,1"])
    name = JobRuntime.instance().get("name")
    try:
        # Hydra names a job from its runtime when the config names none: a template made under
        # another name is not used
        assert _compare_every_job(loader, master, jobs, lambda: JobRuntime.instance().set("name", "other")) == {
            "composed": 2, "templated": 1, "reused": 1}
        assert composed(loader, master, jobs[1]).hydra.job.name == "other"
    finally:
        JobRuntime.instance().set("name", name)
