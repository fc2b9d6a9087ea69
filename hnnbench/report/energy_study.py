"""The energy-trajectory study (``evaluation.trajectory``; the paper's energy-conservation figure):
one long rollout of each learned field from a fixed state, the TRUE H along it (min / max / final
per run) beside what the paper's plot shows, and the figure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from hnnbench.evaluate import TRAJECTORY_FILE
from hnnbench.report.analysis import Analysis, Context
from hnnbench.report.document import Block, Figure, Note, Para, Table, fmt
from hnnbench.report.figures import canvas, save, tidy
from hnnbench.report.labels import colour, model_kind
from hnnbench.report.numbers import as_float

#: what the paper's energy-conservation figure shows, READ OFF THE PLOT (not published numbers):
#: per model kind, (H at t = 100, the band H stays in)
PAPER_ENERGY = {
    False: {"H_final": 1.0015, "text": "drifts upward to ≈ 1.0015 by t = 100"},
    True: {"H_min": 0.99975, "H_max": 1.00025,
           "text": "oscillates within ≈ [0.99975, 1.00025], no drift"},
}  # fmt: skip
CAPTION = (
    "Energy study: the true H along each learned trajectory (left; the paper's values read "
    "off its plot for reference) and the trajectories in phase space (right)"
)
RUN_COLUMNS = ("group", "system", "case", "method", "trainer", "hamiltonian", "seed", "idx",
               "run_id", "test_xdot_rel_l2")  # fmt: skip
STUDY_NUMBERS = ("H_initial", "H_min", "H_max", "H_final", "horizon", "dt")


def energy_study_data(frame: pd.DataFrame, records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per complete run that recorded an energy trajectory (``record['trajectory']``):
    H min / max / final along it, the steps and the rollout seconds."""
    rows = []
    for _, run in frame[frame["status"] == "ok"].iterrows():
        study = records[run["idx"]].get("trajectory")
        if study:
            rows.append({
                **{k: run[k] for k in RUN_COLUMNS},
                **{k: as_float(study.get(k)) for k in STUDY_NUMBERS},
                "integrator": study.get("integrator"),
                "steps": study.get("steps"),
                "rollout_seconds": as_float(study.get("rollout_seconds")),
                "initial_state": study.get("initial_state"),
            })  # fmt: skip
    return pd.DataFrame(rows)


def energy_study_display(data: pd.DataFrame) -> pd.DataFrame:
    seven = {"H(0)": "H_initial", "min H": "H_min", "max H": "H_max", "H(T)": "H_final"}
    steps = zip(data["integrator"], data["dt"], data["horizon"], strict=True)
    return pd.DataFrame({
        "system": data["system"].map(fmt), "method": data["method"].map(fmt),
        "model": data["hamiltonian"].map(model_kind), "seed": data["seed"].map(fmt),
        "integrator, h, T": [f"{i}, {fmt(h)}, {fmt(t)}" for i, h, t in steps],
        **{head: data[column].map(lambda v: fmt(v, digits=7)) for head, column in seven.items()},
        "paper": data["hamiltonian"].map(
            lambda h: f"{PAPER_ENERGY[bool(h)]['text']} (read off the paper's plot)"),
        "rollout [s]": data["rollout_seconds"].map(fmt),
        "test rel-L2(ẋ)": data["test_xdot_rel_l2"].map(fmt),
    })  # fmt: skip


def trajectory_curve(record: Mapping[str, Any], results_dir: str) -> dict[str, np.ndarray] | None:
    """The run's ``trajectory.npz`` (beside its record): under the report's results folder as
    ``<name>/<run_id>`` or ``<run_id>``, else where the run's config put it; None when absent."""
    run_id, name = record.get("run_id"), record.get("name")
    configured = (record.get("config") or {}).get("results_dir")
    places = [Path(results_dir) / str(name) / str(run_id), Path(results_dir) / str(run_id)]
    if configured:
        places.append(Path(configured) / str(name) / str(run_id))
    for place in places:
        path = place / TRAJECTORY_FILE
        if path.is_file():
            with np.load(path, allow_pickle=False) as arrays:
                return {key: arrays[key] for key in arrays.files}
    return None


def inside_box(states: np.ndarray, domain: Sequence[Sequence[float]]) -> bool:
    """Whether every state of a trajectory (K, 2n) lies in the box."""
    box = np.asarray(domain, dtype=float)
    return bool(np.all((states >= box[:, 0]) & (states <= box[:, 1])))


def level_set(
    ax: Axes, record: Mapping[str, Any], level: float, q: np.ndarray, p: np.ndarray
) -> None:
    """The true orbit H = level (a contour of the system's H), for reference."""
    from hnnbench import systems  # the report needs the system only here

    try:
        system = systems.get(record["system"], **(record.get("system_params") or {}))
    except (KeyError, TypeError, ValueError):
        return
    if system.dof != 1:
        return
    pad_q, pad_p = 0.1 * np.ptp(q) + 1e-3, 0.1 * np.ptp(p) + 1e-3
    qq, pp = np.meshgrid(
        np.linspace(q.min() - pad_q, q.max() + pad_q, 300),
        np.linspace(p.min() - pad_p, p.max() + pad_p, 300),
    )
    energy = system.H(np.column_stack([qq.ravel(), pp.ravel()])).reshape(qq.shape)
    ax.contour(qq, pp, energy, levels=[level], colors="black", linewidths=2.5, alpha=0.3)
    ax.plot([], [], color="black", lw=2.5, alpha=0.3, label=f"true orbit H = {level:g}")


def energy_figure(
    data: pd.DataFrame, ctx: Context, curves: Mapping[int, Mapping[str, np.ndarray]]
) -> Figure | None:
    """H(t) along each learned trajectory on one axis (with what the paper's plot shows) and
    the phase portraits (q1, p1) of the same trajectories."""
    drawn = [row for _, row in data.iterrows() if row["idx"] in curves]
    if not drawn:
        return None
    fig, (left, right) = canvas(1, 2, 5.5, 4.2)
    for row in drawn:
        curve = curves[row["idx"]]
        label = f"{row['method']} ({'HNN' if row['hamiltonian'] else 'MLP'})"
        n = curve["x"].shape[1] // 2
        left.plot(curve["t"], curve["H"], color=colour(row["method"]), lw=0.8, label=label)
        right.plot(curve["x"][:, 0], curve["x"][:, n], color=colour(row["method"]), lw=0.6,
                   label=label)  # fmt: skip
    band = PAPER_ENERGY[True]
    left.axhspan(band["H_min"], band["H_max"], color="tab:green", alpha=0.12,
                 label="paper S-HNN band (read off plot)")  # fmt: skip
    left.scatter([drawn[0]["horizon"]], [PAPER_ENERGY[False]["H_final"]], marker="*", s=120,
                 color="tab:red", zorder=4,
                 label="paper S-MLP at t = 100 (read off plot)")  # fmt: skip
    left.set(xlabel="time t", ylabel="true H along the learned trajectory")
    left.ticklabel_format(axis="y", useOffset=False)
    first, record = curves[drawn[0]["idx"]], ctx.records[drawn[0]["idx"]]
    q, p = first["x"][:, 0], first["x"][:, first["x"].shape[1] // 2]
    level_set(right, record, float(first["H"][0]), q, p)
    if record.get("domain"):  # where the model was trained: an orbit beyond it is extrapolation
        domain = record["domain"]
        (q_low, q_high), (p_low, p_high) = domain[0], domain[len(domain) // 2]
        right.plot([q_low, q_high, q_high, q_low, q_low], [p_low, p_low, p_high, p_high, p_low],
                   "--", color="tab:green", lw=1, label="training box")  # fmt: skip
        right.set_xlim(min(q_low, q.min()) - 0.3, max(q_high, q.max()) + 0.3)
    right.set(xlabel="q1", ylabel="p1")
    system = drawn[0]["system"]
    tidy(left, f"{system}: energy along the learned trajectory "
               f"({drawn[0]['integrator']}, h = {drawn[0]['dt']:g})")  # fmt: skip
    tidy(right, f"{system}: phase portrait of the same trajectories")
    return save(fig, ctx.figures, "energy-study", CAPTION)


def energy_blocks(ctx: Context, data: pd.DataFrame) -> list[Block]:
    curves = {
        int(idx): curve
        for idx in data["idx"]
        if (curve := trajectory_curve(ctx.records[idx], ctx.results_dir)) is not None
    }
    seconds, steps = data["rollout_seconds"].dropna(), data["steps"].dropna()
    text = (
        "One long rollout of each learned vector field from a fixed state "
        "(`evaluation.trajectory`), and the TRUE H along it: a model that conserves energy keeps "
        "H near H(0). min / max / H(T) are over every step; the thinned curve is in each run's "
        f"`{TRAJECTORY_FILE}`. The `paper` column is what the paper's energy-conservation figure "
        "shows for the same set-up (pendulum, ELM width 500, symplectic Euler, h = 5e-4, T = 100, "
        "from (π/2, 0)), read off its plot, not published numbers. "
        f"Rollout time (learned field, {fmt(int(steps.max()) if len(steps) else None)} steps, one "
        f"thread): {fmt(seconds.min())}–{fmt(seconds.max())} s."
    )
    blocks: list[Block] = [
        Para(text),
        Table("energy_study", "Energy along the learned trajectory vs the paper's plot",
              energy_study_display(data), data.drop(columns=["idx", "initial_state"])),
    ]  # fmt: skip
    outside = [
        f"{ctx.records[idx].get('method')}"
        for idx, curve in curves.items()
        if ctx.records[idx].get("domain") and not inside_box(curve["x"], ctx.records[idx]["domain"])
    ]
    if outside:
        blocks.append(Note(
            f"The trajectory of {', '.join(outside)} leaves the training box (the domain the "
            "model was fitted on): there the learned field extrapolates, and a field without a "
            "Hamiltonian need not conserve H."
        ))  # fmt: skip
    figure = energy_figure(data, ctx, curves)
    blocks += [figure] if figure is not None else []
    if len(curves) < len(data):
        blocks.append(Note(f"{len(data) - len(curves)} run(s) have no `{TRAJECTORY_FILE}` "
                           "beside their record: not in the figure."))  # fmt: skip
    return blocks


ENERGY_STUDY = Analysis(
    "Energy along a long trajectory (energy-conservation study)",
    lambda ctx: energy_study_data(ctx.frame, ctx.records),
    energy_blocks,
)
