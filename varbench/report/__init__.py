"""The report layer: runs in the tracking store -> one prepared table -> tables, statistics,
recommendation, figures, and one document rendered as markdown and HTML.

    prepare.py    runs -> ReportData (dedup, low quality, settings, roles, truths in the table)
    metrics.py    each metric's direction and range (one place)
    stats.py      intervals, ranks, Friedman / Nemenyi / Wilcoxon-Holm (cells as blocks)
    clusters.py   datasets as the units: the seeded two-stage cluster bootstrap
    tiers.py      dataset-level intervals, mean ranks, pairwise tests and disjoint tiers (tiers.csv)
    protocol.py   the frozen leaderboard protocol (conf/leaderboard/): in-sample and held-out ranks, Kendall tau
    tables.py     score, coverage, rank, cost, ... tables and the comparison
    recommend.py  the generated recommendation
    plots.py      PNG figures
    render.py     the document model; markdown and HTML renderings
    write.py      the report's files in --out
    cli.py        `varbench report`

Studies call these functions (see experiments/*) instead of copying them.
"""
from varbench.report.metrics import METRICS, Metric, metric
from varbench.report.prepare import (CELL_KEY, ReportData, build_filter, filter_label, prepare, read_runs,
                                     role_of, truth_of)
from varbench.report.recommend import CONDITIONS, OTHER, condition_line, condition_of, recommendation
from varbench.report.render import markdown_table
from varbench.report.tables import (ceiling_table, ci_long, ci_table, ci_text, comparison, cost_table, coverage,
                                    failed_table, leaderboard, low_quality_table, ordered, rank_table, score_table,
                                    wide_comparison, with_ci)
from varbench.report.write import write_report


def main(argv: list[str] | None = None) -> int:
    """`varbench report` (see varbench.report.cli)."""
    from varbench.report.cli import main as cli_main

    return cli_main(argv)


__all__ = ["CELL_KEY", "CONDITIONS", "METRICS", "Metric", "OTHER", "ReportData", "build_filter", "ceiling_table",
           "ci_long", "ci_table", "ci_text", "comparison", "condition_line", "condition_of", "cost_table", "coverage",
           "failed_table", "filter_label", "leaderboard", "low_quality_table", "main", "markdown_table", "metric",
           "ordered", "prepare", "rank_table", "read_runs", "recommendation", "role_of", "score_table", "truth_of",
           "wide_comparison", "with_ci", "write_report"]
