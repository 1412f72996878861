"""The varbench launchers as Hydra `Launcher` plugins (Hydra instantiates plugins only from the
`hydra_plugins` package); their configs are `conf/hydra/launcher/varbench.yaml` and `varbench_ray.yaml`."""
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



class VarbenchRayLauncher(VarbenchLauncher):
    """Runs a sweep's cells in Ray tasks of `batch_size` cells, composed once in this process
    (`varbench.ray_batches.launch`); its config is `conf/hydra/launcher/varbench_ray.yaml`."""

    def __init__(self, batch_size: int, keras_reset: str, ray: DictConfig) -> None:
        super().__init__(keras_reset=keras_reset)
        self.batch_size, self.ray_cfg = batch_size, ray

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        from varbench.launcher_settings import refusal
        from varbench.schema import ConfigError

        line = refusal(config.hydra.launcher)  # varbench's sweep callback refused it already, if it ran
        if line:
            raise ConfigError(line)
        super().setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from varbench.ray_batches import launch

        assert self.config is not None and self.hydra_context is not None and self.task_function is not None
        return launch(self.hydra_context, self.task_function, self.config, job_overrides, initial_job_idx,
                      batch_size=self.batch_size, keras_reset=self.keras_reset, ray_cfg=self.ray_cfg)
