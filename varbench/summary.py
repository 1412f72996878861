"""The ranked summary table printed after a run and by `varbench report`."""
from __future__ import annotations

import pandas as pd



def ceiling_mask(df: pd.DataFrame) -> pd.Series:
    """Rows of ceiling methods (role=ceiling: they read the truth), from the run's `role` tag or,
    for runs logged before it existed, the registry's metadata."""
    from varbench.registry import role_of

    roles = df["role"] if "role" in df else pd.Series([None] * len(df), index=df.index)
    return pd.Series([role_of(m, r) == "ceiling" for m, r in zip(df["method"], roles)], index=df.index, dtype=bool)


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """Per method: mean Spearman, mean top-k recall, mean seconds, runs and failures, ranked
    by mean Spearman (ceilings such as the oracle are listed last, outside the ranking)."""
    if df.empty:
        return pd.DataFrame(columns=["method", "spearman", "topk_recall", "seconds", "runs", "failed"])
    for col in ("spearman", "topk_recall", "seconds"):
        if col not in df:
            df = df.assign(**{col: float("nan")})
    ceilings = set(df.loc[ceiling_mask(df), "method"])
    g = df.groupby("method", sort=False)
    out = pd.DataFrame({
        "spearman": g["spearman"].mean(),
        "topk_recall": g["topk_recall"].mean(),
        "seconds": g["seconds"].mean(),
        "runs": g.size(),
        "failed": g["status"].apply(lambda s: int((s != "ok").sum())),
    }).reset_index()
    ceiling = out["method"].isin(ceilings)
    ranked = out[~ceiling].sort_values("spearman", ascending=False, na_position="last")
    ranked.insert(0, "rank", range(1, len(ranked) + 1))
    rest = out[ceiling].assign(rank="-")
    return pd.concat([ranked, rest], ignore_index=True)


def format_summary(table: pd.DataFrame, title: str = "") -> str:
    """Plain-text rendering for the terminal."""
    if table.empty:
        return f"{title}\n(no method runs found)"
    body = table.to_string(index=False, float_format=lambda v: f"{v:.3f}")
    failed = int(table["failed"].sum())
    note = f"\n{failed} method run(s) FAILED: see the status/error tags (varbench report)." if failed else ""
    return (f"{title}\n" if title else "") + body + note
