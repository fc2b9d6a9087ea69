"""mkdocs hook: the generated parts of the docs, filled in at build time.

A page asks for a generated block with a line ``<!-- generated: NAME -->``; NAME is one of
``GENERATORS``. The blocks are built from the sources the code itself reads, so they cannot drift:

- ``config-root``, ``config-groups``: every YAML file under ``hnnbench/conf`` (each group option
  and experiment with its comment lines, what it extends, what it sweeps and its full text);
- ``record-fields``: ``hnnbench.record.FIELDS`` in order, the metric rows from the metric registry
  (``hnnbench.metrics.METRICS``) and the other fields from ``FIELD_DOCS`` below: the build fails
  when a field has no description or a description names no field;
- ``metrics``: the metric registry as a table.

An unknown NAME fails the build. ``tests/test_docs.py`` imports this file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml

from hnnbench.metrics import METRICS, Metric
from hnnbench.record import FIELDS, IDENTITY, NESTED

CONF = Path(__file__).resolve().parents[2] / "hnnbench" / "conf"
MARKER = re.compile(r"^<!-- generated: ([\w-]+) -->$", flags=re.M)
#: the order groups are listed in; a group not named here comes after these, alphabetically
GROUP_ORDER = ("system", "trainer", "data", "hardware", "hydra/launcher", "experiment")

#: what each non-metric record field holds (the metric fields are described by the registry)
FIELD_DOCS: dict[str, str] = {
    "schema_version": "record schema version (3: the timed region's clocks `cpu_time_s`, "
    "`cpu_utilisation`, `contended`, `timing`, short fits timed as the median of repeats; 2: "
    "`trainer` is the kind and inapplicable metrics are null; version 1 wrote `adam` as the "
    "trainer, read as backprop)",
    "run_id": "16 hex digits of the SHA-256 of the resolved config without output paths and "
    "protocol (`results_dir`, `name`, `hydra`, `progress`, `timing`): the run's folder name",
    "status": "`ok`, `diverged` (both complete) or `failed` (retried by a re-run)",
    "error": "the failure's message (null when ok)",
    "name": "the experiment's name, the folder under `results_dir` (`adhoc` by default)",
    "system": "system name (`hnnbench.systems.names()`)",
    "system_params": "the system's YAML parameters (`dof` included for fput and toda)",
    "domain": "the phase-space box, [[low, high], ...] per coordinate",
    "trainer": "the trainer's kind: `sampled` or `backprop`",
    "method": "elm, uswim, aswim, swim, adam, adam_tuned, lbfgs; smlp_elm, smlp_uswim, "
    "adam_mlp for the models without a Hamiltonian",
    "hamiltonian": "whether the model has an Ĥ (false for the MLPs)",
    "solver": "the sampled last-layer solver (qr_ridge, qr_svd, gelsd, normal); null for backprop",
    "rcond": "the sampled solver's rcond; under `rcond=auto` the value GCV chose",
    "rcond_mode": "`fixed` or `auto`; null for backprop",
    "hidden_width": "network width M",
    "depth": "hidden layers of the network (backprop `depth`; the sampled networks have 1)",
    "train_points": "training points (pairs for snapshot and trajectory data)",
    "test_points": "uniform test points in the domain",
    "validation_points": "held-out points (stream 1 of the data seed) on which backprop's "
    "plateau rule reads its validation error; no trainer trains on them (see Convergence)",
    "noise_std": "Gaussian noise on the training targets ẋ",
    "noise_relative": "true: the noise std is `noise_std` × the RMS of the exact targets",
    "data_source": "`derivatives`, `snapshots` or `trajectories` (config group `data`)",
    "task": "the standard HNN task of a `published` / `real_pendulum` run (spring, pendulum, "
    "two_body, three_body, real_pendulum); null otherwise",
    "dt_obs": "observation step h of snapshot and trajectory data (null for derivatives)",
    "observations": "states per trajectory L (trajectory data)",
    "trajectories": "number of trajectories R (trajectory data)",
    "state_noise_std": "Gaussian noise on observed states (snapshot and trajectory data)",
    "correction": "backward-error correction of Ĥ: `none`, `first` or `second`",
    "seed": "run index r: data seed 3943+r, model seed 992472+r, eval seed 20241126+r",
    "data_seed": "seed of the training and test points",
    "model_seed": "seed of the network's initialisation or sampling",
    "eval_seed": "seed of the rollout initial states and the outside points",
    "effective_rank": "numerical rank of the least-squares matrix at the solver's cutoff "
    "(the width for qr_ridge and normal, which cut nothing)",
    "stopped_by": "why a backprop run ended: `plateau`, `stalled`, `steps`, `max_seconds`, "
    "`target_error` or `diverged`; null for sampled trainers",
    "converged": "true when a backprop run stopped on its plateau rule (or stalled), false when "
    "a budget ended it; null for sampled trainers",
    "device": "`cpu` or `cuda`",
    "dtype": "the training arithmetic (a backprop run with `trainer.train_dtype=float32` says "
    "float32)",
    "threads": "threads for torch and BLAS",
    "contended": "true when other processes (beyond the cores the run left free, + 0.25) or "
    "the hypervisor took CPU during the timed fit (see Measurements); null in records before "
    "schema 3",
    "cpu_utilisation": "process CPU time / (fit wall time × threads) over the timed fit",
    "data_time_s": "wall time of data generation (not training)",
    "energy_method": "`rapl` (RAPL counters read), `nvml` (GPU tracked) or `estimated` "
    "(codecarbon modelled CPU power from load and TDP)",
    "energy_error": "why `energy_kwh` is null, when the tracker failed",
    "rollout": "curves thinned to ≈ 200 points, one example trajectory, the boundary rollouts' "
    "initial states and error curve",
    "near_singularity": "n-body tasks: a test rollout came closer than the data's closest "
    "approach (H ~ −1/r there); null for other systems",
    "standard_task": "a standard task's published metrics and their details (train / test "
    "MSE, energy MSE over the published horizons, the pendulum's q²+p² proxy and true H); null "
    "for box data",
    "trajectory": "the `evaluation.trajectory` study's summary (H min / max / final, rollout "
    "time); null when off. Its curve is `trajectory.npz` beside the record",
    "learning_curve": "backprop: seconds, step, train_loss, test_H_rel_l2 (adam_mlp: "
    "test_xdot_rel_l2); adam and adam_tuned add step_loss (the loss of the step's batch before "
    "its update, the paper's log), adam_tuned lr, lbfgs function_evals",
    "timing": "the timed region: repeats and per-repeat walls (`walls_s`, min, max, the "
    "warm-up's wall), CPU user and system seconds per fit, load average at start and end, "
    "other processes' and steal cores, free cores, the contention reason and rule",
    "fit_info": "what the trainer ran (solver details, first pass, malloc tuning, schedule clock…)",
    "environment": "python, torch, numpy, scipy, hydra-core, omegaconf, codecarbon versions, "
    "platform, CPU model and count, GPU, CUDA, BLAS, hnnbench commit, and `dgemm_gflops`: the "
    "machine's float64 matrix-multiply rate at the run's threads, measured once per process "
    "after the timed fit, and `threadpools`: the BLAS / OpenMP pools loaded and their thread "
    "counts (threadpoolctl) after the fit",
    "config": "the resolved config",
    "started_at": "UTC start time",
    "finished_at": "UTC end time",
}


# ---------------------------------------------------------------- the configuration


def comment_lines(text: str) -> list[str]:
    """The file's full-line comments, without ``#`` and Hydra's ``@package`` directive."""
    lines = (line.strip() for line in text.splitlines())
    comments = (line.lstrip("#").strip() for line in lines if line.startswith("#"))
    return [c for c in comments if c and not c.startswith("@package")]


def cell(text: str) -> str:
    """Text that is safe inside one Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ") or "—"


def extends(body: dict[str, Any]) -> str:
    """The ``defaults:`` entries other than ``_self_``: what the option builds on."""
    entries = []
    for entry in body.get("defaults") or []:
        if isinstance(entry, dict):
            entries += [f"{k}: {v}" for k, v in entry.items()]
        elif entry != "_self_":
            entries.append(str(entry))
    return ", ".join(f"`{e}`" for e in entries)


def settings(body: dict[str, Any], prefix: str = "") -> list[str]:
    """``key=value`` for every value the option sets (nested keys dotted), without its
    ``defaults``, ``_target_`` and ``hydra`` entries."""
    out = []
    for key, value in body.items():
        if key in ("defaults", "_target_", "hydra") and not prefix:
            continue
        if isinstance(value, dict):
            out += settings(value, f"{prefix}{key}.")
        else:
            out.append(f"{prefix}{key}={yaml_text(value)}")
    return out


def yaml_text(value: Any) -> str:
    """A scalar or list as YAML writes it (null, true, 1.0e-13 stays 1e-13)."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    return str(value)


def sweeps(body: dict[str, Any]) -> str:
    params = (((body.get("hydra") or {}).get("sweeper") or {}).get("params")) or {}
    return "; ".join(f"`{k}={v}`" for k, v in params.items())


def groups() -> dict[str, list[Path]]:
    """Config group → its option files (``base/`` files included), in GROUP_ORDER."""
    found: dict[str, list[Path]] = {}
    for path in sorted(CONF.rglob("*.yaml")):
        relative = path.relative_to(CONF)
        if len(relative.parts) == 1:
            continue  # config.yaml: the root, not a group option
        parts = relative.parts[:-1]
        group = "/".join(parts[:-1] if parts[-1] == "base" else parts)
        found.setdefault(group, []).append(path)
    ranked = sorted(found, key=lambda g: (GROUP_ORDER.index(g) if g in GROUP_ORDER else 99, g))
    return {group: found[group] for group in ranked}


def option_name(group: str, path: Path) -> str:
    return path.relative_to(CONF / group).with_suffix("").as_posix()


def group_table(group: str, paths: Iterable[Path]) -> list[str]:
    experiment = group == "experiment"
    head = "| option | what it is (its comments) | extends | sets |" + (
        " sweeps |" if experiment else ""
    )
    rows = [head, "|" + " --- |" * (5 if experiment else 4)]
    for path in paths:
        text = path.read_text()
        body = yaml.safe_load(text) or {}
        name = option_name(group, path)
        label = f"`{name}` (base)" if name.startswith("base/") else f"`{name}`"
        values = ", ".join(f"`{v}`" for v in settings(body))
        row = [label, cell(" ".join(comment_lines(text))), cell(extends(body)), cell(values)]
        row += [cell(sweeps(body))] if experiment else []
        rows.append("| " + " | ".join(row) + " |")
    return rows


def yaml_block(title: str, text: str) -> list[str]:
    """A collapsed block holding one YAML file verbatim."""
    indented = [f"    {line}" if line else "" for line in text.rstrip().splitlines()]
    return [f'??? note "{title}"', "", "    ```yaml", *indented, "    ```", ""]


def config_groups() -> str:
    out: list[str] = []
    for group, paths in groups().items():
        select = f"`{group}=NAME`" if group != "experiment" else "`experiment=NAME` (with `-m`)"
        out += [f"### `{group}/`", "", f"Select with {select}.", "", *group_table(group, paths)]
        out += ["", "Files:", ""]
        for path in paths:
            out += yaml_block(f"{group}/{option_name(group, path)}.yaml", path.read_text())
    return "\n".join(out)


def config_root() -> str:
    return "\n".join(["```yaml", (CONF / "config.yaml").read_text().rstrip(), "```"])


# ---------------------------------------------------------------- the record


def check_field_docs() -> None:
    """Every non-metric field is described, and every description names a field."""
    plain = [f for f in FIELDS if f not in METRICS]
    missing = [f for f in plain if f not in FIELD_DOCS]
    unknown = [f for f in FIELD_DOCS if f not in plain]
    if missing or unknown:
        raise ValueError(
            f"docs/hooks/generated.py FIELD_DOCS is out of date: undescribed fields {missing}, "
            f"descriptions of no field {unknown}"
        )


def metric_text(metric: Metric) -> str:
    better = "lower is better" if metric.lower_is_better else "higher is better"
    notes = [f"{metric.heading}; {metric.stage} stage; {better}"]
    notes += ["null without a Hamiltonian"] if metric.needs_hamiltonian else []
    notes += ["in the summary table"] if metric.summarised else []
    return "; ".join(notes)


def field_kind(field: str) -> str:
    if field in METRICS:
        return "metric"
    if field in NESTED:
        return "nested"
    return "identity" if field in IDENTITY else "time"


def record_fields() -> str:
    check_field_docs()
    rows = ["| field | kind | what it holds |", "| --- | --- | --- |"]
    for field in FIELDS:
        text = metric_text(METRICS[field]) if field in METRICS else FIELD_DOCS[field]
        rows.append(f"| `{field}` | {field_kind(field)} | {cell(text)} |")
    return "\n".join(rows)


def metrics_table() -> str:
    rows = [
        "| name | heading | stage | better | summarised | needs Ĥ |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for m in METRICS.values():
        better = "lower" if m.lower_is_better else "higher"
        flags = ("yes" if m.summarised else "no", "yes" if m.needs_hamiltonian else "no")
        cells = [f"`{m.name}`", cell(m.heading), m.stage, better, *flags]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


# ---------------------------------------------------------------- the hook

GENERATORS: dict[str, Callable[[], str]] = {
    "config-root": config_root,
    "config-groups": config_groups,
    "record-fields": record_fields,
    "metrics": metrics_table,
}


def fill(markdown: str) -> str:
    """Replace every generated-block marker in ``markdown``; raises on an unknown one."""

    def generate(match: re.Match[str]) -> str:
        name = match[1]
        if name not in GENERATORS:
            raise ValueError(f"unknown generated block {name!r}; allowed: {sorted(GENERATORS)}")
        return GENERATORS[name]()

    return MARKER.sub(generate, markdown)


def on_page_markdown(markdown: str, **_: Any) -> str:
    from mkdocs.exceptions import PluginError  # only the docs build has mkdocs installed

    try:
        return fill(markdown)
    except ValueError as err:
        raise PluginError(str(err)) from None
