"""The jobs of a Hydra multirun, listed before Hydra launches any (``cli.py`` checks each one
first; ``progress.py`` counts them)."""

from __future__ import annotations

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf


def sweep_jobs(config: DictConfig) -> list[list[str]] | None:
    """Each job's overrides, in launch order, expanded by Hydra's basic sweeper's own rule (its
    ``params`` first, then the command line's); None for any other sweeper. ``cli.py`` checks
    every job from this list before Hydra starts."""
    sweeper = config.hydra.sweeper
    if not str(sweeper.get("_target_", "")).endswith(".BasicSweeper"):
        return None
    params = [f"{key}={value}" for key, value in (sweeper.get("params") or {}).items()]
    task = OmegaConf.to_container(config.hydra.overrides.task, resolve=False)
    assert isinstance(task, list)
    hydra = GlobalHydra.instance()
    loader = hydra.config_loader() if hydra.is_initialized() else None  # glob() sweeps need it
    parsed = OverridesParser.create(config_loader=loader).parse_overrides([*params, *task])
    batches = BasicSweeper.split_arguments(parsed, sweeper.get("max_batch_size"))
    return [list(job) for batch in batches for job in batch]
