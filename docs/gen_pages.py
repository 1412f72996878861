"""Pages of the documentation site generated from the code and the committed files, never copied.

- `methods.md`: the method registry (`conf/method/*.yaml`: each file's comment line and `_meta_`);
- `datasets.md`: every dataset config with its generator's docstring (the truth is stated there);
- `metrics.md`: the metric table `varbench.scoring.METRIC_INFO` (direction, range) with the
  docstring of the function that computes each metric;
- `studies/<name>.md`: each study's write-up, `experiments/<name>/README.md`;
- `performance/results.md`: the committed `results/performance.md`.
Files the write-ups show (plots) are copied beside the page and their links rewritten.

mkdocs-gen-files runs this file during `mkdocs build` (see mkdocs.yml); `pages()` returns the same
{path: text or bytes} mapping for the test suite (tests/test_docs.py runs their code blocks).
"""
from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "conf"
# committed files the hand-written pages show, published as files/<path with "_" for "/">
ASSETS = ("results/own_models/importance.png", "results/own_models/table.md", "results/verdicts/verdicts.md")
STUDY_NOTE = ("*Generated from `{src}`. The commands below regenerate the committed results and take "
              "minutes to hours; the test suite checks that every script and experiment config they "
              "name exists (tests/test_docs.py) rather than running them.*\n\n")


def _comment(path: Path) -> str:
    """The leading comment lines of a YAML file, joined."""
    lines = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    return " ".join(lines)


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def methods_page() -> str:
    from varbench.registry import DERIVED_SUITES, method_dir, registry, suites

    reg = registry()
    out = ["# Methods\n",
           "Generated from the method registry: one YAML per method in `conf/method/`, its first comment "
           "line and its `_meta_` block (`python -m varbench.registry` lists the same).\n"]
    for kind in ("importance", "interactions", "selection"):
        rows = [m for m in reg.values() if m.meta.returns == kind]
        out.append(f"\n## Returns `{kind}` ({len(rows)})\n")
        out.append("| name | what it computes | estimand | scope | explains | groups | needs | role | `_target_` |")
        out.append("|---|---|---|---|---|---|---|---|---|")
        for m in rows:
            meta = m.meta
            out.append(f"| `{m.name}` | {_cell(_comment(method_dir() / f'{m.name}.yaml'))} | {meta.estimand} | "
                       f"{meta.scope} | {meta.explains} | {meta.groups} | {', '.join(meta.needs) or '-'} | "
                       f"{meta.role} | `{m.target}` |")
    out.append("\n## Suites\n")
    out.append("`methods=<suite>` runs every method of a suite.\n")
    out.append("| suite | methods |")
    out.append("|---|---|")
    for name, members in suites(reg).items():
        note = f" ({DERIVED_SUITES[name]})" if name in DERIVED_SUITES else ""
        out.append(f"| `{name}`{_cell(note)} | {', '.join(f'`{m}`' for m in members)} |")
    return "\n".join(out) + "\n"


def datasets_page() -> str:
    by_target: dict[str, list[tuple[str, str]]] = {}
    for path in sorted((CONF / "dataset").glob("*.yaml")):
        target = yaml.safe_load(path.read_text())["_target_"]
        by_target.setdefault(target, []).append((path.stem, _comment(path)))
    out = ["# Datasets\n",
           "Generated from `conf/dataset/*.yaml` and the docstrings of the generators they name: each "
           "docstring states the truth precisely, and `tests/test_datasets_suite.py` re-estimates every "
           "truth independently.\n"]
    for target, configs in by_target.items():
        module, name = target.rsplit(".", 1)
        fn = getattr(importlib.import_module(module), name)
        out.append(f"\n## `{target}`\n")
        out.append("| config | |")
        out.append("|---|---|")
        out += [f"| `dataset={c}` | {_cell(text)} |" for c, text in configs]
        out.append("\n```text\n" + (inspect.getdoc(fn) or "(no docstring)") + "\n```\n")
    return "\n".join(out)


def metrics_page() -> str:
    from varbench import scoring, selection
    from varbench.interactions import scoring as pair_scoring

    out = ["# Metrics\n",
           "Generated from `varbench.scoring.METRIC_INFO`, the one table of every metric the runner logs "
           "and the reports rank, with the docstring of the function that computes it where one has "
           "the metric's name. [Scoring](scoring.md) explains the conventions.\n",
           "| metric | kind | better | range | computed by |", "|---|---|---|---|---|"]
    kinds = {**{m: "rank" for m in scoring.METRICS}, **{m: "magnitude" for m in scoring.MAGNITUDE_METRICS},
             **{m: "estimand" for m in scoring.ESTIMAND_METRICS},
             **{m: "interaction" for m in pair_scoring.INTERACTION_METRICS},
             **{m: "selection" for m in selection.SELECTION_METRICS}}
    for name, info in scoring.METRIC_INFO.items():
        fn = next((getattr(m, name) for m in (scoring, pair_scoring, selection) if callable(getattr(m, name, None))),
                  None)
        doc = (inspect.getdoc(fn) or "").split("\n\n")[0] if fn else ""
        where = f"`{fn.__module__}.{name}`: {doc}" if fn else "see [Scoring](scoring.md)"
        out.append(f"| `{name}` | {kinds.get(name, 'model truth' if name.startswith('model_') else 'local')} | "
                   f"{'higher' if info.higher_is_better else 'lower'} | [{info.low:g}, {info.high:g}] | "
                   f"{_cell(where)} |")
    return "\n".join(out) + "\n"


def _relink(text: str, source: Path, page_dir: str, files: dict[str, str | bytes]) -> str:
    """Copy what the Markdown at `source` links to inside the repository beside the generated page
    (`page_dir`) and point the link there; links outside the repository are left alone."""
    def swap(m: re.Match) -> str:
        target = m.group(2)
        if re.match(r"[a-z]+:|#", target):
            return m.group(0)
        path = (source.parent / target.split("#")[0]).resolve()
        if not path.is_file() or ROOT not in path.parents:
            raise ValueError(f"{source.relative_to(ROOT)} links to {target!r}, which is not a file of the repository")
        name = "files/" + "_".join(path.relative_to(ROOT).parts)
        files[f"{page_dir}/{name}"] = path.read_bytes()
        return f"{m.group(1)}({name})"
    return re.sub(r"(!?\[[^\]]*\])\(([^)\s]+)\)", swap, text)


def pages() -> dict[str, str | bytes]:
    """{path under docs/: text or bytes} of every generated page and the files they show."""
    files: dict[str, str | bytes] = {"methods.md": methods_page(), "datasets.md": datasets_page(),
                                     "metrics.md": metrics_page()}
    for asset in ASSETS:
        files["files/" + asset.replace("/", "_")] = (ROOT / asset).read_bytes()
    for readme in sorted((ROOT / "experiments").glob("*/README.md")):
        src = readme.relative_to(ROOT)
        text = STUDY_NOTE.format(src=src) + readme.read_text()
        files[f"studies/{readme.parent.name}.md"] = _relink(text, readme, "studies", files)
    perf = ROOT / "results" / "performance.md"
    files["performance/results.md"] = _relink(perf.read_text(), perf, "performance", files)
    return files


def write() -> None:
    import mkdocs_gen_files

    for path, content in pages().items():
        with mkdocs_gen_files.open(path, "wb" if isinstance(content, bytes) else "w") as f:
            f.write(content)


if __name__ in ("__main__", "<run_path>"):
    write()
