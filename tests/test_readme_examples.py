"""The own-method and own-dataset examples of docs/own-methods.md, run as written (plus overrides that
make them fast, both in one run) from an empty directory: the files they show, then their command.
tests/test_docs.py runs every command of the page as printed too (marked slow)."""
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

PAGE = Path(__file__).resolve().parents[1] / "docs" / "own-methods.md"
FAST = ["seed=0", "trainer.epochs=3", "trainer.progress_every=0", "cache.dir=null", "model_truth.enabled=false"]


def blocks():
    """{file name from the block's first comment line: text} and the bash command lines."""
    files, commands = {}, []
    for lang, body in re.findall(r"```(\w+)\n(.*?)```", PAGE.read_text(), flags=re.S):
        first = body.splitlines()[0]
        m = re.match(r"#\s*(\S+\.(?:py|yaml))\b", first)
        if lang in ("python", "yaml") and m:
            files[m.group(1)] = body
        elif lang == "bash":
            commands += [line for line in body.splitlines() if line.startswith("PYTHONPATH=. varbench --config-dir")]
    return files, commands


def test_own_method_and_dataset_examples_run_as_written(tmp_path):
    files, commands = blocks()
    assert {"my_methods.py", "my_data.py", "my_conf/methods/abs_correlation.yaml",
            "my_conf/dataset/two_signals.yaml"} <= set(files)
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    (command,) = [c for c in commands if "dataset=two_signals" in c]
    env_part, *args = shlex.split(command)
    assert env_part == "PYTHONPATH=." and args[0] == "varbench"
    args = [*args[1:], "methods=[abs_correlation,permutation,random]", *FAST]  # both examples in one run
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    exe = Path(sys.executable).with_name("varbench")
    out = subprocess.run([str(exe), *args], cwd=tmp_path, env={**env, "PYTHONPATH": "."}, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "varbench: 1 cell(s), 3 method run(s)" in out.stdout and "abs_correlation" in out.stdout
    without = subprocess.run([str(exe), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert without.returncode == 2 and "No module named 'my_" in without.stderr  # why the page says it
