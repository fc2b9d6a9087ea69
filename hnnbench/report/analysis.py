"""The protocol every analysis of the report follows: select records → a data frame → tables and
figures → a section.

An analysis module builds an ``Analysis`` from two functions, ``data(ctx)`` (its rows of the
report frame, reduced to the numbers it shows; empty: it has nothing to say) and
``blocks(ctx, data)`` (its paragraphs, tables and figures), and ``build.py`` lists it where its
section goes. Adding an analysis is a module with those two functions and one line there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from hnnbench.record import BadRecord
from hnnbench.report.document import Block, Para, Section


@dataclass(frozen=True)
class Context:
    """What every analysis reads: the records, their frame (``frame.to_frame``), where the
    report goes, the results folder they were read from, the record files it could not read and
    the machine check (``hnnbench doctor``) saved before the runs, if any."""

    frame: pd.DataFrame
    records: Sequence[Mapping[str, Any]]
    out_dir: Path
    results_dir: str = "results"
    bad: Sequence[BadRecord] = ()
    machine: Mapping[str, Any] | None = None  # the machine check saved before the runs

    @property
    def figures(self) -> Path:
        return self.out_dir / "figures"


@dataclass(frozen=True)
class Analysis:
    """One section of the report: ``blocks(ctx, data(ctx))`` under ``title``; no section when the
    data is empty, unless ``when_empty`` gives the paragraph it then shows."""

    title: str
    data: Callable[[Context], pd.DataFrame]
    blocks: Callable[[Context, pd.DataFrame], list[Block]]
    when_empty: str | None = None
    level: int = 2

    def sections(self, ctx: Context) -> list[Section]:
        data = self.data(ctx)
        if not data.empty:
            return [Section(self.title, self.blocks(ctx, data), self.level)]
        if self.when_empty is None:
            return []
        return [Section(self.title, [Para(self.when_empty)], self.level)]
