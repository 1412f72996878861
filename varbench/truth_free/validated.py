"""The truth-free metrics the validity study found to agree with the truth (best first).

GENERATED from the committed study results by
`python experiments/metric_validity/analyse.py --constant results/metric_validity/validated.csv`;
do not edit. Rule: every family measured, and both the lower end of the 95% interval of Kendall
tau vs the data truth over all datasets and the smallest family mean >= 0.5.
tests/test_truth_free_validated.py checks it against that file.
"""

VALIDATED: tuple[str, ...] = ('pgu', 'pgi', 'insertion_auc', 'deletion_auc')
STUDY: str = 'validated in a reduced study (11 datasets of 3 families x 3 seeds, 15 methods, every truth-free metric but roar, roar_keep; `experiments/metric_validity/README.md`)'
