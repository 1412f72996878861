"""The whole sweep is checked before its first job trains, in the default (MULTIRUN) mode:
every bad override is one line and exit 2, with no traceback and nothing in the tracking
store; config values never run code. These run the console entry point in-process (no
TensorFlow: nothing gets as far as training)."""
import contextlib
import io
import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import protect_pytest_streams
from test_fuzz import SETTINGS, invalid_case
from varbench import cli

ONE_JOB = ["hydra.sweeper.params.seed=0"]  # the default sweep, narrowed to one job (dataset=linear below)
BASE = ["dataset=linear", "methods=[permutation,lime,random]", "dataset.n_samples=120", "trainer.progress_every=0",
        "cache.dir=null"]


def run_cli(args, cwd):
    """`varbench ARGS` in-process from `cwd`: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    old_argv, old_cwd = sys.argv, os.getcwd()
    sys.argv = ["varbench", *args]
    os.chdir(cwd)
    code = 0
    protect_pytest_streams()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            cli.main()
    except SystemExit as exc:
        code = exc.code
    finally:
        sys.argv = old_argv
        os.chdir(old_cwd)
    return code, out.getvalue(), err.getvalue()


def assert_refused(code, out, err, cwd, *needles):
    lines = err.strip().splitlines()
    assert code == 2, (code, out, err)
    assert len(lines) == 1 and lines[0].startswith("varbench: config error: "), err
    assert "Traceback" not in out + err and "training" not in out
    assert not (Path(cwd) / "mlflow.db").exists() and not list(Path(cwd).glob("**/*.keras"))
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


N_BAD = 41  # CI's slow step; the default suite tries the first N_BAD_QUICK (each is a CLI run, ~1 s)
N_BAD_QUICK = 12


def _bad_overrides_refused(tmp_path_factory, data, n):
    """n distinct bad overrides (the fuzzer's invalid cases), each in the default mode."""
    tried = set()
    while len(tried) < n:
        overrides, key = data.draw(invalid_case())
        if tuple(overrides) in tried:
            continue
        tried.add(tuple(overrides))
        cwd = tmp_path_factory.mktemp("bad")
        code, out, err = run_cli([*ONE_JOB, *BASE, *overrides], cwd)
        assert_refused(code, out, err, cwd, key.lstrip("+"))
    print(f"\nsweep checks: {len(tried)} bad overrides in the default mode, each refused in one line, exit 2")


_SETTINGS = {**SETTINGS, "suppress_health_check": [*SETTINGS["suppress_health_check"], HealthCheck.large_base_example]}


@settings(max_examples=1, **_SETTINGS)
@given(st.data())
def test_bad_overrides_in_the_default_mode_are_one_line_exit_2(tmp_path_factory, data):
    _bad_overrides_refused(tmp_path_factory, data, N_BAD_QUICK)


@pytest.mark.slow
@settings(max_examples=1, **_SETTINGS)
@given(st.data())
def test_all_41_bad_overrides_in_the_default_mode_are_one_line_exit_2(tmp_path_factory, data):
    _bad_overrides_refused(tmp_path_factory, data, N_BAD)


def test_whole_default_sweep_refused_in_one_line(tmp_path):
    code, out, err = run_cli(["dataset.noise=-1"], tmp_path)
    assert_refused(code, out, err, tmp_path, "every job of 6: dataset.noise=-1 is invalid")


def test_one_bad_seed_refuses_the_sweep_before_any_training(tmp_path):
    code, out, err = run_cli(["-m", "dataset=linear", "seed=0,-1,1", "methods=[random]"], tmp_path)
    assert_refused(code, out, err, tmp_path, "job #1 (dataset=linear seed=-1 methods=[random]): seed=-1 is invalid")
    assert not (tmp_path / "outputs").exists() or not list((tmp_path / "outputs").glob("**/*.log"))


def test_several_bad_jobs_one_line_each(tmp_path):
    code, out, err = run_cli(["-m", "dataset=linear", "seed=0,-1", "dataset.noise=nan,0.1", "methods=[random]"],
                             tmp_path)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 2 and not (tmp_path / "mlflow.db").exists(), err
    assert "job #0 (dataset=linear seed=0 dataset.noise=nan methods=[random]): dataset.noise=nan is invalid" in lines[0]
    assert "jobs #2, #3 of 4: seed=-1 is invalid" in lines[1]  # job 2 has both faults: the first is reported


def test_method_parameter_values_checked_up_front(tmp_path):
    code, out, err = run_cli([*ONE_JOB, "methods=[occlusion]", "methods.occlusion.baseline=mode"], tmp_path)
    assert_refused(code, out, err, tmp_path, "methods.occlusion.baseline='mode' is invalid: expected one of "
                                             "('zero', 'mean', 'median') or a finite number")


@pytest.mark.parametrize("value", [
    "{_target_:shutil.copyfile,src:SRC,dst:DST}",
    "{_target_:builtins.open,file:DST,mode:w}",
    "[1,{_target_:os.makedirs,name:DST}]",
    "{_partial_:true,_target_:os.makedirs,name:DST}",
])
def test_nested_targets_are_values_never_called(tmp_path, value):
    src, dst = tmp_path / "src.txt", tmp_path / "created"
    src.write_text("x")
    value = value.replace("SRC", str(src)).replace("DST", str(dst))
    code, out, err = run_cli([*ONE_JOB, "methods=[permutation]", f"methods.permutation.n_repeats={value}"],
                             tmp_path)
    assert_refused(code, out, err, tmp_path, "methods.permutation.n_repeats", "config values never run code")
    assert not dst.exists()


def test_top_level_args_refused(tmp_path):
    code, out, err = run_cli([*ONE_JOB, "methods=[random]", "+methods.random._args_=[1]"], tmp_path)
    assert_refused(code, out, err, tmp_path, "methods.random._args_=[1] is invalid")


def test_unknown_names_list_the_options(tmp_path):
    code, out, err = run_cli(["methods=[permutaton]"], tmp_path)
    assert_refused(code, out, err, tmp_path, "Could not load 'methods/permutaton'", "permutation,", "seed_answers")
    code, out, err = run_cli(["model=mlpp"], tmp_path)
    assert_refused(code, out, err, tmp_path, "available options in 'model': ft_transformer, mlp, mlp_deep")


def test_yaml_syntax_error_in_a_user_config_dir(tmp_path):
    (tmp_path / "uc" / "methods").mkdir(parents=True)
    (tmp_path / "uc" / "methods" / "mine.yaml").write_text("defaults:\n  - /method@r: random\nfoo: : bar\n")
    code, out, err = run_cli(["--config-dir", str(tmp_path / "uc"), "methods=mine"], tmp_path)
    assert_refused(code, out, err, tmp_path, "mapping values are not allowed here", "mine.yaml")


def test_debug_switch_shows_the_traceback(tmp_path):
    with pytest.raises(Exception, match="Could not load 'methods/permutaton'"):
        run_cli(["--debug", "methods=[permutaton]"], tmp_path)
    code, _, err = run_cli(["methods=[permutaton]"], tmp_path)  # and the next call is quiet again
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_help_names_the_subcommands(tmp_path):
    code, out, err = run_cli(["--help"], tmp_path)
    assert code == 0
    assert "varbench report" in out and "varbench bench" in out and "--debug" in out
    assert "== Config groups ==" in out or "Compose your configuration" in out  # Hydra's part follows


def test_report_on_a_mistyped_store_is_an_error_and_creates_nothing(tmp_path):
    code, out, err = run_cli(["report", "--uri", f"sqlite:///{tmp_path}/typo.db"], tmp_path)
    assert code == 2 and "no tracking store at" in err and not (tmp_path / "typo.db").exists()
