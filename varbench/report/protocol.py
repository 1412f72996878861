"""The frozen leaderboard protocol: a versioned design, ranked in sample and on held-out parts.

A protocol (conf/leaderboard/<name>.yaml) fixes the standard study's design: datasets, seeds,
model, methods suite and metric, plus the held-out parts the design never saw: the same datasets on
new seeds ("held-out seeds") and new generators on the new seeds ("held-out generators"). The
leaderboard ranks every part with datasets as the units (varbench.report.tiers: mean rank within
cells, cluster-bootstrap intervals, disjoint tiers) and publishes rank stability: Kendall's tau-b
between the in-sample mean ranks and each held-out part's, over the methods both ranked. Runs
outside a part's design (other datasets or seeds of the same study) are not ranked, and the page
says how many of the design's cells were found.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from scipy import stats

from varbench.paths import conf_dir
from varbench.report.metrics import metric as metric_spec
from varbench.report.prepare import prepare
from varbench.report.render import markdown_table, md_document
from varbench.report.tables import cost_table
from varbench.report.tiers import DatasetComparison, dataset_level

DEFAULT_PROTOCOL = "v1"
PARTS = ("in-sample", "held-out seeds", "held-out generators")


@dataclass(frozen=True)
class Design:
    """One part of a protocol: the runs of `study` on these datasets and seeds."""

    study: str
    datasets: tuple[str, ...]
    seeds: tuple[int, ...]

    @property
    def n_cells(self) -> int:
        return len(self.datasets) * len(self.seeds)

    def select(self, runs: pd.DataFrame) -> pd.DataFrame:
        """The runs of this part (by study tag, dataset and seed)."""
        if runs.empty:
            return runs
        seed = pd.to_numeric(runs["seed"], errors="coerce")
        keep = (runs["study"] == self.study) & runs["dataset"].isin(self.datasets) & seed.isin(self.seeds)
        return runs[keep]


def _methods(value: Any) -> str:
    """The protocol's methods as one string: a frozen list joined by commas, or a suite name."""
    return ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


@dataclass(frozen=True)
class Protocol:
    """A leaderboard protocol (see the module docstring); `source` is the file it was read from."""

    name: str
    version: int
    metric: str
    model: str
    methods: str
    parts: dict[str, Design]
    run: tuple[str, ...]
    source: Path

    @property
    def studies(self) -> list[str]:
        return list(dict.fromkeys(d.study for d in self.parts.values()))


def _need(node: dict, key: str, where: str):
    if not isinstance(node, dict) or key not in node:
        raise ValueError(f"{where}: `{key}` is missing")
    return node[key]


def _seeds(values, where: str) -> tuple[int, ...]:
    if not isinstance(values, list) or not values or not all(isinstance(v, int) for v in values):
        raise ValueError(f"{where}={values!r} is invalid: expected a non-empty list of integers")
    return tuple(values)


def _names(values, where: str) -> tuple[str, ...]:
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise ValueError(f"{where}={values!r} is invalid: expected a non-empty list of dataset names")
    return tuple(values)


def load_protocol(name: str | Path = DEFAULT_PROTOCOL) -> Protocol:
    """Read and check a protocol: a name in conf/leaderboard/ (e.g. 'v1') or a path to a YAML file.

    Refused in one line: a missing key, empty or non-integer seeds, held-out seeds that are
    in-sample seeds, held-out generators that are in-sample datasets, an unknown metric.

    Examples
    --------
    >>> p = load_protocol("v1")
    >>> p.name, p.metric, p.parts["in-sample"].n_cells
    ('standard-v1', 'irrelevant_share', 50)
    """
    path = Path(name) if str(name).endswith((".yaml", ".yml")) else conf_dir() / "leaderboard" / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in (conf_dir() / "leaderboard").glob("*.yaml"))
        raise ValueError(f"--protocol={str(name)!r} is invalid: no file {path} (known: {', '.join(known)})")
    raw = yaml.safe_load(path.read_text())
    where = str(path)
    metric_spec(str(_need(raw, "metric", where)), f"{where}: metric")
    ins, held = _need(raw, "in_sample", where), _need(raw, "held_out", where)
    in_sample = Design(str(_need(ins, "study", f"{where}: in_sample")),
                       _names(_need(ins, "datasets", f"{where}: in_sample"), f"{where}: in_sample.datasets"),
                       _seeds(_need(ins, "seeds", f"{where}: in_sample"), f"{where}: in_sample.seeds"))
    seeds = _seeds(_need(held, "seeds", f"{where}: held_out"), f"{where}: held_out.seeds")
    generators = _names(_need(held, "generators", f"{where}: held_out"), f"{where}: held_out.generators")
    if set(seeds) & set(in_sample.seeds):
        raise ValueError(f"{where}: held_out.seeds={list(seeds)!r} is invalid: overlaps the in-sample seeds")
    if set(generators) & set(in_sample.datasets):
        raise ValueError(f"{where}: held_out.generators={list(generators)!r} is invalid: overlaps the in-sample "
                         "datasets")
    study = str(_need(held, "study", f"{where}: held_out"))
    parts = {"in-sample": in_sample, "held-out seeds": Design(study, in_sample.datasets, seeds),
             "held-out generators": Design(study, generators, seeds)}
    version = _need(raw, "version", where)
    if not isinstance(version, int):
        raise ValueError(f"{where}: version={version!r} is invalid: expected an integer")
    return Protocol(str(_need(raw, "name", where)), version, str(raw["metric"]), str(_need(raw, "model", where)),
                    _methods(_need(raw, "methods", where)), parts, tuple(raw.get("run", ())), path)


@dataclass
class Part:
    """One ranked part of a protocol leaderboard (`comparison` None when no run of it was found)."""

    name: str
    design: Design
    n_cells: int = 0
    comparison: DatasetComparison | None = None
    tau: float = float("nan")
    tau_p: float = float("nan")
    tau_methods: int = 0


@dataclass
class Leaderboard:
    """The protocol leaderboard: `board` (in-sample tiers with each held-out part's mean rank),
    `stability` (one row per held-out part: cells found, Kendall tau vs in-sample) and the parts."""

    protocol: Protocol
    metric: str
    parts: list[Part] = field(default_factory=list)
    board: pd.DataFrame = field(default_factory=pd.DataFrame)
    stability: pd.DataFrame = field(default_factory=pd.DataFrame)


def kendall(a: pd.Series, b: pd.Series) -> tuple[float, float, int]:
    """Kendall's tau-b (scipy) between two rankings over their common index: (tau, p, n)."""
    common = a.index.intersection(b.index)
    if len(common) < 2:
        return float("nan"), float("nan"), len(common)
    res = stats.kendalltau(a.loc[common].to_numpy(float), b.loc[common].to_numpy(float))
    return float(res.statistic), float(res.pvalue), len(common)


def protocol_leaderboard(runs: pd.DataFrame, cells: pd.DataFrame | None, protocol: Protocol,
                         metric: str | None = None, quality_threshold: float | None = None) -> Leaderboard:
    """Rank every part of `protocol` on `runs` (method runs of any studies, as fetch_table gives
    them) and compare the held-out rankings with the in-sample one (Kendall tau-b of mean ranks).

    Raises ValueError when no run belongs to the in-sample design.
    """
    metric = metric or protocol.metric
    metric_spec(metric)
    board = Leaderboard(protocol, metric)
    first: DatasetComparison | None = None
    seconds = pd.DataFrame(columns=["method", "seconds"])
    for name, design in protocol.parts.items():
        part = Part(name, design)
        sel = design.select(runs)
        if len(sel):
            data = prepare(sel, cells, metric, quality_threshold)
            part.n_cells = int(data.scored["cell"].nunique())
            part.comparison = dataset_level(data)
            if first is None:
                first = part.comparison
                seconds = cost_table(data)[["method", "seconds"]]
        elif name == "in-sample":
            raise ValueError(f"no method runs of the protocol's in-sample design (study {design.study!r}, datasets "
                             f"{', '.join(design.datasets)}, seeds {list(design.seeds)})")
        board.parts.append(part)
    ranks = {p.name: p.comparison.tiers.set_index("method")["mean_rank"]
             for p in board.parts if p.comparison is not None and p.comparison.ok}
    base = ranks.get("in-sample")
    rows = []
    for p in board.parts:
        if p.name != "in-sample" and base is not None and p.name in ranks:
            p.tau, p.tau_p, p.tau_methods = kendall(base, ranks[p.name])
        c = p.comparison
        rows.append({"part": p.name, "study": p.design.study, "datasets": len(p.design.datasets),
                     "design_cells": p.design.n_cells, "cells_found": p.n_cells,
                     "tiers": c.n_tiers if c is not None and c.ok else np.nan, "kendall_tau": p.tau,
                     "tau_p": p.tau_p, "tau_methods": p.tau_methods,
                     "note": "not run" if c is None else c.note})
    board.stability = pd.DataFrame(rows)
    if first is not None and first.ok:
        out = first.tiers.copy()
        for name in PARTS[1:]:
            out[f"mean_rank ({name})"] = out["method"].map(ranks[name]) if name in ranks else np.nan
        board.board = out.merge(seconds, on="method", how="left")
    return board


def _commands(p: Protocol) -> str:
    return "; ".join(f"`{c}`" for c in p.run)


def protocol_markdown(lb: Leaderboard, source: str) -> str:
    """The leaderboard page: the protocol's name and design, the in-sample tiers with the held-out
    mean ranks beside them, and the rank stability (Kendall tau) of each held-out part."""
    p, m = lb.protocol, metric_spec(lb.metric)
    ins = p.parts["in-sample"]
    head = [f"# varbench leaderboard: protocol {p.name} (version {p.version})", "",
            f"Source: {source}. Protocol: `{p.source.name}` (frozen): model `{p.model}`, methods `{p.methods}`, "
            f"metric **{lb.metric}** ({m.direction})"
            + ("" if lb.metric == p.metric else f" (the protocol's metric is {p.metric}: this page is not the "
                                                 "protocol's leaderboard)")
            + f"; in sample: study `{ins.study}`, {len(ins.datasets)} datasets ({', '.join(ins.datasets)}) x seeds "
            f"{list(ins.seeds)}.", ""]
    first = lb.parts[0]
    c = first.comparison
    if c is None or not c.ok:
        return md_document(head + [f"In-sample ranking not computed: {c.note if c is not None else 'no runs'}.", ""])
    shown = lb.board.copy()
    for col in [x for x in shown.columns if x.startswith("mean_rank (")]:
        shown[col] = shown[col].map(lambda v: "" if v != v else f"{v:.2f}")
    shown = shown.drop(columns=["head", "diff_vs_head", "p_holm_vs_head", "n_datasets", "n_cells"])
    body = [f"In sample: {first.n_cells} of the design's {ins.n_cells} cells; {c.units}. Methods ranked by mean rank "
            "within cells (1 = best), means of dataset means, 95% cluster-bootstrap intervals (datasets, then "
            "cells within them; t on datasets - 1 df). Tiers do not overlap: in mean-rank order, a method starts a "
            "new tier when it is significantly worse than the tier's first (dataset-level paired differences, Holm "
            f"over all pairs, alpha {c.alpha}).", "", markdown_table(shown, 3), "",
            "## Rank stability", "",
            "Kendall's tau-b between the in-sample mean ranks and each held-out part's (methods ranked in both). "
            "Held-out seeds: the design's datasets on seeds it never saw; held-out generators: datasets it never "
            "saw, on those seeds.", ""]
    for part in lb.parts[1:]:
        d = part.design
        if part.comparison is None:
            body.append(f"- **{part.name}** (study `{d.study}`, {', '.join(d.datasets)}; seeds {list(d.seeds)}): "
                        f"not run. Run {_commands(p)}, then `varbench report --leaderboard`.")
        elif not part.comparison.ok:
            body.append(f"- **{part.name}**: {part.n_cells} of {d.n_cells} cells; not ranked "
                        f"({part.comparison.note}).")
        else:
            body.append(f"- **{part.name}**: {part.n_cells} of {d.n_cells} cells, {part.comparison.n_tiers} tier(s); "
                        f"Kendall tau = {part.tau:.3f} (p = {part.tau_p:.3g}, {part.tau_methods} methods).")
    return md_document(head + body + [""])
