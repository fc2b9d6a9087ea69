"""A Hydra sweeper whose jobs are the union of several grids: ``hydra/sweeper: grids``.

Hydra's basic sweeper runs ONE cartesian grid. An experiment whose arms need different grids
(the standard HNN tasks: each backprop model at its published width over several seeds, the
sampled models over a width ladder) would otherwise be several experiments. Here ``params`` are
shared by every grid and each entry of ``grids`` adds its own keys::

    hydra:
      sweeper:
        params: {task: "spring,pendulum"}
        grids:
          - {trainer: "hnn_published,mlp_published", hidden_width: 200, seed: "0,1"}
          - {trainer: "aswim,smlp", hidden_width: "50,100,200", seed: "0,1"}

Jobs: grid by grid, each expanded by the basic sweeper's own rule (params, then the grid's keys,
then the command line; a later value of a key replaces an earlier one, so the command line wins
in every grid); a job that an earlier grid already produced (the same overrides) is dropped.
``jobs.sweep_jobs`` lists the same jobs for the command-line checks and the progress line.
Hydra instantiates sweepers only from its ``hydra_plugins`` namespace package, hence this
module's home (shipped with hnnbench, ``pyproject.toml``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override

TARGET = "hydra_plugins.hnnbench_sweeper.GridSweeper"


def as_overrides(params: Mapping[str, Any] | None) -> list[str]:
    return [f"{key}={value}" for key, value in (params or {}).items()]


def grid_jobs(
    parser: OverridesParser,
    params: Mapping[str, Any] | None,
    grids: Sequence[Mapping[str, Any]] | None,
    arguments: Sequence[str],
) -> list[list[str]]:
    """Every job's overrides, grid after grid, duplicates dropped (module docstring)."""
    jobs: list[list[str]] = []
    seen: set[frozenset[str]] = set()
    for grid in grids or [{}]:
        parsed = parser.parse_overrides([*as_overrides(params), *as_overrides(grid), *arguments])
        for batch in BasicSweeper.split_arguments(parsed, None):
            for job in batch:
                key = frozenset(job)
                if key not in seen:
                    seen.add(key)
                    jobs.append(list(job))
    return jobs


class GridSweeper(BasicSweeper):
    """The basic sweeper over the union of ``grids`` (each combined with ``params``)."""

    def __init__(
        self,
        max_batch_size: int | None = None,
        params: dict[str, str] | None = None,
        grids: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(max_batch_size, params)
        self.grids = [dict(grid) for grid in grids or []]
        self.arguments: list[str] = []

    def sweep(self, arguments: list[str]) -> Any:
        self.arguments = list(arguments)
        return super().sweep(arguments)

    def split_arguments(  # type: ignore[override]
        self, overrides: list[Override], max_batch_size: int | None
    ) -> list[list[list[str]]]:
        """The basic sweeper calls this with params + command line parsed; the jobs are
        re-expanded grid by grid from ``params``, ``grids`` and the command line instead."""
        assert self.hydra_context is not None
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        jobs = grid_jobs(parser, self.params, self.grids, self.arguments)
        size = len(jobs) if max_batch_size in (None, -1) else int(max_batch_size)
        return [jobs[i : i + size] for i in range(0, len(jobs), max(size, 1))]
