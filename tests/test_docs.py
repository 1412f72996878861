"""Every code block of README.md and of the documentation site (docs/*.md and the pages
docs/gen_pages.py generates) is run or checked, none skipped silently:

- a `python`/`yaml` block whose first line names a file (`# my_data.py`) is written to the run's
  directory; other `python` blocks run in order, one namespace per page, in an empty directory;
- a `bash` block runs line by line there, a `varbench` training command with overrides that make
  it short (few epochs, no cache, no model truth);
- a block preceded by `<!-- docs-test: slow -->` runs the same way in the `slow` tests (it trains
  sweeps); one preceded by `<!-- docs-test: ci -->` must be, line for line, what `.ci/run` runs;
- a study page's commands (generated from experiments/*/README.md; they take minutes to hours)
  are checked: every script and experiment config they name exists;
- `text` blocks are output, not code; any other language fails the test.
The API's docstring examples run as doctests.
"""
from __future__ import annotations

import doctest
import importlib.util
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
LANGS = ("python", "bash", "yaml", "text")
FAST = {"trainer.epochs": "3", "trainer.progress_every": "0", "cache.dir": "null", "model_truth.enabled": "false"}
VALUE_FLAGS = ("--config-dir", "-cd", "--config-name", "-cn", "--config-path", "-cp")  # Hydra flags with a value
NOT_TRAINING = ("report", "advise", "bench")  # varbench subcommands that train nothing of their own
FENCE = re.compile(r"(?:<!-- docs-test: (\w+) -->\n)?^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)
FILE = re.compile(r"#\s*(\S+\.(?:py|yaml))\b")


def _generator():
    spec = importlib.util.spec_from_file_location("varbench_docs_gen_pages", DOCS / "gen_pages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GENERATED = {k: v for k, v in _generator().pages().items() if k.endswith(".md") and "files/" not in k}
HAND = {"README.md": (ROOT / "README.md").read_text(),
        **{str(p.relative_to(DOCS)): p.read_text() for p in sorted(DOCS.rglob("*.md"))}}


@dataclass(frozen=True)
class Block:
    page: str
    lang: str
    body: str
    mode: str  # file | run | slow | ci | study | text


def blocks(pages: dict[str, str], generated: bool = False) -> list[Block]:
    out = []
    for page, text in pages.items():
        for tag, lang, body in FENCE.findall(text):
            if lang == "text":
                mode = "text"
            elif generated and page.startswith("studies/"):
                mode = "study"
            elif lang in ("python", "yaml") and FILE.match(body.splitlines()[0]) and not tag:
                mode = "file"
            else:
                mode = tag or "run"
            out.append(Block(page, lang, body, mode))
    return out


ALL = blocks(HAND) + blocks(GENERATED, generated=True)


def _lines(body: str) -> list[str]:
    """Command lines of a bash block: continuations joined, blank and comment-only lines dropped."""
    return [line for line in body.replace("\\\n", " ").splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _command(line: str, tmp: Path) -> tuple[list[str], dict[str, str]]:
    """argv and environment of one bash line; a varbench training command made short."""
    words = shlex.split(line, comments=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    while "=" in words[0]:  # VAR=value prefixes
        key, value = words.pop(0).split("=", 1)
        env[key] = value
    if words[0] == "varbench":
        words[0] = str(Path(sys.executable).with_name("varbench"))
        if not set(words[1:2]) & set(NOT_TRAINING):
            given = {w.split("=", 1)[0]: i for i, w in enumerate(words) if "=" in w}
            for key, value in FAST.items():
                if key in given:
                    words[given[key]] = f"{key}={value}"
                else:  # with the overrides, after any leading flag (`varbench -m a=1`): argparse takes
                    # no overrides after a trailing -m, nor a second run of them after a flag
                    at = 1
                    while at < len(words) and words[at].startswith("-"):  # a flag, with its value if it takes one
                        at += 2 if words[at] in VALUE_FLAGS else 1
                    words.insert(min(at, len(words)), f"{key}={value}")
    elif words[0] == "python":
        words[0] = sys.executable
    return words, env


def _run_page(page: str, mode: str, tmp: Path) -> int:
    """Run a page's blocks of one mode in order in `tmp` (its file blocks written first)."""
    mine = [b for b in ALL if b.page == page]
    for b in mine:
        if b.mode == "file":
            name = FILE.match(b.body.splitlines()[0]).group(1)
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_text(b.body)
    namespace: dict = {"__name__": "__docs__"}
    ran = 0
    cwd = os.getcwd()
    os.chdir(tmp)
    try:
        for b in (b for b in mine if b.mode == mode):
            if b.lang == "python":
                exec(compile(b.body, f"{page} (python block)", "exec"), namespace)
            else:
                for line in _lines(b.body):
                    argv, env = _command(line, tmp)
                    out = subprocess.run(argv, cwd=tmp, env=env, capture_output=True, text=True, timeout=1800)
                    assert out.returncode == 0, f"{page}: {line}\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}"
            ran += 1
    finally:
        os.chdir(cwd)
    return ran


def _pages(mode: str) -> list[str]:
    return sorted({b.page for b in ALL if b.mode == mode})


def test_every_block_is_run_or_checked():
    assert {"index.md", "own-model.md", "own-data.md", "own-methods.md", "sweeps.md", "api.md"} <= set(HAND)
    wrong = [(b.page, b.lang, b.body[:60]) for b in ALL if b.lang not in LANGS]
    assert not wrong, f"code blocks need a language of {LANGS}: {wrong}"
    unknown = [(b.page, b.mode) for b in ALL if b.mode not in ("file", "run", "slow", "ci", "study", "text")]
    assert not unknown, unknown
    stray = [(b.page, b.body[:60]) for b in ALL if b.lang == "yaml" and b.mode != "file"]
    assert not stray, f"a yaml block must name the file it is (first line '# path.yaml'): {stray}"
    counted = {m: sum(b.mode == m for b in ALL) for m in ("run", "slow", "ci", "study", "file")}
    assert counted["run"] >= 2 and counted["slow"] >= 5 and counted["ci"] >= 3 and counted["study"] >= 7, counted


def test_ci_blocks_are_what_ci_runs():
    ci = set((ROOT / ".ci" / "run").read_text().splitlines())
    for b in (b for b in ALL if b.mode == "ci"):
        for line in _lines(b.body):
            assert line.split("#")[0].strip() in ci, f"{b.page}: {line!r} is not a line of .ci/run"
    readme = [b for b in ALL if b.page == "README.md" and b.mode == "ci"]
    assert any('python -m pip install -e ".[test]" && python -m pytest' in b.body for b in readme)


@pytest.mark.parametrize("page", _pages("run"))
def test_blocks_run(page, tmp_path):
    assert _run_page(page, "run", tmp_path) >= 1


@pytest.mark.slow
@pytest.mark.parametrize("page", _pages("slow"))
def test_slow_blocks_run(page, tmp_path):
    assert _run_page(page, "slow", tmp_path) >= 1


def test_study_commands_name_existing_scripts_and_configs():
    checked = 0
    for b in (b for b in ALL if b.mode == "study"):
        for line in _lines(b.body):
            for word in shlex.split(line, comments=True):
                if word.startswith("experiments/"):
                    assert (ROOT / word).is_file(), f"{b.page}: {word} does not exist"
                    checked += 1
                elif word.startswith("+experiment="):
                    assert (ROOT / "conf" / "experiment" / f"{word.split('=', 1)[1]}.yaml").is_file(), (b.page, word)
                    checked += 1
    assert checked >= 10


def test_generated_pages_cover_the_registry_the_datasets_and_the_metric_table():
    from varbench.registry import registry
    from varbench.scoring import METRIC_INFO

    missing = [m for m in registry() if f"| `{m}` |" not in GENERATED["methods.md"]]
    missing += [p.stem for p in (ROOT / "conf" / "dataset").glob("*.yaml") if f"`dataset={p.stem}`" not in GENERATED["datasets.md"]]
    missing += [m for m in METRIC_INFO if f"| `{m}` |" not in GENERATED["metrics.md"]]
    assert not missing, missing
    studies = {p.parent.name for p in (ROOT / "experiments").glob("*/README.md")}
    assert {f"studies/{s}.md" for s in studies} <= set(GENERATED)
    assert "Generated by `varbench bench`" in GENERATED["performance/results.md"]


def test_nav_and_readme_links_point_at_pages_that_exist():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())

    def leaves(node):
        if isinstance(node, str):
            yield node
        elif isinstance(node, dict):
            for v in node.values():
                yield from leaves(v)
        else:
            for v in node:
                yield from leaves(v)

    nav = list(leaves(config["nav"]))
    pages = set(HAND) | set(GENERATED)
    assert len(nav) >= 20 and not [p for p in nav if p not in pages]
    assert not [p for p in pages if p != "README.md" and p not in nav], "a page missing from the nav"
    readme = HAND["README.md"]
    assert len(readme.splitlines()) <= 200
    links = re.findall(r"\]\(docs/([^)#]+)\)", readme)  # files in the repository, as GitHub shows them
    assert len(links) >= 8 and not [p for p in links if p not in HAND], links


def test_api_examples_run():
    import varbench.api

    result = doctest.testmod(varbench.api, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted >= 15
    public = ("importance", "describe_methods", "plot_importance", "available_methods", "method_callable")
    assert all("Examples\n    --------" in getattr(varbench.api, f).__doc__ for f in public)
