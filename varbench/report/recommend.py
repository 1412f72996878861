"""The generated recommendation: which methods to trust under which conditions. Every statement
is computed from the runs (rules: CONDITIONS, HIGH_QUALITY, FAIL_AT, the metric's direction)."""
from __future__ import annotations

import fnmatch

import numpy as np
import pandas as pd

from varbench.registry import role_of
from varbench.report.metrics import spec
from varbench.report.prepare import ReportData
from varbench.report.stats import Comparison
from varbench.report.tables import ALPHA, COVERAGE_MIN, ci_text, comparison
from varbench.report.tiers import DatasetComparison, dataset_ci_table, dataset_level

# Dataset-name patterns -> the condition they test (first match wins; case-insensitive).
CONDITIONS: dict[str, str] = {
    "correlated*": "correlated features",
    "redundant*": "correlated features",
    "decoys*": "correlated features",
    "xai_bench*": "correlated features",
    "semisynthetic*": "correlated features",
    "interaction*": "interactions",
    "xor*": "interactions",
    "ishigami*": "interactions",
    "sobol_g*": "interactions",
    "tsang*": "interactions",
    "*scales*": "mixed scales",
    "heavy*": "mixed scales",
    "linear*": "independent features",
    "friedman*": "independent features",
    "*additive*": "independent features",
    "olden*": "independent features",
}
OTHER = "other datasets"
HIGH_QUALITY = 0.9      # model quality (R^2 or AUC) from which a model counts as well trained
FAIL_AT = 0.5           # a mean worse than this (below if higher is better, above if lower) is a failure


def condition_of(dataset: str) -> str:
    """The condition a dataset tests, from CONDITIONS (first matching pattern)."""
    for pattern, condition in CONDITIONS.items():
        if fnmatch.fnmatchcase(dataset.lower(), pattern):
            return condition
    return OTHER


def _beside(value: float, bar: float, strict: bool, sign: float = 1.0) -> str:
    """value with 2 decimals, or more if 2 would print it on the wrong side of bar: the printed
    value stays worse than bar (strict) or no better than it, in the metric's direction."""
    for digits in (2, 3, 4):
        shown = sign * round(value, digits)
        if (shown < sign * bar) if strict else (shown <= sign * bar):
            break
    return f"{value:.{digits}f}"


def bounded(metric: str) -> bool:
    """Whether FAIL_AT applies: the metric's range is finite (not, e.g., a gap in output units)."""
    m = spec(metric)
    return m is None or bool(np.isfinite(m.lo) and np.isfinite(m.hi))


def condition_line(title: str, runs: pd.DataFrame, metric: str, sign: float = 1.0) -> str:
    """One bullet: best methods (mean within the top method's CI), failures, random floor, and
    the cells each method was scored on when they differ. Means are means of dataset means and
    intervals take the datasets as units (the cells, when the condition holds one dataset)."""
    if runs.empty:
        return f"- **{title}**: no scored runs."
    ci = dataset_ci_table(runs, ["method"], metric).set_index("method")
    ci = ci.assign(_v=sign * ci[metric]).sort_values("_v", ascending=False, kind="stable")
    enough = ci[f"{metric}_n"] >= COVERAGE_MIN * ci[f"{metric}_n"].max()
    partial, ci = ci[~enough], ci[enough]
    # oriented bounds: "near" is the bound towards worse values
    near, far = (f"{metric}_lo", f"{metric}_hi") if sign > 0 else (f"{metric}_hi", f"{metric}_lo")
    top = ci.iloc[0]
    cutoff = sign * (top[near] if np.isfinite(top[near]) else top[metric])
    best = ci[ci["_v"] >= cutoff]
    n_cells = runs["cell"].nunique()
    n_of = ci[f"{metric}_n"]

    def shown(m: str, r: pd.Series) -> str:
        cov = f" (n={int(n_of[m])} of {n_cells} cells)" if n_of[m] < n_cells and n_of[m] > 1 else ""
        return f"{m} {ci_text(r[metric], r[f'{metric}_lo'], r[f'{metric}_hi'])}{cov}"

    datasets = ", ".join(sorted(runs["dataset"].unique()))
    unit = "datasets as units" if runs["dataset"].nunique() > 1 else "one dataset: its cells as units"
    q = runs.drop_duplicates("cell")["quality"].mean()
    qtxt = f", mean model quality {q:.2f}" if np.isfinite(q) else ""
    rule = "within the 95% CI of the top method" if np.isfinite(top[near]) else "top mean; CI undefined"
    parts = [f"- **{title}** ({datasets}; {n_cells} cell{'s' if n_cells != 1 else ''}{qtxt}; {unit}): "
             f"best by mean {metric} ({rule}): " + ", ".join(shown(m, r) for m, r in best.iterrows()) + "."]
    floor = [m for m in ci.index if role_of(m) == "floor"]
    others = ci.drop(index=floor)
    word = "<" if sign > 0 else ">"
    fails = others[others["_v"] < sign * FAIL_AT]
    if bounded(metric) and len(fails):  # (no fixed failure threshold on an unbounded scale, e.g. pgu)
        parts.append(f"Fail (mean {metric} {word} {FAIL_AT}): "
                     + ", ".join(f"{m} {_beside(r[metric], FAIL_AT, True, sign)}" for m, r in fails.iterrows()) + ".")
    elif bounded(metric):
        parts.append(f"No method has mean {metric} {'below' if sign > 0 else 'above'} {FAIL_AT}.")
    bound = "upper" if sign > 0 else "lower"
    for f in floor:
        rnd = ci.loc[f]
        bar = rnd[far] if np.isfinite(rnd[far]) else rnd[metric]
        weak = others[others["_v"] <= sign * bar]
        listed = ", ".join(f"{m} {_beside(r[metric], bar, False, sign)}" for m, r in weak.iterrows())
        beyond = "above its upper" if sign > 0 else "below its lower"
        parts.append(f"{f[:1].upper() + f[1:]} floor {ci_text(rnd[metric], rnd[f'{metric}_lo'], rnd[f'{metric}_hi'])}"
                     + (f": not better than {f} (mean {'<=' if sign > 0 else '>='} its {bound} bound): {listed}."
                        if len(weak) else f"; every other method is {beyond} bound."))
    if len(partial):
        parts.append("Scored on too few of these cells to compare: " + ", ".join(
            f"{m} {r[metric]:.2f} ({int(r[f'{metric}_n'])} of {n_cells} cells)" for m, r in partial.iterrows()) + ".")
    return " ".join(parts)


def tier_line(dl: DatasetComparison) -> str:
    """One bullet: the disjoint tiers with datasets as units (varbench.report.tiers)."""
    if not dl.ok:
        return f"- **Tiers** (datasets as units): not computed ({dl.note})."
    tiers = "; ".join(f"{i} {{{', '.join(t)}}}" for i, t in enumerate(dl.tier_lists(), 1))
    return (f"- **Tiers** ({dl.units}; a new tier starts where a method is significantly worse than the tier's "
            f"first, dataset-level paired tests, Holm, alpha {dl.alpha}): {dl.n_tiers} tier(s): {tiers}.")


def _overall(comp: Comparison, dl: DatasetComparison) -> list[str]:
    if not comp.ok:
        return [f"- **Overall**: no test ({comp.note})."]
    ranks = ", ".join(f"{k} {v:.2f}" for k, v in comp.mean_ranks.items())
    verdict = (f"the methods differ significantly (Friedman p = {comp.pvalue:.3g} < {ALPHA})"
               if comp.pvalue < ALPHA else f"no significant difference (Friedman p = {comp.pvalue:.3g})")
    lines = [f"- **Overall** ({comp.n_blocks} complete cells as blocks): mean ranks {ranks}; {verdict}."]
    if not dl.ok:
        return lines + [f"  No dataset-level pairwise test ({dl.note})."]
    w = dl.pairs
    best = dl.tiers["method"].iloc[0]
    mine = w[(w["method_a"] == best) | (w["method_b"] == best)]
    other = np.where(mine["method_a"] == best, mine["method_b"], mine["method_a"])
    beats = [o for o, r in zip(other, mine.itertuples()) if r.significant and r.better == best]
    loses = [o for o, r in zip(other, mine.itertuples()) if r.significant and r.better != best]
    tied = [o for o, r in zip(other, mine.itertuples()) if not r.significant]
    lines.append(f"  {int(w['significant'].sum())} of {len(w)} pairs differ significantly ({dl.units}: "
                 f"paired differences, cluster bootstrap, Holm, alpha {ALPHA}). Best-ranked {best} (mean rank over "
                 f"datasets) is significantly better than: "
                 f"{', '.join(beats) or 'none'}; not distinguishable from: {', '.join(tied) or 'none'}"
                 + (f"; significantly worse than {', '.join(loses)}" if loses else "") + ".")
    return lines


def coverage_note(comp: Comparison) -> str:
    """One sentence naming the methods left out of ranks and tests for partial coverage ('' if none)."""
    if not comp.left_out:
        return ""
    return ("Scored on too few of the cells to be ranked beside the rest (ranked only within their own "
            "cells, not tested): " + ", ".join(f"{m} ({n} cell{'s' if n != 1 else ''})"
                                              for m, n in comp.left_out.items()) + ".")


def recommendation(data: ReportData, comp: Comparison | None = None, dl: DatasetComparison | None = None) -> str:
    """A generated markdown summary of which methods to trust under which conditions."""
    m = data.metric
    sign = data.spec.sign
    s = data.scored
    lines = ["## Recommendation", "",
             f"Generated from {s['cell'].nunique()} good cells ({m}, {data.spec.direction}; means of dataset "
             "means with 95% intervals taking datasets as units, varbench.report.clusters). 'Best' = mean inside "
             "the 95% CI of the top method; "
             + (f"'fail' = mean {m} {'<' if sign > 0 else '>'} {FAIL_AT}; " if bounded(m) else
                f"no 'fail' threshold ({m} is unbounded); ")
             + "conditions group datasets by name "
             "(varbench.report.CONDITIONS).", ""]
    comp = comparison(data) if comp is None else comp
    dl = dataset_level(data) if dl is None else dl
    lines += _overall(comp, dl)
    lines.append(tier_line(dl))
    if comp.left_out:
        lines.append("  " + coverage_note(comp))
    if s.empty:
        lines.append("- No good cell has a scored method run.")
    else:
        cond = s["dataset"].map(condition_of)
        for c in sorted(cond.unique(), key=lambda c: (c == OTHER, c)):
            lines.append(condition_line(c, s[cond == c], m, sign))
        high = s[s["quality"] >= HIGH_QUALITY]
        weak = s[s["quality"] < HIGH_QUALITY]
        if len(high) and len(weak):
            lines.append(condition_line(f"well-trained models (quality >= {HIGH_QUALITY})", high, m, sign))
            lines.append(condition_line(f"weaker models (quality < {HIGH_QUALITY})", weak, m, sign))
    low = data.low[(data.low["status"] == "ok") & (data.low["role"] != "ceiling")]
    low = low[np.isfinite(low[m])]
    if len(low):
        lines.append(condition_line("models that failed to learn (low-quality cells, excluded above)", low, m, sign))
    else:
        lines.append("- No scored run is in a low-quality cell.")
    return "\n".join(lines) + "\n"
