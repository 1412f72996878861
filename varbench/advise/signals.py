"""advise's two signals side by side: the semi-synthetic ranking (methods scored against a truth
planted on the user's covariates) and the truth-free ranking on the real-target model (the
validated truth-free metrics each method run logged, `varbench.truth_free.validated.VALIDATED`).

Rules (stated in the report):
- Real-target methods (`real_methods`): the `top` best non-floor methods of the semi-synthetic
  ranking, plus every other benchmarked method (floors included) whose mean seconds per
  benchmark run is at most the slowest of those top ones (the cheap rest: together they cost at
  most len(methods) x the slowest top method per training).
- Truth-free ranking (`truth_free_ranking`): in each repeat (a training on the real target, or a
  method seed on the user's one model) the methods are ranked on each validated metric that was
  logged (oriented by the metric's direction, ties averaged); a method's score in that repeat is
  its mean rank over those metrics; the table gives the mean and 95% t interval over the repeats.
- Top tier (`top_tier`): the methods whose mean is within the best method's interval (its bound
  towards worse values; its mean where it has no interval).
- Comparison (`compare`): over the non-floor methods in both rankings, Kendall tau-b between the
  two orders and the top tier of each. They agree on the top when each signal's best method is in
  the other's top tier; they partly disagree when only the semi-synthetic best (the recommended
  method) is within the truth-free top tier; otherwise they disagree.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import kendalltau

from varbench.advise.rank import _interval, interval_text
from varbench.scoring import METRIC_INFO
from varbench.truth_free.validated import STUDY, VALIDATED

MEASURES = ("they measure fidelity to the model (how much its predictions move when the variables a method "
            "ranks first are removed or kept), not truth about the data: a model that learned a shortcut is "
            "explained faithfully by a method that reports the shortcut")


def real_methods(ranking: pd.DataFrame, top: int) -> list[str]:
    """The methods run on the real target (module rule): the `top` best non-floor methods, then the
    others, in ranking order, whose mean `seconds` is at most the slowest top method's.

    Examples
    --------
    >>> r = pd.DataFrame({"method": ["a", "b", "c", "random"], "role": ["method"] * 3 + ["floor"],
    ...                   "seconds": [2.0, 9.0, 1.0, 0.1]})
    >>> real_methods(r, 1)
    ['a', 'c', 'random']
    """
    if ranking.empty:
        return []
    ranked = ranking[ranking["role"] != "floor"]
    head = ranked["method"].head(top).tolist()
    if not head:
        return []
    slowest = float(ranking.loc[ranking["method"].isin(head), "seconds"].max())
    rest = [m for m, s in zip(ranking["method"], ranking["seconds"]) if m not in head and s <= slowest]
    return head + rest


def truth_free_ranking(runs: pd.DataFrame, metrics: tuple[str, ...] = VALIDATED) -> pd.DataFrame:
    """Methods ranked by the validated truth-free metrics they logged (module rule), best first.

    `runs`: the real-target method runs (`method`, `seed` = the repeat, `status`, a column per
    metric); every finished run counts, as in `rank.real_importance`. Columns: method, role, mean / ci_low / ci_high / n of the mean rank (1 = best), and
    per metric logged its mean / _ci_low / _ci_high over the repeats. Empty when no ok run logged
    any of `metrics`.

    Examples
    --------
    >>> runs = pd.DataFrame({"method": ["a", "b"] * 2, "seed": [0, 0, 1, 1], "status": "ok",
    ...                      "pgu": [0.1, 0.5, 0.2, 0.4], "pgi": [0.9, 0.3, 0.8, 0.5]})
    >>> truth_free_ranking(runs, ("pgu", "pgi"))[["method", "mean"]].values.tolist()
    [['a', 1.0], ['b', 2.0]]
    """
    runs = runs[runs["status"] == "ok"] if not runs.empty else runs  # the runs real_importance reports
    logged = [m for m in metrics if m in runs and pd.to_numeric(runs[m], errors="coerce").notna().any()]
    if not logged:
        return pd.DataFrame(columns=["method", "role", "mean", "ci_low", "ci_high", "n"])
    ranks = []
    for _, g in runs.groupby("seed", sort=True):
        per = pd.DataFrame({m: pd.to_numeric(g[m], errors="coerce").rank(
            ascending=not METRIC_INFO[m].higher_is_better) for m in logged})  # 1 = best, ties averaged
        ranks.append(pd.DataFrame({"method": g["method"].to_numpy(), "rank": per.mean(axis=1).to_numpy()}))
    ranked = pd.concat(ranks, ignore_index=True)
    n_methods = runs["method"].nunique()
    rows = []
    for method, g in ranked.groupby("method", sort=False):
        own = runs[runs["method"] == method]
        row = {"method": method, "role": own["role"].iloc[0] if "role" in own else "method",
               **_interval(g["rank"], 1.0, float(n_methods))}
        for m in logged:
            info = METRIC_INFO[m]
            iv = _interval(pd.to_numeric(own[m], errors="coerce"), info.low, info.high)
            row.update({m: iv["mean"], f"{m}_ci_low": iv["ci_low"], f"{m}_ci_high": iv["ci_high"]})
        rows.append(row)
    out = pd.DataFrame(rows)
    lead = logged[0]  # the study's best-agreeing metric breaks ties
    sign = -METRIC_INFO[lead].sign  # ranks ascend: the better value first
    out = out.assign(_tie=sign * out[lead]).sort_values(["mean", "_tie"], na_position="last", kind="stable")
    return out.drop(columns="_tie").reset_index(drop=True)


def top_tier(table: pd.DataFrame, higher_is_better: bool) -> list[str]:
    """The methods whose mean is within the best one's interval (module rule), best first.

    Examples
    --------
    >>> t = pd.DataFrame({"method": ["a", "b", "c"], "mean": [0.9, 0.8, 0.2], "ci_low": [0.7, 0.6, 0.1],
    ...                   "ci_high": [1.0, 0.9, 0.3]})
    >>> top_tier(t, True)
    ['a', 'b']
    """
    t = table[np.isfinite(table["mean"].to_numpy(dtype=float))]
    if t.empty:
        return []
    t = t.sort_values("mean", ascending=not higher_is_better, kind="stable")
    best = t.iloc[0]
    bound = best["ci_low"] if higher_is_better else best["ci_high"]
    bar = bound if np.isfinite(bound) else best["mean"]
    keep = t["mean"] >= bar if higher_is_better else t["mean"] <= bar
    return t.loc[keep, "method"].tolist()


@dataclass
class Signals:
    """The comparison of the two rankings over the non-floor methods in both (module rule)."""

    methods: list[str] = field(default_factory=list)   # in both, semi-synthetic order
    tau: float = float("nan")
    semi_tier: list[str] = field(default_factory=list)
    free_tier: list[str] = field(default_factory=list)
    semi_best: str | None = None
    free_best: str | None = None
    free_position: dict[str, int] = field(default_factory=dict)  # 1-based place in the truth-free order

    @property
    def available(self) -> bool:
        """Whether both signals rank at least one common method."""
        return bool(self.methods)

    @property
    def agree(self) -> bool:
        """Each signal's best method is in the other's top tier."""
        return self.available and self.semi_best in self.free_tier and self.free_best in self.semi_tier

    @property
    def supports(self) -> bool:
        """The semi-synthetic best (the recommended method) is in the truth-free top tier: the
        truth-free signal does not rule it out, even where it puts another method first."""
        return self.available and self.semi_best in self.free_tier

    @property
    def only_semi(self) -> list[str]:
        return [m for m in self.semi_tier if m not in self.free_tier]

    @property
    def only_free(self) -> list[str]:
        return [m for m in self.free_tier if m not in self.semi_tier]


def compare(semi: pd.DataFrame, free: pd.DataFrame) -> Signals:
    """The two rankings compared (module rule): `semi` from `rank.rank_methods` (mean Spearman,
    higher better), `free` from `truth_free_ranking` (mean rank, lower better).

    Examples
    --------
    >>> semi = pd.DataFrame({"method": ["a", "b", "c"], "role": "method", "mean": [0.9, 0.5, 0.1],
    ...                      "ci_low": [0.8, 0.4, 0.0], "ci_high": [1.0, 0.6, 0.2]})
    >>> free = pd.DataFrame({"method": ["b", "a", "c"], "role": "method", "mean": [1.0, 2.0, 3.0],
    ...                      "ci_low": [1.0, 1.5, 3.0], "ci_high": [1.0, 2.5, 3.0]})
    >>> s = compare(semi, free)
    >>> round(s.tau, 3), s.semi_tier, s.free_tier, s.agree
    (0.333, ['a'], ['b'], False)
    """
    if semi.empty or free.empty:
        return Signals()
    real = set(free.loc[free["role"] != "floor", "method"]) & set(semi.loc[semi["role"] != "floor", "method"])
    s = semi[semi["method"].isin(real) & np.isfinite(semi["mean"].to_numpy(dtype=float))]
    f = free[free["method"].isin(real) & np.isfinite(free["mean"].to_numpy(dtype=float))]
    both = [m for m in s["method"] if m in set(f["method"])]
    if not both:
        return Signals()
    s, f = s[s["method"].isin(both)], f[f["method"].isin(both)].sort_values("mean", kind="stable")
    semi_tier, free_tier = top_tier(s, True), top_tier(f, False)
    tau = float("nan")
    if len(both) >= 2:
        a = s.set_index("method").loc[both, "mean"].to_numpy(dtype=float)
        b = -f.set_index("method").loc[both, "mean"].to_numpy(dtype=float)
        tau = float(kendalltau(a, b).statistic)
    return Signals(both, tau, semi_tier, free_tier, semi_tier[0], free_tier[0],
                   {m: i + 1 for i, m in enumerate(f["method"])})


def _names(methods: list[str]) -> str:
    return ", ".join(f"`{m}`" for m in methods) or "none"


def follows(sig: Signals, reason_missing: str) -> str:
    """The recommendation's sentence on which signal it follows and whether the two agree."""
    head = ("It follows the semi-synthetic signal (scored against a truth, planted on your covariates); the "
            f"truth-free metrics on the real model ({_names(list(VALIDATED))}) are the second signal")
    if not sig.available:
        return f"{head}, and it is not available here: {reason_missing}."
    n = len(sig.methods)
    if sig.agree:
        return (f"{head}, and they agree on the top: `{sig.semi_best}` is in the truth-free top tier and "
                f"`{sig.free_best}`, the truth-free first, is in the semi-synthetic top tier (Kendall tau "
                f"{sig.tau:.2f} over {n} methods).")
    if sig.supports:
        return (f"{head}, and **the two partly disagree**: the truth-free metrics put `{sig.free_best}` first, which "
                f"is not in the semi-synthetic top tier ({_names(sig.semi_tier)}), but `{sig.semi_best}` is within "
                f"their top tier ({_names(sig.free_tier)}), so they do not rule it out (Kendall tau {sig.tau:.2f} "
                f"over {n} methods).")
    return (f"{head}, and **the two disagree**: the truth-free metrics put `{sig.free_best}` first and "
            f"`{sig.semi_best}` {_place(sig.free_position.get(sig.semi_best))} of {n} (Kendall tau {sig.tau:.2f} "
            f"over {n} methods; top tiers: semi-synthetic {_names(sig.semi_tier)}, truth-free "
            f"{_names(sig.free_tier)}). Where they disagree, prefer a method in both top tiers, or check the "
            "model: the truth-free metrics judge fidelity to it, not the data.")


def _place(i: int | None) -> str:
    if i is None:
        return "unranked"
    return f"{i}{'th' if 10 <= i % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(i % 10, 'th')}"


def section(sig: Signals, semi: pd.DataFrame, free: pd.DataFrame, repeats: str, broken: str | None = None
            ) -> list[str]:
    """The report section's lines (prose; tables escaped by `markdown_table`): the two rankings
    side by side, where they agree and disagree, with the qualifiers."""
    from varbench.report.render import markdown_table

    lines = ["## Two signals: planted truth on your covariates vs truth-free on the real target", "",
             "The semi-synthetic ranking scores each method by Spearman against a truth planted on your "
             "covariates (a stand-in target). The truth-free ranking scores the same methods on the real-target "
             f"model by the validated truth-free metrics they logged ({_names(list(VALIDATED))}): in each repeat "
             "the methods are ranked on each metric (by its direction), a method's score is its mean rank over "
             f"the metrics (1 = best), with its mean and 95% t interval over the repeats ({repeats}). These "
             f"metrics were {STUDY}; {MEASURES}.", ""]
    if broken:
        lines.append(f"_(no truth-free ranking: the real-target model {broken})_")
        return lines
    if free.empty:
        lines.append("_(no truth-free ranking: no real-target run logged a validated truth-free metric)_")
        return lines
    metric_cols = [m for m in VALIDATED if m in free]
    table = free.assign(**{"truth-free rank": [interval_text(a, b, c) for a, b, c in zip(free["mean"], free["ci_low"],
                                                                                free["ci_high"])]})
    for m in metric_cols:
        table[m] = [interval_text(a, b, c) for a, b, c in zip(free[m], free[f"{m}_ci_low"], free[f"{m}_ci_high"])]
    semi_pos = {m: i + 1 for i, m in enumerate(semi["method"])} if not semi.empty else {}
    semi_val = dict(zip(semi["method"], (interval_text(a, b, c) for a, b, c in zip(semi["mean"], semi["ci_low"],
                                                                         semi["ci_high"])))) if not semi.empty else {}
    table = table.assign(**{"semi-synthetic place": [semi_pos.get(m, float("nan")) for m in free["method"]],
                            "Spearman vs planted": [semi_val.get(m, "") for m in free["method"]]})
    table.insert(1, "truth-free place", range(1, len(table) + 1))
    cols = ["method", "truth-free place", "semi-synthetic place", "truth-free rank", *metric_cols,
            "Spearman vs planted"]
    lines += [markdown_table(table[cols], digits=0), "",
              "Directions: " + "; ".join(f"`{m}` {METRIC_INFO[m].direction}" for m in metric_cols)
              + ". Places count every method shown "
              "(floors included); the comparison below leaves the floors out.", ""]
    if not sig.available:
        lines.append("No method has both a semi-synthetic and a truth-free score: nothing to compare.")
        return lines
    n = len(sig.methods)
    lines.append(f"- Kendall tau between the two orders over the {n} methods in both: {sig.tau:.2f}"
                 + (" (with 2 methods tau is +1 or -1)." if n == 2 else "."))
    lines.append(f"- Top tier (within the best method's interval): semi-synthetic {_names(sig.semi_tier)}; "
                 f"truth-free {_names(sig.free_tier)}.")
    both = [m for m in sig.semi_tier if m in sig.free_tier]
    lines.append(f"- In both top tiers: {_names(both)}. Only semi-synthetic: {_names(sig.only_semi)}. "
                 f"Only truth-free: {_names(sig.only_free)}.")
    if sig.agree:
        lines.append("- They agree on the top: each signal's first method is in the other's top tier.")
    else:
        lines.append(f"- They disagree on the top: the truth-free first is `{sig.free_best}`, the semi-synthetic "
                     f"first is `{sig.semi_best}`; `{sig.semi_best}` is "
                     + ("within" if sig.supports else "outside") + " the truth-free top tier and "
                     f"`{sig.free_best}` outside the semi-synthetic one.")
    return lines
