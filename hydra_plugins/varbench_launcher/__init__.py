"""Hydra plugin: the varbench launcher (`hydra/launcher=varbench`), which runs a multirun's cells
in the sweep's own process, each composed once (the logic is in `varbench.batch`)."""
