"""The Hydra entry point: compose the config, run one configuration, write its record.

hnnbench system=henon_heiles trainer=aswim
hnnbench -m system=pendulum,spring trainer=aswim,adam seed=0,1,2

Bad input ends the command before any work with one line on stderr,
``hnnbench: error: <what is wrong and what is allowed>``, and exit status 2: ``preflight``
composes the configuration of the run, or of every job of a sweep, and runs ``runner.check`` on
each before Hydra starts anything. Hydra's own composition errors (an unknown group option, a
key not in the config, a malformed override) are reported the same way. With
``HYDRA_FULL_ERROR=1`` the error is raised with its full traceback instead, as Hydra does.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import NoReturn

import hydra
from hydra.errors import HydraException, MissingConfigException, OverrideParseException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from hnnbench.checks import ConfigError, one_line, writable_folder
from hnnbench.jobs import sweep_jobs
from hnnbench.runner import check, run

#: the configs ship inside the package (hnnbench/conf; the checkout's top-level conf/ links here)
CONFIG_DIR = "conf"
CONFIG_MODULE = "hnnbench.conf"
CONFIG_NAME = "config"
#: Hydra flags that do not run anything (help, config printing, ...) or choose other configs:
#: preflight leaves those command lines to Hydra
HYDRA_ONLY = (
    "help", "hydra_help", "cfg", "info", "shell_completion", "experimental_rerun", "config_path",
    "config_name", "config_dir",
)  # fmt: skip


def reject(err: ConfigError) -> NoReturn:
    """One line on stderr and exit status 2; the traceback only with HYDRA_FULL_ERROR=1."""
    if os.environ.get("HYDRA_FULL_ERROR") == "1":
        raise err
    print(f"hnnbench: error: {err}", file=sys.stderr, flush=True)
    raise SystemExit(2)


def hydra_message(err: BaseException) -> str:
    """Hydra's or OmegaConf's multi-line error as one line, with a missing option's choices."""
    if isinstance(err, OverrideParseException):
        return f"cannot parse the override {err.override!r}: {one_line(err)}"
    if isinstance(err, MissingConfigException):
        text = one_line(str(err).split("\nAvailable options")[0])
        return f"{text}; allowed: {list(err.options)}" if err.options else text
    cause = err.__cause__
    extra = f"; {one_line(cause)}" if isinstance(cause, OmegaConfBaseException) else ""
    return one_line(err) + extra


def preflight(argv: Sequence[str]) -> list[str]:
    """Check the command line's configuration before Hydra starts (the module docstring); exits
    with status 2 on bad input, returns when everything can run: with the overrides that give
    a SLURM sweep its derived resources (``cluster.py``), else none."""
    from hydra._internal.utils import get_args_parser
    from hydra.core.global_hydra import GlobalHydra
    from hydra.types import RunMode

    args = get_args_parser().parse_args(argv)  # Hydra's own parser: its errors, its exits
    if any(getattr(args, flag) for flag in HYDRA_ONLY):
        return []
    mode = RunMode.MULTIRUN if args.multirun else RunMode.RUN
    try:
        with hydra.initialize_config_module(CONFIG_MODULE, version_base="1.3"):
            gh = GlobalHydra.instance()
            assert gh.hydra is not None
            cfg = gh.hydra.compose_config(CONFIG_NAME, args.overrides, run_mode=mode)
            if mode == RunMode.RUN:
                check(cfg)
                return []
            jobs = sweep_jobs(cfg)  # None: another sweeper, each job checks itself
            loader = gh.config_loader()
            if on_slurm(cfg):
                return slurm_plan(cfg, [loader.load_sweep_config(cfg, job) for job in jobs or []])
            for job in jobs or []:
                check(loader.load_sweep_config(cfg, job))
            # the sweep's own Hydra folder goes under the unswept results_dir
            writable_folder("results_dir", cfg.results_dir)
            return []
    except ConfigError as err:
        reject(err)
    except (HydraException, OmegaConfBaseException, ValueError) as err:  # Hydra's composition
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        reject(ConfigError(hydra_message(err)))


def on_slurm(cfg: DictConfig) -> bool:
    """Whether the sweep goes through hnnbench's SLURM launcher (``hydra/launcher=slurm``)."""
    return str(cfg.hydra.launcher.get("_target_", "")).endswith(".HnnbenchSlurmLauncher")


def slurm_plan(cfg: DictConfig, jobs: Sequence[DictConfig]) -> list[str]:
    """Check every job against the partition's nodes (not this machine), print the request
    each job makes and return the overrides that submit it (``cluster.plan_request``)."""
    from hnnbench.cluster import JobNeeds, partition_info, plan_request, say
    from hnnbench.resources import MiB, estimate_peak_bytes, estimate_seconds

    launcher = cfg.hydra.launcher
    if not jobs and None in (launcher.cpus_per_task, launcher.mem_gb, launcher.timeout_min):
        raise ConfigError(
            "hydra/launcher=slurm derives each job's resources from the basic sweeper's jobs; "
            "with another sweeper set hydra.launcher.cpus_per_task, mem_gb and timeout_min"
        )
    partition = partition_info(launcher.partition)
    node = partition.largest
    where = f"partition {partition.name!r}'s largest node"
    needs = []
    for job in jobs:
        spec = check(job, memory=node.memory_mb * MiB, where=where)
        system, trainer = spec.system, spec.trainer
        label = " ".join(job.hydra.overrides.task)
        needs.append(
            JobNeeds(
                label if len(label) <= 120 else label[:119] + "…",
                job.hardware.threads,
                estimate_peak_bytes(job, system, trainer),
                estimate_seconds(job, system, trainer),
            )
        )
    writable_folder("results_dir", cfg.results_dir)
    if not needs:
        return []
    request = plan_request(launcher, needs, partition)
    say(request.describe(len(needs), partition))
    return request.overrides()


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name=CONFIG_NAME)
def task(cfg: DictConfig) -> str:
    """One run (one job of a sweep). Its configuration was checked by ``preflight``; a check
    that fails here anyway (a folder made unwritable since) ends the sweep the same way."""
    try:
        return run(cfg)
    except ConfigError as err:
        reject(err)


def main() -> None:
    """``hnnbench [-m] OVERRIDES``: preflight, then Hydra; ``hnnbench doctor``: machine check."""
    if sys.argv[1:2] == ["doctor"]:
        from hnnbench import doctor

        sys.exit(doctor.main(sys.argv[2:]))
    sys.argv += preflight(sys.argv[1:])
    task()


if __name__ == "__main__":
    main()
