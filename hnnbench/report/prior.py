"""Is the Hamiltonian prior worth it? {sampled, backprop} × {HNN, MLP} on the same problem.

Where a problem (group, system, case, points) has runs of a Hamiltonian model (HNN: Ĥ,
ẋ̂ = J∇Ĥ) and of one without (MLP: ẋ̂ predicted directly), one row per configuration of each
cell with the median [min–max] over seeds of metrics defined for both kinds of model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from hnnbench.report.analysis import Analysis, Context
from hnnbench.report.document import Block, Figure, Para, Table, fmt
from hnnbench.report.figures import MAX_PANELS, TINY, canvas, save, tidy
from hnnbench.report.labels import COLUMNS, heading, model_kind
from hnnbench.report.numbers import spread_cells
from hnnbench.report.summary import seed_rows, seeds_text, varying

#: a problem on which HNN and MLP runs are compared
PRIOR_KEYS = ["group", "system", "case", "train_points"]
#: a cell row: how it was trained, whether the model has a Hamiltonian, the configuration
PRIOR_CELL = ["trainer", "hamiltonian", "method", "hidden_width", "lr"]
#: what the 2 × 2 table compares (every one defined for both kinds of model)
PRIOR_METRICS = (
    "test_xdot_rel_l2",
    "valid_prediction_time",
    "rollout_rel_error_final",
    "energy_drift",
    "train_time_s",
)
PRIOR_INTRO = (
    "Where a system has runs of Hamiltonian models (HNN: Ĥ, ẋ̂ = J∇Ĥ) and of models without "
    "one (MLP: ẋ̂ predicted directly — `smlp`, `adam_mlp`), each trained by sampling and by "
    "backprop: what the Hamiltonian prior buys (rows HNN vs MLP) next to what sampling buys "
    "(rows sampled vs backprop). Median [min–max] over seeds; the energy drift uses the TRUE H "
    "along the learned rollouts (`evaluation.integrator`), so it applies to both kinds of "
    "model; test rel-L2(H) does not (MLP: none) and is left out here."
)
PRIOR_CAPTION = (
    "Is the Hamiltonian prior worth it? {sampled, backprop} × {HNN, MLP}: test error of ẋ and "
    "energy drift vs training time (median, bars min–max over seeds)"
)
TRAINING = {"sampled": ("tab:blue", 0), "backprop": ("tab:orange", 1)}  # colour, order


def prior_data(frame: pd.DataFrame) -> pd.DataFrame:
    """{sampled, backprop} × {Hamiltonian, not}: one row per configuration of each cell (median,
    min, max over complete seeds of ``PRIOR_METRICS``), on every problem that has runs of both a
    Hamiltonian model and one without (an MLP); sampled first, the HNN first, per problem."""
    known = frame[frame["hamiltonian"].notna()]
    both = known.groupby(PRIOR_KEYS, dropna=False)["hamiltonian"].transform("nunique") == 2
    rows = seed_rows(known[both], [*PRIOR_KEYS, *PRIOR_CELL], PRIOR_METRICS)
    if not rows:
        return pd.DataFrame(columns=[*PRIOR_KEYS, *PRIOR_CELL, "runs", "seeds_ok"])
    data = pd.DataFrame(rows)
    data["_order"] = [
        (TRAINING.get(t, (None, 2))[1], not h)
        for t, h in zip(data["trainer"], data["hamiltonian"], strict=True)
    ]
    data["_problem"] = data.groupby(PRIOR_KEYS, dropna=False, sort=False).ngroup()
    data = data.sort_values(["_problem", "_order"], kind="stable")
    return data.drop(columns=["_order", "_problem"]).reset_index(drop=True)


def prior_display(data: pd.DataFrame) -> pd.DataFrame:
    shown = [k for k in varying(data, PRIOR_KEYS) if k != "train_points"]
    table = pd.DataFrame({COLUMNS[k]: data[k].map(fmt) for k in shown})
    table["training"] = data["trainer"].map(fmt)
    table["model"] = data["hamiltonian"].map(model_kind)
    table["method"] = data["method"].map(fmt)
    table["width"] = data["hidden_width"].map(fmt)
    table["seeds (ok/runs)"] = seeds_text(data)
    for metric in PRIOR_METRICS:
        table[heading(metric)] = spread_cells(data, metric)
    return table


def points(ax: Axes, rows: pd.DataFrame, metric: str) -> None:
    """One marker per cell configuration at (median train time, median metric), min–max bars;
    colour: sampled / backprop; filled circle: HNN, open square: MLP."""
    for _, row in rows.iterrows():
        tone = TRAINING.get(row["trainer"], ("grey", 2))[0]
        x = row["train_time_s_median"]
        y = [row[f"{metric}_{k}"] for k in ("median", "min", "max")]
        if not (np.isfinite(x) and np.isfinite(y[0])) or x <= 0:
            continue
        ax.errorbar(
            x, max(y[0], TINY), yerr=[[max(y[0] - y[1], 0)], [max(y[2] - y[0], 0)]],
            fmt="o" if row["hamiltonian"] else "s", color=tone, ms=7, capsize=3,
            mfc=tone if row["hamiltonian"] else "white",
            label=f"{row['trainer']} {'HNN' if row['hamiltonian'] else 'MLP'} ({row['method']})",
        )  # fmt: skip


def prior_figure(data: pd.DataFrame, ctx: Context) -> Figure:
    """Per problem: test rel-L2(ẋ) and energy drift against training time for the four cells."""
    problems = list(data.groupby(PRIOR_KEYS, sort=False, dropna=False))[: MAX_PANELS // 2]
    fig, axes = canvas(len(problems), 2, 4.75, 3.6)
    metrics = ("test_xdot_rel_l2", "energy_drift") * len(problems)
    for i, (ax, metric) in enumerate(zip(axes, metrics, strict=True)):
        key, rows = problems[i // 2]
        points(ax, rows, metric)
        ylabel = heading(metric) + (" (true H, rollouts)" if metric == "energy_drift" else "")
        ax.set(xscale="log", yscale="log", xlabel=heading("train_time_s"), ylabel=ylabel)
        tidy(ax, f"{key[1]} ({key[0]})\n{key[2]}")
    return save(fig, ctx.figures, "prior-2x2", PRIOR_CAPTION)


def prior_blocks(ctx: Context, data: pd.DataFrame) -> list[Block]:
    title = "Hamiltonian prior × training (median [min–max] over seeds)"
    table = Table("prior_2x2", title, prior_display(data), data)
    return [Para(PRIOR_INTRO), table, prior_figure(data, ctx)]


PRIOR = Analysis(
    "Is the Hamiltonian prior worth it? (HNN vs MLP)",
    lambda ctx: prior_data(ctx.frame),
    prior_blocks,
)
