"""The method registry: one YAML per method in `conf/method/`, its facts in a `_meta_` block.

Everything that needs to know what a method is — the suites in `conf/methods/`, `available_methods()`,
the runner's dispatch to a track, report grouping (floor, ceiling), the API's "needs" messages —
reads `MethodMeta` from here; nothing keys on file-name prefixes or literal method names.

A `_meta_` block (all keys optional; a user's own method may have none):

    _meta_:
      returns: importance      # importance | interactions | selection
      estimand: marginal       # what the method estimates (see ESTIMANDS)
      needs: [gradients]       # trainer | gradients | dense_weights
      scope: local             # local (attributions per row, aggregated) | global
      role: method             # method | floor | ceiling
      suites: [shapley]        # named suites that list it (derived suites: see `suites()`)
      explains: output         # output (an output column: value, probability) | loss (the head's loss) | none
      groups: joint            # how variable groups are honoured: joint | sum | none (varbench.methods.variables)
      categorical: resample    # what it does with a categorical variable (category codes): resample |
                               # mask | embedding | ignores | refuse (varbench.methods.variables)

The loader strips `_meta_` before Hydra instantiates a method: it is never passed to the code.
`conf/methods/*.yaml` (a two-line wrapper per method, so `methods=[a,b]` composes, and one file
per suite) are generated from the metadata: `python -m varbench.registry --write` (a test checks
the files on disk match).
"""
from __future__ import annotations

import argparse
import functools
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Mapping

import yaml

from varbench.paths import conf_dir, method_dir
from varbench.schema import ConfigError, Section, names_from, one_of, rule, validate_section

META_KEY = "_meta_"
RETURNS = ("importance", "interactions", "selection")
# marginal / conditional / retrained / marginal_loss_shapley / conditional_shapley have exact
# values on the linear-Gaussian datasets (varbench.datasets.estimands documents each)
ESTIMANDS = ("marginal", "conditional", "marginal_loss_shapley", "conditional_shapley", "model_internal",
             "local_gradient", "reference", "surrogate", "retrained", "none", "truth", "unknown")
NEEDS = ("trainer", "gradients", "dense_weights")
SCOPES = ("global", "local")
ROLES = ("method", "floor", "ceiling")
EXPLAINS = ("output", "loss", "none")
GROUPS = ("joint", "sum", "none")  # = varbench.methods.variables.GROUP_RULES
CATEGORICAL = ("resample", "mask", "embedding", "ignores", "refuse")  # = varbench.methods.variables.CATEGORICAL_RULES
# suites derived from the metadata rather than listed in it
DERIVED_SUITES = {
    "all": "every importance method except ceilings",
    "fast": "every importance method that needs no retraining (no `trainer` in needs), except ceilings",
    "interactions": "every interaction method except ceilings",
    "selection": "every selection method (per-variable tests or decisions) except ceilings",
}
# the order methods run in within a suite: methods, then floors; by family (the target's module), then name
FAMILY_ORDER = ("weights", "perturbation", "conditional", "classic", "retrain", "gradients", "surrogate",
                "shapley", "sensitivity", "baselines", "interactions", "selection")


def _not_derived(suites: tuple[str, ...]) -> bool:
    return all(suites) and not set(suites) & set(DERIVED_SUITES)


@dataclass(frozen=True)
class MethodMeta(Section):
    """What a method is: its result type, estimand, requirements, scope, role and suites. A config
    section of the declared schema (varbench.schema): `validate_section` checks a `_meta_` block."""

    KEY: ClassVar[str] = META_KEY
    returns: str = field(default="importance", metadata=one_of(RETURNS))
    estimand: str = field(default="unknown", metadata=one_of(ESTIMANDS))
    needs: tuple[str, ...] = field(default=(), metadata=names_from(NEEDS))
    scope: str = field(default="global", metadata=one_of(SCOPES))
    role: str = field(default="method", metadata=one_of(ROLES))
    suites: tuple[str, ...] = field(default=(), metadata=rule(
        _not_derived, f"a list of suite names; the derived suites {sorted(DERIVED_SUITES)} are not listed"))
    explains: str = field(default="output", metadata=one_of(EXPLAINS))
    groups: str = field(default="none", metadata=one_of(GROUPS))
    categorical: str = field(default="refuse", metadata=one_of(CATEGORICAL))

    @classmethod
    def from_node(cls, node: Any, key: str) -> "MethodMeta":
        """Validate a `_meta_` mapping (None = all defaults); ConfigError naming `key` otherwise."""
        return cls() if node is None else validate_section(cls, node, f"{key}.{META_KEY}.")

    def as_tags(self) -> dict[str, str]:
        """The facts a run carries as MLflow tags (reports group by them)."""
        return {"returns": self.returns, "estimand": self.estimand, "role": self.role, "scope": self.scope,
                "needs": ",".join(self.needs)}


def split_meta(node: Mapping[str, Any], key: str = "method") -> tuple[MethodMeta, dict[str, Any]]:
    """(the method's metadata, its config without the `_meta_` block)."""
    rest = {k: v for k, v in node.items() if k != META_KEY}
    return MethodMeta.from_node(node.get(META_KEY), key), rest


@dataclass(frozen=True)
class MethodInfo:
    """A registered method: name, `_target_`, metadata and its config (parameters, `_meta_` removed)."""

    name: str
    target: str
    meta: MethodMeta
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def family(self) -> str:
        """The module the method's code lives in (its family), e.g. "gradients"."""
        return self.target.rsplit(".", 2)[-2] if self.target.count(".") >= 2 else "other"


def load_method_file(path: Path) -> MethodInfo:
    """Read one `conf/method/NAME.yaml`."""
    node = yaml.safe_load(path.read_text()) or {}
    if not isinstance(node, dict) or not isinstance(node.get("_target_"), str):
        raise ConfigError(f"{path}: expected a mapping with a `_target_` string")
    meta, config = split_meta(node, f"method/{path.stem}")
    return MethodInfo(path.stem, config["_target_"], meta, config)


@functools.lru_cache(maxsize=4)
def _registry(directory: str) -> dict[str, MethodInfo]:
    infos = [load_method_file(p) for p in sorted(Path(directory).glob("*.yaml"))]
    return {i.name: i for i in sorted(infos, key=_order)}


def registry(directory: Path | None = None) -> dict[str, MethodInfo]:
    """Every registered method, in suite order (family, then name)."""
    return _registry(str(directory or method_dir()))


def _order(info: MethodInfo) -> tuple[int, int, str]:
    """Methods before floors and ceilings; then by family, then by name."""
    fam = info.family
    return (ROLES.index(info.meta.role), FAMILY_ORDER.index(fam) if fam in FAMILY_ORDER else len(FAMILY_ORDER),
            info.name)


def method_info(name: str) -> MethodInfo:
    """The registered method `name`; ValueError listing the available ones otherwise."""
    reg = registry()
    if name not in reg:
        raise ValueError(f"method={name!r} is not registered; available: {available_methods()}")
    return reg[name]


def available_methods(returns: str = "importance", include_ceilings: bool = False) -> list[str]:
    """Names of the registered methods returning `returns`, sorted (ceilings such as the oracle,
    which read the data's truth, only with include_ceilings)."""
    return sorted(i.name for i in registry().values()
                  if i.meta.returns == returns and (include_ceilings or i.meta.role != "ceiling"))


def role_of(method: str, tag: str | None = None) -> str:
    """A logged method's role: its run's `role` tag, else the registry's entry, else "method"."""
    if tag in ROLES:
        return str(tag)
    info = registry().get(method)
    return info.meta.role if info is not None else "method"


def suites(reg: Mapping[str, MethodInfo] | None = None) -> dict[str, list[str]]:
    """Every suite and its methods, in run order. Named suites list their members in the members'
    `suites`; a floor (role=floor) joins every suite of its own result type; `all`, `fast` and
    `interactions` and `selection` are derived (see DERIVED_SUITES)."""
    reg = registry() if reg is None else reg
    infos = list(reg.values())
    named = sorted({s for i in infos for s in i.meta.suites})
    out: dict[str, list[str]] = {}
    for suite in named:
        kinds = {i.meta.returns for i in infos if suite in i.meta.suites}
        out[suite] = [i.name for i in infos if suite in i.meta.suites
                      or (i.meta.role == "floor" and i.meta.returns in kinds)]
    ranked = [i for i in infos if i.meta.role != "ceiling"]
    out["all"] = [i.name for i in ranked if i.meta.returns == "importance"]
    out["fast"] = [i.name for i in ranked if i.meta.returns == "importance" and "trainer" not in i.meta.needs]
    out["interactions"] = [i.name for i in ranked if i.meta.returns == "interactions"]
    out["selection"] = [i.name for i in ranked if i.meta.returns == "selection"]
    return out


GENERATED = "# generated by `python -m varbench.registry --write` from conf/method/*.yaml: do not edit\n"


def generated_files(reg: Mapping[str, MethodInfo] | None = None) -> dict[str, str]:
    """{file name in conf/methods/: text}: a wrapper per method and a file per suite."""
    reg = registry() if reg is None else reg
    files = {f"{name}.yaml": f"{GENERATED}defaults:\n  - /method@{name}: {name}\n" for name in reg}
    for suite, members in suites(reg).items():
        if suite in files:
            raise ConfigError(f"suite {suite!r} has the name of a method: rename one of them")
        what = DERIVED_SUITES.get(suite, f"the methods whose _meta_.suites lists {suite!r}, and the floors")
        files[f"{suite}.yaml"] = (f"{GENERATED}# suite `{suite}`: {what}\ndefaults:\n"
                                  + "".join(f"  - {m}\n" for m in members))
    return files


def stale_files(directory: Path | None = None) -> list[str]:
    """Names of the conf/methods/ files that differ from what the metadata generates (or are extra)."""
    directory = directory or conf_dir() / "methods"
    want = generated_files()
    have = {p.name: p.read_text() for p in directory.glob("*.yaml")}
    return sorted(n for n in set(want) | set(have) if want.get(n) != have.get(n))


def write_generated(directory: Path | None = None) -> list[str]:
    """Rewrite conf/methods/ from the metadata; return the names of files written or removed."""
    directory = directory or conf_dir() / "methods"
    want = generated_files()
    changed = stale_files(directory)
    for name in changed:
        path = directory / name
        if name in want:
            path.write_text(want[name])
        else:
            path.unlink()
    return changed


def main(argv: list[str] | None = None) -> int:
    """`python -m varbench.registry [--write]`: list suites, or regenerate conf/methods/."""
    p = argparse.ArgumentParser(prog="python -m varbench.registry", description=__doc__.split("\n")[0])
    p.add_argument("--write", action="store_true", help="regenerate conf/methods/ from conf/method/*.yaml")
    args = p.parse_args(argv)
    if args.write:
        changed = write_generated()
        print(f"conf/methods: {len(changed)} file(s) written or removed" + (f": {', '.join(changed)}" if changed else ""))
        return 0
    for suite, members in suites().items():
        print(f"{suite}: {', '.join(members)}")
    stale = stale_files()
    if stale:
        print(f"conf/methods is out of date ({', '.join(stale)}): run python -m varbench.registry --write")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
