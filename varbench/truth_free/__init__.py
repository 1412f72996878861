"""Truth-free metrics: judge a method's importance where the truth is unknown, from the model,
the data and the method's own output (the fourth kind of score, beside rank, magnitude and
estimand scores; `varbench.scoring.METRIC_INFO` holds their direction, range, kind and cost).

- `curves`: deletion / insertion AUC (marginal and Gaussian-conditional), PGI and PGU;
- `local`: faithfulness correlation, infidelity, max-sensitivity (local methods);
- `sanity`: the model-parameter randomisation check;
- `roar`: remove-and-retrain and keep-and-retrain (opt-in);
- `evaluate`: one method run's scores as the runner logs them, with their costs (`truth_free_scores`);
- `validated`: the metrics the validity study found to agree with the truth (generated).

The package imports nothing itself, so reading `validated` stays light.
"""
