"""How the timings were taken: the contention banner that opens a report when any timed run
shared its machine, and the machine check (``hnnbench doctor``) for the provenance.

One analysis, one module: select the timed runs → a frame of the contended ones → a table → the
section. Records before schema 3 carry no contention flag; they are counted as "not recorded",
never as clean.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from hnnbench.doctor import advice, summary_rows
from hnnbench.report.document import Note, Para, Section, Table
from hnnbench.report.frame import as_float
from hnnbench.timing import CONTENTION_RULE


def timed(frame: pd.DataFrame) -> pd.DataFrame:
    """Runs with a timed fit (a failed run may have none)."""
    return frame[frame["status"].isin(["ok", "diverged"])] if not frame.empty else frame


def contended_runs(
    frame: pd.DataFrame, records: list[Mapping[str, Any]]
) -> tuple[pd.DataFrame, int]:
    """(one row per contended timed run, the number of timed runs with no flag recorded)."""
    runs = timed(frame)
    if runs.empty or "contended" not in runs:
        return pd.DataFrame(), len(runs)
    flagged = runs[runs["contended"] == True]  # noqa: E712 (object column: True/False/None)
    rows = []
    for _, row in flagged.iterrows():
        timing = records[int(row["idx"])].get("timing") or {}
        rows.append(
            {
                "system": row["system"],
                "method": row["method"],
                "width": row["hidden_width"],
                "seed": row["seed"],
                "train time [s]": row["train_time_s"],
                "other processes [cores]": as_float(timing.get("others_cores")),
                "steal [cores]": as_float(timing.get("steal_cores")),
                "reason": timing.get("reason") or "",
            }
        )
    return pd.DataFrame(rows), int(runs["contended"].isna().sum())


def contention_section(frame: pd.DataFrame, records: list[Mapping[str, Any]]) -> Section | None:
    """The banner: None when no timed run was flagged (runs recorded before the flag existed
    are counted in the banner's note when it shows)."""
    table, unknown = contended_runs(frame, records)
    if table.empty:
        return None
    total = len(timed(frame))
    blocks: list[Any] = [
        Para(
            f"**{len(table)} of {total} timed runs shared the machine with other work** "
            "(their times, CPU utilisation and energy are not clean measurements). Verdicts "
            f"that rest on them say CONTENDED in their timings column. Rule: {CONTENTION_RULE}."
        ),
        Table("contended_runs", "Timed runs flagged contended", table),
    ]
    if unknown:
        blocks.append(
            Note(
                f"{unknown} timed run(s) have no contention flag (records written before "
                "hnnbench measured it): whether they shared the machine is unknown."
            )
        )
    return Section("Timing caveat: contended runs", blocks)


def machine_blocks(machine: Mapping[str, Any] | None) -> list[Any]:
    """The machine check saved before the runs, for the provenance section."""
    if not machine:
        return []
    rows = pd.DataFrame(summary_rows(dict(machine)), columns=["item", "value"])
    blocks: list[Any] = [
        Table("machine_check", "Machine check before the runs (hnnbench doctor)", rows)
    ]
    tips = advice(dict(machine))
    if tips:
        blocks.append(Note("The machine check advised: " + " ".join(f"({t})" for t in tips)))
    return blocks
