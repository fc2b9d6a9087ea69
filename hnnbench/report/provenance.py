"""Provenance: when the runs ran, the energy method, the hardware and versions, and the commands
that regenerate the records and the report."""

from __future__ import annotations

import pandas as pd

from hnnbench.experiments import experiment_command, is_experiment, paper_experiment
from hnnbench.experiments import pipeline_command as pipeline
from hnnbench.report.analysis import Analysis, Context
from hnnbench.report.document import Block, Code, Note, Para, Table, fmt
from hnnbench.report.measurement import machine_blocks

ESTIMATED_CAVEAT = (
    "Energy of {count} run(s) is `estimated`: codecarbon modelled CPU power from load and the "
    "CPU's TDP (no RAPL or GPU counters on this machine), so energy and CO₂ are not measured and "
    "their ratios mostly track the time ratios."
)


def environment_table(ctx: Context) -> pd.DataFrame:
    """The distinct (hardware, versions) of the runs, with how many runs each."""
    rows = []
    for idx in ctx.frame["idx"]:
        record = ctx.records[idx]
        env = record.get("environment") or {}
        rows.append(
            {
                "cpu": env.get("cpu_model"),
                "cores": env.get("cpu_count"),
                "gpu": env.get("gpu_name") or "none",
                "device": record.get("device"),
                "threads": fmt(record.get("threads")),
                **{k: env.get(k) for k in ("python", "torch", "numpy", "scipy")},
                "commit": env.get("hnnbench_commit"),
            }
        )
    data = pd.DataFrame(rows).astype(str)
    return data.groupby(list(data.columns), sort=False).size().reset_index(name="runs")


def commands(ctx: Context) -> list[str]:
    """One command per experiment folder, then the report's and the paper pipeline's."""
    lines = []
    for name, rows in ctx.frame.groupby("name", sort=False):
        config = ctx.records[rows["idx"].iloc[0]].get("config") or {}
        if is_experiment(name):
            lines.append(" ".join(experiment_command(name, config.get("results_dir", "results"))))
        else:
            lines.append(f"# {name}: ad-hoc runs; overrides are in each record's `config`")
    lines.append(f"hnnbench-report {ctx.results_dir}")
    lite = {paper_experiment(n).lite for n in ctx.frame["name"] if paper_experiment(n)}
    return lines + [pipeline("paper", x, "--report-only") for x in lite]


def provenance_blocks(ctx: Context, frame: pd.DataFrame) -> list[Block]:
    started = [r.get("started_at") for r in ctx.records if r.get("started_at")]
    finished = [r.get("finished_at") for r in ctx.records if r.get("finished_at")]
    methods = frame["energy_method"].fillna("none").value_counts().to_dict()
    blocks: list[Block] = [
        Para(
            f"Runs from {min(started, default='?')} to {max(finished, default='?')} (UTC). "
            f"Energy method: {', '.join(f'{k} ({v} runs)' for k, v in methods.items())}."
        )
    ]
    estimated = int((frame["energy_method"] == "estimated").sum())
    if estimated:
        blocks.append(Note(ESTIMATED_CAVEAT.format(count=estimated)))
    return blocks + [
        Table("environment", "Hardware and versions", environment_table(ctx)),
        *machine_blocks(ctx.machine),
        Para("Commands that regenerate these records and this report:"),
        Code(commands(ctx)),
    ]


PROVENANCE = Analysis("Provenance", lambda ctx: ctx.frame, provenance_blocks)
