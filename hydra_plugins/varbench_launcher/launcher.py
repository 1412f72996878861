"""The varbench launcher as a Hydra `Launcher` plugin (Hydra instantiates plugins only from the
`hydra_plugins` package); its config is `conf/hydra/launcher/varbench.yaml`."""
from __future__ import annotations

from typing import Sequence

from hydra.core.utils import JobReturn
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


class VarbenchLauncher(Launcher):
    """Runs a sweep's cells in this process, each composed once (`varbench.batch.launch`)."""

    def __init__(self, keras_reset: str = "auto") -> None:
        super().__init__()
        self.keras_reset = keras_reset
        self.config: DictConfig | None = None
        self.task_function: TaskFunction | None = None
        self.hydra_context: HydraContext | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        from varbench.composed import share

        self.config, self.hydra_context, self.task_function = config, hydra_context, task_function
        share(hydra_context.config_loader)  # the sweeper's own check of each batch reuses the composed configs

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from varbench.batch import launch

        assert self.config is not None and self.hydra_context is not None and self.task_function is not None
        return launch(self.hydra_context, self.task_function, self.config, job_overrides, initial_job_idx,
                      keras_reset=self.keras_reset)

