"""``hydra/launcher=slurm``: submitit's SLURM launcher, made to resume, to report and to end.

Differences from ``submitit_slurm`` (the logic lives in ``hnnbench.cluster``):

* runs whose record is already complete are not submitted (a re-run submits only the missing
  ones); the progress journal counts them as skipped;
* ``cpus_per_task``, ``mem_gb`` and ``timeout_min`` may be null: ``hnnbench``'s preflight then
  derives them from the experiment and passes them on (``cluster.plan_request``);
* while the jobs are pending and running, a line on stderr whenever their counts change;
* every job is waited for, and when some did not finish (cancelled, timed out, failed, lost)
  the sweep ends with one line naming them and exit status 1, not with the first job's
  traceback.

Hydra finds launchers only in the ``hydra_plugins`` namespace (and loads this module outside
sys.modules: no ``from __future__ import annotations`` here); this module registers the
config ``hydra/launcher=hnnbench_slurm`` that ``conf/hydra/launcher/slurm.yaml`` extends.
"""

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf, SlurmQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher
from omegaconf import OmegaConf

log = logging.getLogger(__name__)

#: this launcher's own settings (not submitit's)
OWN_KEYS = ("poll_s", "lost_after_s", "stuck_after_s")


@dataclass
class HnnbenchSlurmConf(SlurmQueueConf):
    _target_: str = "hydra_plugins.hnnbench_launcher.slurm_launcher.HnnbenchSlurmLauncher"
    # null: derived by hnnbench before submission (docs/cluster.md)
    timeout_min: Optional[int] = None  # noqa: UP045 (OmegaConf's structured configs)
    # USR2 this many seconds before the time limit: submitit's cue to checkpoint and requeue,
    # which hnnbench runs cannot use (and a limit shorter than the delay killed jobs at once);
    # 0: SLURM's own TERM at the limit, the job ends as TIMEOUT
    signal_delay_s: int = 0
    # seconds between looks at the jobs (sacct, through submitit)
    poll_s: float = 5.0
    # a job that neither sacct nor squeue knows for this long is reported lost
    lost_after_s: float = 120.0
    # pending jobs are cancelled when no node of the partition could start them for this long
    stuck_after_s: float = 600.0


ConfigStore.instance().store(
    group="hydra/launcher", name="hnnbench_slurm", node=HnnbenchSlurmConf, provider="hnnbench"
)


class HnnbenchSlurmLauncher(SlurmLauncher):
    """submitit's SlurmLauncher with hnnbench's resume, progress and failure summary."""

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        from hnnbench import cluster
        from hnnbench.progress import Journal, journal_path, swept_keys

        assert self.config is not None and self.hydra_context is not None
        numbered = [(initial_job_idx + i, list(o)) for i, o in enumerate(job_overrides)]
        journal = Journal(journal_path(self.config))
        returns: dict[int, JobReturn] = {}
        to_run = []
        for number, overrides in numbered:
            if self._complete(overrides):
                returns[number] = skipped_return(overrides)
                cluster.journal_skipped(journal, number)
            else:
                to_run.append((number, overrides))
        if returns:
            cluster.say(
                f"[slurm] {len(returns)} of {len(numbered)} runs already have a complete "
                f"record: submitting {len(to_run)}"
            )
        if to_run:
            swept = swept_keys([o for _, o in numbered])
            items = self._submit(to_run, swept)
            watch = cluster.Watch(
                items,
                returned=job_outcome,
                poll_s=float(self.params["poll_s"]),
                lost_after_s=float(self.params["lost_after_s"]),
                stuck_after_s=float(self.params["stuck_after_s"]),
                partition=self.params.get("partition"),
                on_end=lambda item: cluster.journal_end(journal, item),
                refresh=items[0].job.watcher.update,  # one sacct call for every job
            )
            for item in watch.run():
                returns[item.number] = item.result or failed_return(item)
        state = journal.state()  # the runs' own events, written by the jobs, and ours
        if state is not None:
            cluster.say(f"[sweep] {state.summary(time.time())}")
        if to_run:
            line = cluster.summary(items, skipped_before=len(numbered) - len(to_run))
            if line:
                raise SystemExit(f"hnnbench: error: {line}")
        return [returns[number] for number, _ in numbered]

    def _complete(self, overrides: list[str]) -> bool:
        """Whether the run of these overrides already has a complete record."""
        from hnnbench.record import is_complete
        from hnnbench.runner import record_path

        assert self.config is not None and self.hydra_context is not None
        try:
            config = self.hydra_context.config_loader.load_sweep_config(self.config, overrides)
            return is_complete(record_path(config))
        except Exception:  # noqa: BLE001 (cannot tell: the job decides, as it always does)
            return False

    def _submit(self, runs: list[tuple[int, list[str]]], swept: set[str]) -> list[Any]:
        """One job array for ``runs``; the tracked jobs."""
        import submitit

        from hnnbench import cluster
        from hnnbench.progress import describe

        assert self.config is not None
        params = {k: v for k, v in self.params.items() if k not in OWN_KEYS}
        missing = [k for k in ("cpus_per_task", "mem_gb", "timeout_min") if params.get(k) is None]
        if missing:
            raise SystemExit(
                f"hnnbench: error: hydra.launcher {missing} are null: start the sweep with the "
                "hnnbench command, which derives them, or set them"
            )
        executor = submitit.AutoExecutor(
            folder=params.pop("submitit_folder"),
            cluster=self._EXECUTOR,
            **{f"{self._EXECUTOR}_max_num_timeout": params.pop("max_num_timeout")},
        )
        shared = set(OmegaConf.structured(BaseQueueConf).keys())
        executor.update_parameters(
            **{(k if k in shared else f"{self._EXECUTOR}_{k}"): v for k, v in params.items()}
        )
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        numbers = [number for number, _ in runs]
        overrides = [o for _, o in runs]
        state = Singleton.get_state()
        jobs = executor.map_array(
            self,
            overrides,
            ["hydra.sweep.dir"] * len(runs),
            numbers,
            [f"job_id_for_{n}" for n in numbers],
            [state] * len(runs),
        )
        array = jobs[0].job_id.split("_")[0] if jobs else "?"
        cluster.say(f"[slurm] submitted {len(jobs)} job(s) as array {array}; logs in {sweep_dir}")
        return [
            cluster.Tracked(
                number,
                describe(filter_overrides(o), swept),
                job,
                record_complete=lambda o=o: self._complete(o),
            )
            for number, o, job in zip(numbers, overrides, jobs, strict=True)
        ]


def job_outcome(value: Any) -> tuple[str, Any]:
    """A returned job's JobReturn → (its run's status, the JobReturn)."""
    if isinstance(value, JobReturn):
        if value.status == JobStatus.COMPLETED:
            return str(value.return_value), value
        from hnnbench.checks import one_line

        error = value._return_value  # the exception raised in the job (not re-raised here)
        return f"failed ({type(error).__name__}: {one_line(str(error))[:160]})", value
    return "ok", value


def skipped_return(overrides: list[str]) -> JobReturn:
    return JobReturn(overrides=overrides, status=JobStatus.COMPLETED, _return_value="skipped")


def failed_return(item: Any) -> JobReturn:
    return JobReturn(
        overrides=[], status=JobStatus.FAILED, _return_value=RuntimeError(item.outcome)
    )
