"""The published numbers (``hnnbench/data/paper_tables.csv``) and the parsers of their text
columns (domains like 'q in [-pi,pi]^2, p in [-1,1]^2', parameters like 'm1=m2=g=1')."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd

from hnnbench.report.numbers import as_float

PUBLISHED_CSV = Path(__file__).resolve().parents[1] / "data" / "paper_tables.csv"
_INTERVAL = re.compile(r"\[([^,\]]+),([^\]]+)\](?:\^(\d+))?")


def load_published(path: Path = PUBLISHED_CSV) -> pd.DataFrame:
    """The published numbers, one row per (table, system, params, domain, method, width, points)."""
    return pd.read_csv(path, comment=None)


def parse_domain(text: str) -> list[list[float]]:
    """'[-2pi,2pi]x[-1,1]', '[-5,5]^4', 'q in [-pi,pi]^2, p in [-1,1]^2' → a list of boxes."""
    box = []
    for low, high, power in _INTERVAL.findall(text):
        box += [[as_float(low), as_float(high)]] * int(power or 1)
    return box


def parse_params(text: str) -> dict[str, float | str]:
    """'alpha=-2,beta=-1' → dict; chained 'm1=m2=g=1' gives every name the value; parts may be
    separated by ';' too, and a value that is no number stays text ('data=snapshots')."""
    params: dict[str, float | str] = {}
    for part in re.split(r"[,;]", str(text)):
        names = part.strip().split("=")
        if len(names) < 2:
            continue
        text = names[-1].strip()
        value: float | str = as_float(text) if not math.isnan(as_float(text)) else text
        params.update({name.strip(): value for name in names[:-1]})
    return params
