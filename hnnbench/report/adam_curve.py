"""Our Adam against the authors' own training log: the paper's Adam, checked step by step.

The authors logged the mini-batch training loss, mean((J∇Ĥ − ẋ)²) over the batch × 2n, every
1000 steps of their 180 000-step headline runs (width 5000, batch 2048, lr 1e-4, weight decay
1e-13, float64): ``hnnbench/data/paper_adam_curves.csv``. Their loop prints at step s the loss of
batch s computed before update s + 1; our learning curve's ``step_loss`` is the same quantity
(``trainers/backprop.py``). A record is compared when it runs the paper's preset (``PRESET``);
the table gives, per system and logged step, the published loss, ours and ours / published, and
``ratio_ranges`` the min–max of that ratio over the logged steps. The time of the full protocol
here is *projected* from the measured training clock per step (curve evaluations left out).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from hnnbench.report import figures
from hnnbench.report.document import Para, Section, Table, fmt
from hnnbench.report.frame import as_float

PUBLISHED_CURVES = Path(__file__).resolve().parents[1] / "data" / "paper_adam_curves.csv"
#: the published protocol's length and its training times (paper_tables.csv, headline_chaotic)
FULL_STEPS = 180_000
PUBLISHED_SECONDS = {"double_pendulum": 10485.4, "henon_heiles": 13140.6}
PUBLISHED_HARDWARE = "a 64-thread CPU node"
#: the within-factor of the done-bar: ours / published in [1/2, 2] at every logged step
TOLERANCE = 2.0
#: the paper's preset: (record field or trainer config key, value)
PRESET = {
    "method": "adam",
    "hidden_width": 5000,
    "train_points": 20000,
    "dtype": "float64",
    "data_seed": 3943,
    "model_seed": 992472,
}
TRAINER_PRESET = {"batch_size": 2048, "lr": 1e-4, "weight_decay": 1e-13, "grad_mode": "autograd"}


def load_published_curves(path: Path = PUBLISHED_CURVES) -> pd.DataFrame:
    """The authors' logs: columns system, step, train_loss."""
    return pd.read_csv(path, comment="#")


def runs_paper_preset(record: Mapping[str, Any]) -> bool:
    """Whether the record trained the paper's Adam preset (any number of steps)."""
    trainer = (record.get("config") or {}).get("trainer") or {}
    same = all(record.get(key) == value for key, value in PRESET.items())
    return same and all(
        math.isclose(float(trainer.get(k, math.nan)), v) if isinstance(v, float)
        else trainer.get(k) == v
        for k, v in TRAINER_PRESET.items()
    )  # fmt: skip


def step_losses(record: Mapping[str, Any]) -> dict[int, float]:
    """{step: loss of that step's batch before its update} from the record's learning curve."""
    curve = record.get("learning_curve") or []
    out = {}
    for point in curve:
        value = as_float(point.get("step_loss"))
        if math.isfinite(value):
            out[int(point["step"])] = value
    return out


def checked_records(records: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """Per system, the latest complete record of the paper's preset with a logged loss."""
    chosen: dict[str, Mapping[str, Any]] = {}
    for record in records:
        if record.get("status") != "ok" or not runs_paper_preset(record):
            continue
        if not step_losses(record):
            continue
        system = record.get("system")
        if system not in chosen or str(record.get("finished_at")) > str(
            chosen[system].get("finished_at")
        ):
            chosen[system] = record
    return chosen


def curve_table(ours: Mapping[str, Mapping[int, float]], published: pd.DataFrame) -> pd.DataFrame:
    """One row per system and published step up to our last logged step: published, ours and
    ours / published (NaN where we logged no loss at that step)."""
    rows = []
    for system, losses in ours.items():
        if not losses:
            continue
        last = max(losses)
        log = published[(published["system"] == system) & (published["step"] <= last)]
        for step, paper in zip(log["step"], log["train_loss"], strict=True):
            mine = losses.get(int(step), math.nan)
            rows.append(
                {
                    "system": system,
                    "step": int(step),
                    "published_loss": float(paper),
                    "our_loss": mine,
                    "ratio": mine / float(paper) if math.isfinite(mine) else math.nan,
                }
            )
    columns = ["system", "step", "published_loss", "our_loss", "ratio"]
    return pd.DataFrame(rows, columns=columns)


def ratio_ranges(table: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """Per system, (min, max) of ours / published over the steps both logged."""
    logged = table.dropna(subset=["ratio"])
    return {
        system: (float(rows["ratio"].min()), float(rows["ratio"].max()))
        for system, rows in logged.groupby("system", sort=False)
    }


def missing_steps(table: pd.DataFrame) -> dict[str, list[int]]:
    """Per system, the published steps (within our run) at which we logged no loss."""
    gaps = table[table["ratio"].isna()]
    return {s: [int(v) for v in rows["step"]] for s, rows in gaps.groupby("system", sort=False)}


def seconds_per_step(record: Mapping[str, Any]) -> float:
    """The training clock (curve evaluations left out) over the steps done."""
    curve = record.get("learning_curve") or []
    if not curve:
        return math.nan
    last = curve[-1]
    steps = int(last.get("step") or 0)
    return as_float(last.get("seconds")) / steps if steps > 0 else math.nan


def projection(record: Mapping[str, Any], full_steps: int = FULL_STEPS) -> dict[str, Any]:
    """The full protocol's training time here, projected from the measured cost per step."""
    per_step = seconds_per_step(record)
    curve = record.get("learning_curve") or []
    return {
        "system": record.get("system"),
        "steps_measured": int(curve[-1]["step"]) if curve else 0,
        "ms_per_step": 1e3 * per_step,
        "threads": record.get("threads"),
        "projected_s": per_step * full_steps,
        "published_s": PUBLISHED_SECONDS.get(str(record.get("system")), math.nan),
    }


def projection_line(item: Mapping[str, Any]) -> str:
    """'the published protocol would take ≈ X h here (projection from …)'."""
    threads = item.get("threads")
    return (
        f"{item['system']}: the published protocol ({_spaced(FULL_STEPS)} steps) would take "
        f"≈ {item['projected_s'] / 3600:.1f} h here (projection from {item['steps_measured']} "
        f"steps at {item['ms_per_step']:.0f} ms/step, {threads or '?'} thread(s); published: "
        f"{_spaced(item['published_s'])} s on {PUBLISHED_HARDWARE})"
    )


def _spaced(value: float) -> str:
    return f"{value:,.0f}".replace(",", " ") if math.isfinite(value) else "—"


def summary_line(table: pd.DataFrame) -> str | None:
    """One line for the fidelity summary: the ratio range per system, or None."""
    ranges = ratio_ranges(table)
    if not ranges:
        return None
    parts = [f"{s} {fmt(lo)}–{fmt(hi)}×" for s, (lo, hi) in ranges.items()]
    steps = int(table.dropna(subset=["ratio"])["step"].max())
    return f"Adam training loss, ours / published, steps 0–{steps}: " + ", ".join(parts)


def records_table(
    records: Sequence[Mapping[str, Any]], published: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The comparison table of the records that ran the paper's preset (empty without one)."""
    chosen = checked_records(records)
    published = load_published_curves() if published is None else published
    return curve_table({s: step_losses(r) for s, r in chosen.items()}, published)


def fidelity_line(
    records: Sequence[Mapping[str, Any]], published: pd.DataFrame | None = None
) -> str | None:
    """The fidelity summary's Adam item straight from the records (None without a check run)."""
    return summary_line(records_table(records, published))


def display(table: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "system": table["system"],
            "step": table["step"].map(fmt),
            "published loss": table["published_loss"].map(fmt),
            "our loss": table["our_loss"].map(fmt),
            "ratio": table["ratio"].map(lambda v: fmt(v, suffix="×")),
        }
    )


def verdict(table: pd.DataFrame) -> str:
    ranges = ratio_ranges(table)
    inside = [s for s, (lo, hi) in ranges.items() if lo >= 1 / TOLERANCE and hi <= TOLERANCE]
    outside = sorted(set(ranges) - set(inside))
    text = f"Within {TOLERANCE:g}× of the published loss at every logged step: "
    text += ", ".join(inside) if inside else "none"
    if outside:
        text += f"; not within {TOLERANCE:g}×: " + ", ".join(outside)
    gaps = missing_steps(table)
    if gaps:
        text += "; no loss of ours at " + "; ".join(f"{s} step(s) {v}" for s, v in gaps.items())
    return text + "."


def section(
    records: Sequence[Mapping[str, Any]], folder: Path, published: pd.DataFrame | None = None
) -> Section | None:
    """The Adam check for the paper report, or None without a record of the paper's preset."""
    chosen = checked_records(records)
    if not chosen:
        return None
    published = load_published_curves() if published is None else published
    table = curve_table({s: step_losses(r) for s, r in chosen.items()}, published)
    blocks: list[Any] = [
        Para(
            "Our Adam with the paper's preset (width 5000, batch 2048, lr 1e-4, weight decay "
            "1e-13, float64, PyTorch default initialisation from model seed 992472, data seed "
            "3943, 20 000 points) against the authors' training log: the mini-batch loss "
            "mean((J∇Ĥ − ẋ)²) over batch × 2n at step s, of batch s before its update, as their "
            "loop prints it. Our training array is drawn from the same data seed in our layout "
            "(rows of 2n uniforms; theirs: one column per coordinate) and our batches cycle "
            "through it epoch by epoch (theirs start at s·2048 mod N), so the batches differ; "
            "the initialisation and the loss are the same (with their layout the step-0 loss "
            "equals theirs to the last digit: tests/test_adam_curve.py). " + verdict(table)
        ),
        Table("paper_adam_curve", "Adam training loss: ours vs published", display(table), table),
    ]
    blocks += [Para(projection_line(projection(r)) + ".") for r in chosen.values()]
    figure = figures.adam_curve_overlay(table, published, folder, "paper_adam_curve")
    blocks += [figure] if figure is not None else []
    return Section("Adam check: our training loss vs the authors' log", blocks, level=3)
