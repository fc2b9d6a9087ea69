"""What every report figure is drawn with: matplotlib's object API (a ``Figure`` and its
``Axes``, no pyplot and no backend switch), saved as PNG and PDF.

The analyses draw their own figures; a figure function returns None when it has nothing to plot.
Per-group figures have one panel per (system, case), at most ``MAX_PANELS``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure as Canvas
from matplotlib.ticker import LogFormatterSciNotation, NullFormatter

from hnnbench.report.document import Figure

MAX_PANELS = 12
TINY = 1e-17  # floor for log axes


def canvas(rows: int, columns: int, width: float, height: float) -> tuple[Canvas, list[Axes]]:
    """A figure of rows × columns panels, each width × height inches."""
    fig = Canvas(figsize=(width * columns, height * rows))
    return fig, list(fig.subplots(rows, columns, squeeze=False).flat)


def grid(count: int, width: float = 4.2, height: float = 3.4) -> tuple[Canvas, list[Axes]]:
    """``count`` panels, three a row; the unused ones hidden."""
    columns = min(3, count)
    fig, axes = canvas(math.ceil(count / columns), columns, width, height)
    for ax in axes[count:]:
        ax.set_visible(False)
    return fig, axes


def save(fig: Canvas, folder: Path, stem: str, caption: str) -> Figure:
    folder.mkdir(parents=True, exist_ok=True)
    png, pdf = folder / f"{stem}.png", folder / f"{stem}.pdf"
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    fig.savefig(pdf)
    return Figure(caption, png, pdf)


def positive(values: Any) -> np.ndarray:
    """Finite values clipped to TINY for log axes; non-finite become NaN (not drawn)."""
    array = np.asarray(values, dtype=float)
    return np.where(np.isfinite(array), np.maximum(array, TINY), np.nan)


def tidy(ax: Axes, title: str) -> None:
    """Small panel title, no minor-tick labels (they collide on short log ranges), legend."""
    ax.set_title(title, fontsize=8)
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.yaxis.set_minor_formatter(NullFormatter())
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    if unique:
        ax.legend(unique.values(), unique.keys(), fontsize=7)


def label_short_log_axis(ax: Axes) -> None:
    """Label minor ticks of a log y axis spanning less than a decade (an error flat in the
    swept knob would otherwise show no value at all)."""
    low, high = ax.get_ylim()
    if 0 < low and high < 10 * low:
        ax.yaxis.set_minor_formatter(LogFormatterSciNotation(labelOnlyBase=False))
        ax.tick_params(axis="y", which="minor", labelsize=6)


def ok_rows(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["status"] == "ok"]


def panels(frame: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """(title, rows) per (system, case), at most MAX_PANELS."""
    groups = frame.groupby(["system", "case"], sort=False, dropna=False)
    return [(f"{system}\n{case}", rows) for (system, case), rows in groups][:MAX_PANELS]


def panel_figure(
    frame: pd.DataFrame,
    draw: Callable[[Axes, str, pd.DataFrame], bool],
    folder: Path, stem: str, caption: str,
) -> Figure | None:  # fmt: skip
    """One panel per system/case of ``frame``; ``draw(ax, title, rows)`` fills a panel and says
    whether it drew anything. No figure when ``frame`` is empty or nothing was drawn."""
    if frame.empty:
        return None
    groups = panels(frame)
    fig, axes = grid(len(groups))
    drawn = [draw(ax, title, rows) for ax, (title, rows) in zip(axes, groups, strict=False)]
    return save(fig, folder, stem, caption) if any(drawn) else None


def keyed_panels(keys: Sequence[str], count: int = 4) -> tuple[Canvas, dict[str, Axes]]:
    """One panel per key (a system), ``count`` a row at most."""
    columns = min(len(keys), count)
    fig, axes = canvas(-(-len(keys) // columns), columns, 3.2, 3.0)
    for ax in axes[len(keys) :]:
        ax.set_visible(False)
    return fig, dict(zip(keys, axes, strict=False))


def bars(median: Any, low: Any, high: Any) -> np.ndarray:
    """Non-negative error-bar lengths (below, above) around ``median``; NaN → no bar."""
    median, low, high = (np.asarray(v, dtype=float) for v in (median, low, high))
    return np.nan_to_num(np.vstack([median - low, high - median]).clip(min=0))
