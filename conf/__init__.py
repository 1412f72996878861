"""varbench's Hydra configs, installed as the package `varbench.conf` (data only)."""
