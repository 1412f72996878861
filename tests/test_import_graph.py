"""No import cycles among varbench's modules nor among its packages, and no package importing a
higher layer (docs' DESIGN, "Layers, one job each"), counting imports inside functions too (a lazy
import that closes a cycle is still a cycle in the design)."""
import ast
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "varbench"


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def import_graph() -> dict[str, set[str]]:
    """module -> the varbench modules it imports (a package import counts as its __init__)."""
    modules = {_module(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for mod, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for name in names:
                if name in modules and name != mod:
                    graph[mod].add(name)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                return stack[stack.index(n):] + [n]
            if n not in state and (c := visit(n)):
                return c
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (c := visit(m)):
            return c
    return None


def test_the_cycle_finder_finds_a_planted_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycles():
    graph = import_graph()
    assert len(graph) > 30 and "varbench.harness.cell" in graph["varbench.cell_job"]  # lazy imports are seen
    cycle = find_cycle(graph)
    assert cycle is None, " -> ".join(cycle)


def package_of(module: str) -> str:
    """The package-level node of a module: `varbench.x` for everything under varbench/x/ and for a
    top-level module varbench/x.py; `varbench` for the package's own __init__."""
    return ".".join(module.split(".")[:2])


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """package -> the other packages its modules import (module- and function-level imports)."""
    out: dict[str, set[str]] = {package_of(m): set() for m in graph}
    for m, targets in graph.items():
        out[package_of(m)] |= {package_of(t) for t in targets} - {package_of(m)}
    return out


# The layers of docs' DESIGN ("Layers, one job each"), lowest first; a package may import its own
# layer and the ones below, never one above. LEAVES import no varbench module at all.
LEAVES = {"schema", "paths", "outdir", "store_file", "tag_json", "rank_stats", "templated"}
LAYERS = [
    {"datasets", "models"},                                         # core
    {"methods"},                                                    # methods
    {"scoring", "selection", "interactions", "truth_free"},         # scoring (selection, interactions: re-exports only)
    {"tracking", "store_template", "run_batch", "registry", "config", "api_checks", "harness", "runner", "rescore", "sweep", "pretrain", "progress", "composed", "launcher_settings"},  # harness
    {"report", "advise", "cli", "__main__", "api", "refits", "callbacks", "bench", "discriminability", "cell_job", "batch", "ray_batches"},  # report/advise/cli
]
# Upward imports that remain, named so that the list can only shrink (none is left: the trainer's
# AUROC comes from the leaf rank_stats, the scorers' JSON tags from the leaf tag_json).
KNOWN_UPWARD: set[tuple[str, str]] = set()


def _rank() -> dict[str, int]:
    rank = {f"varbench.{p}": -1 for p in LEAVES}
    for i, layer in enumerate(LAYERS):
        rank.update({f"varbench.{p}": i for p in layer})
    rank["varbench"] = len(LAYERS) - 1  # the package's __init__ loads the API on first use
    return rank


def test_package_graph_counts_function_level_imports_and_top_level_modules():
    g = package_graph({"varbench.a.x": {"varbench.b.y"}, "varbench.b.y": set(), "varbench.c": {"varbench.a.z"},
                       "varbench.a.z": set()})
    assert g == {"varbench.a": {"varbench.b"}, "varbench.b": set(), "varbench.c": {"varbench.a"}}
    pg = package_graph(import_graph())
    assert "varbench.cell_job" in pg["varbench.cli"]  # a lazy (function-level) import in cli is an edge
    assert "varbench.discriminability" in pg and "varbench.report" in pg  # top-level module = own node


def test_no_package_level_import_cycles():
    cycle = find_cycle(package_graph(import_graph()))
    assert cycle is None, " -> ".join(cycle)


def test_every_package_has_a_layer():
    rank = _rank()
    missing = sorted(set(package_graph(import_graph())) - set(rank))
    assert not missing, f"packages with no layer in this test: {missing}"
    assert not set(rank) - set(package_graph(import_graph())) - {"varbench"}, "a layer names a package that is gone"


def test_leaves_import_no_varbench_module():
    pg = package_graph(import_graph())
    assert {p: sorted(pg[f"varbench.{p}"]) for p in LEAVES if pg[f"varbench.{p}"]} == {}


def test_no_package_imports_a_higher_layer():
    rank = _rank()
    pg = package_graph(import_graph())
    upward = {(a, b) for a, targets in pg.items() for b in targets if rank[b] > rank[a]}
    assert upward <= KNOWN_UPWARD, f"imports of a higher layer: {sorted(upward - KNOWN_UPWARD)}"
    assert upward == KNOWN_UPWARD, f"no longer upward, drop from KNOWN_UPWARD: {sorted(KNOWN_UPWARD - upward)}"
    harness_and_above = {p for p in rank if rank[p] >= 3}
    for core in ("varbench.datasets", "varbench.models"):  # whatever else moves, core stays below these
        assert not pg[core] & harness_and_above, (core, sorted(pg[core] & harness_and_above))
