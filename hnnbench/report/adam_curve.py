"""Our Adam against the authors' own training log: the paper's Adam, checked step by step.

The authors logged the mini-batch training loss, mean((J∇Ĥ − ẋ)²) over the batch × 2n, every
1000 steps of their headline Adam runs: ``hnnbench/data/paper_adam_curves.csv``. Their loop
prints at step s the loss of batch s computed before update s + 1; our learning curve's
``step_loss`` is the same quantity (``trainers/backprop.py``). A record is compared when it runs
the paper's preset (``preset``); the table gives, per system and logged step, the published loss,
ours and ours / published, and ``ratio_ranges`` the min–max of that ratio over the logged steps.
The time of the full protocol here is *projected* from the measured training clock per step
(curve evaluations left out).

The paper's facts come from one place each: the preset, its width, points, seeds and the full
protocol's steps from the composed config of ``experiment=paper_headline_adam`` (seed 0); the
published training times and hardware from ``paper_tables.csv``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from hnnbench.experiments import composed
from hnnbench.report.analysis import Analysis, Context
from hnnbench.report.document import Block, Figure, Para, Table, fmt
from hnnbench.report.figures import grid, positive, save, tidy
from hnnbench.report.labels import colour
from hnnbench.report.numbers import as_float
from hnnbench.report.published import load_published

PUBLISHED_CURVES = Path(__file__).resolve().parents[1] / "data" / "paper_adam_curves.csv"
#: the experiment that runs the paper's Adam preset (its headline Adam cells)
PRESET_EXPERIMENT, PRESET_TABLE, PRESET_METHOD = "paper_headline_adam", "headline_chaotic", "adam"
#: the within-factor of the done-bar: ours / published in [1/2, 2] at every logged step
TOLERANCE = 2.0
#: the trainer settings that make the preset (besides width, points, dtype and seeds)
TRAINER_KEYS = ("batch_size", "lr", "weight_decay", "grad_mode")


@functools.cache
def preset() -> tuple[dict[str, Any], dict[str, Any], int]:
    """(record fields, trainer settings, the full protocol's steps) of the paper's Adam preset:
    the composed config of ``experiment=paper_headline_adam`` (its run 0)."""
    from hnnbench.run_spec import seeds_of

    cfg = composed(PRESET_EXPERIMENT)
    seeds = seeds_of(cfg)
    fields = {"method": PRESET_METHOD, "hidden_width": int(cfg.hidden_width),
              "train_points": int(cfg.train_points), "dtype": str(cfg.hardware.dtype),
              "data_seed": seeds.data, "model_seed": seeds.model}  # fmt: skip
    return fields, {k: cfg.trainer[k] for k in TRAINER_KEYS}, int(cfg.adam_steps)


def published_runs() -> pd.DataFrame:
    """The published rows of the preset's cells (system, train_time_s, hardware)."""
    rows = load_published()
    rows = rows[(rows["table"] == PRESET_TABLE) & (rows["method"] == PRESET_METHOD)]
    return rows.drop_duplicates("system").set_index("system")


def load_published_curves(path: Path = PUBLISHED_CURVES) -> pd.DataFrame:
    """The authors' logs: columns system, step, train_loss."""
    return pd.read_csv(path, comment="#")


def runs_paper_preset(record: Mapping[str, Any]) -> bool:
    """Whether the record trained the paper's Adam preset (any number of steps)."""
    fields, settings, _ = preset()
    trainer = (record.get("config") or {}).get("trainer") or {}
    same = all(record.get(key) == value for key, value in fields.items())
    return same and all(
        math.isclose(as_float(trainer.get(k)), v) if isinstance(v, float) else trainer.get(k) == v
        for k, v in settings.items()
    )


def step_losses(record: Mapping[str, Any]) -> dict[int, float]:
    """{step: loss of that step's batch before its update} from the record's learning curve."""
    losses = {
        int(p["step"]): as_float(p.get("step_loss")) for p in record.get("learning_curve") or []
    }
    return {step: loss for step, loss in losses.items() if math.isfinite(loss)}


def checked_records(records: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """Per system, the latest complete record of the paper's preset with a logged loss."""
    chosen: dict[str, Mapping[str, Any]] = {}
    done = [r for r in records if r.get("status") == "ok" and runs_paper_preset(r)]
    for record in sorted(done, key=lambda r: str(r.get("finished_at")), reverse=True):
        if step_losses(record):  # the latest with a logged loss
            chosen.setdefault(record["system"], record)
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
            ratio = mine / float(paper) if math.isfinite(mine) else math.nan
            rows.append((system, int(step), float(paper), mine, ratio))
    return pd.DataFrame(rows, columns=["system", "step", "published_loss", "our_loss", "ratio"])


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


def projection(record: Mapping[str, Any]) -> dict[str, Any]:
    """The full protocol's training time here, projected from the measured cost per step."""
    per_step, full_steps = seconds_per_step(record), preset()[2]
    curve = record.get("learning_curve") or []
    published = published_runs()
    system = str(record.get("system"))
    known = system in published.index
    return {
        "system": record.get("system"),
        "steps_measured": int(curve[-1]["step"]) if curve else 0,
        "full_steps": full_steps,
        "ms_per_step": 1e3 * per_step,
        "threads": record.get("threads"),
        "projected_s": per_step * full_steps,
        "published_s": float(published.loc[system, "train_time_s"]) if known else math.nan,
        "published_hardware": published.loc[system, "hardware"] if known else "?",
    }


def projection_line(item: Mapping[str, Any]) -> str:
    """'the published protocol would take ≈ X h here (projection from …)'."""
    threads = item.get("threads")
    return (
        f"{item['system']}: the published protocol ({_spaced(item['full_steps'])} steps) would "
        f"take ≈ {item['projected_s'] / 3600:.1f} h here (projection from "
        f"{item['steps_measured']} steps at {item['ms_per_step']:.0f} ms/step, {threads or '?'} "
        f"thread(s); published: {_spaced(item['published_s'])} s on {item['published_hardware']})"
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
    shown = table.rename(columns={"published_loss": "published loss", "our_loss": "our loss"})
    return shown.map(fmt).assign(ratio=table["ratio"].map(lambda v: fmt(v, suffix="×")))


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


def _short(value: float) -> str:
    """1e-4 for 0.0001 (the paper's notation of a learning rate or weight decay)."""
    return f"{value:.0e}".replace("e-0", "e-").replace("e+0", "e+")


def preset_text() -> str:
    fields, settings, _ = preset()
    return (
        f"width {fields['hidden_width']}, batch {settings['batch_size']}, lr "
        f"{_short(settings['lr'])}, weight decay {_short(settings['weight_decay'])}, "
        f"{fields['dtype']}, PyTorch default initialisation from model seed "
        f"{fields['model_seed']}, data seed {fields['data_seed']}, "
        f"{_spaced(fields['train_points'])} points"
    )


def overlay(table: pd.DataFrame, published: pd.DataFrame, ctx: Context) -> Figure | None:
    """Our mini-batch training loss over the authors' log (log y), one panel per system; the
    published log is drawn to twice our last step (at least 5000) so its trend stays visible."""
    systems = list(dict.fromkeys(table["system"]))
    if not systems:
        return None
    fig, axes = grid(len(systems))
    for ax, system in zip(axes, systems, strict=False):
        ours = table[(table["system"] == system)].dropna(subset=["our_loss"])
        until = max(2 * int(ours["step"].max()) if len(ours) else 0, 5000)
        log = published[(published["system"] == system) & (published["step"] <= until)]
        ax.plot(log["step"], positive(log["train_loss"]), "-", color="0.4",
                label="published (authors' log)")  # fmt: skip
        ax.plot(ours["step"], positive(ours["our_loss"]), "o-", color=colour("adam"), label="ours")
        ax.set(yscale="log", xlabel="step", ylabel="mini-batch training loss")
        tidy(ax, system)
    caption = "Adam training loss: ours (points) over the authors' log"
    return save(fig, ctx.figures, "paper_adam_curve", caption)


def adam_blocks(ctx: Context, table: pd.DataFrame) -> list[Block]:
    blocks: list[Block] = [
        Para(
            f"Our Adam with the paper's preset ({preset_text()}) against the authors' training "
            "log: the mini-batch loss "
            "mean((J∇Ĥ − ẋ)²) over batch × 2n at step s, of batch s before its update, as their "
            "loop prints it. Our training array is drawn from the same data seed in our layout "
            "(rows of 2n uniforms; theirs: one column per coordinate) and our batches cycle "
            f"through it epoch by epoch (theirs start at s·{preset()[1]['batch_size']} mod N), so "
            "the batches differ; "
            "the initialisation and the loss are the same (with their layout the step-0 loss "
            "equals theirs to the last digit: tests/test_adam_curve.py). " + verdict(table)
        ),
        Table("paper_adam_curve", "Adam training loss: ours vs published", display(table), table),
    ]
    blocks += [
        Para(projection_line(projection(r)) + ".") for r in checked_records(ctx.records).values()
    ]
    figure = overlay(table, load_published_curves(), ctx)
    return blocks + ([figure] if figure is not None else [])


ADAM_CHECK = Analysis(
    "Adam check: our training loss vs the authors' log",
    lambda ctx: records_table(ctx.records),
    adam_blocks,
    level=3,
)
