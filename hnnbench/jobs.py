"""The jobs of a Hydra multirun, listed before Hydra launches any (``cli.py`` checks each one
first; ``progress.py`` counts them)."""

from __future__ import annotations

from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf

from hydra_plugins.hnnbench_sweeper import TARGET as GRID_SWEEPER
from hydra_plugins.hnnbench_sweeper import grid_jobs


def container(node: Any, empty: Any) -> Any:
    """A config node as plain Python (``empty`` when it is missing or null)."""
    return empty if node is None else OmegaConf.to_container(node, resolve=False)


def sweep_jobs(config: DictConfig) -> list[list[str]] | None:
    """Each job's overrides, in launch order, expanded by Hydra's basic sweeper's own rule (its
    ``params`` first, then the command line's) or by hnnbench's grid sweeper (the union of its
    grids, ``hydra_plugins/hnnbench_sweeper``); None for any other sweeper. ``cli.py`` checks
    every job from this list before Hydra starts."""
    sweeper = config.hydra.sweeper
    target = str(sweeper.get("_target_", ""))
    if not (target.endswith(".BasicSweeper") or target == GRID_SWEEPER):
        return None
    params = container(sweeper.get("params"), {})
    task = OmegaConf.to_container(config.hydra.overrides.task, resolve=False)
    assert isinstance(task, list) and isinstance(params, dict)
    hydra = GlobalHydra.instance()
    loader = hydra.config_loader() if hydra.is_initialized() else None  # glob() sweeps need it
    parser = OverridesParser.create(config_loader=loader)
    if target == GRID_SWEEPER:
        grids = container(sweeper.get("grids"), [])
        assert isinstance(grids, list)
        return grid_jobs(parser, params, grids, task)
    parsed = parser.parse_overrides([*(f"{k}={v}" for k, v in params.items()), *task])
    batches = BasicSweeper.split_arguments(parsed, sweeper.get("max_batch_size"))
    return [list(job) for batch in batches for job in batch]
