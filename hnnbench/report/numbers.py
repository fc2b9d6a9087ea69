"""The report's numbers: the one parser of record and CSV values, the one seed statistic
(median and min–max over seeds) and the one spread text ('median [min–max]').

Missing numbers are NaN, never 0: a comparison with NaN is false, so a missing value can neither
pass a threshold nor count as zero noise, time or error.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from hnnbench.report.document import fmt

#: a multiple of π as the published CSV writes it: 'pi', '-pi', '2pi', '0.5pi'
_PI_SUFFIX = "pi"


def as_float(value: Any) -> float:
    """A float from a record or CSV value: numbers, 'inf' / 'nan' strings and multiples of π
    ('-2pi'); null, booleans, other text and unparsable values are NaN."""
    if value is None or isinstance(value, bool):
        return math.nan
    if isinstance(value, str) and value.strip().replace(" ", "").endswith(_PI_SUFFIX):
        factor = value.strip().replace(" ", "")[: -len(_PI_SUFFIX)]
        scale = {"": 1.0, "+": 1.0, "-": -1.0}.get(factor)
        return math.pi * (as_float(factor) if scale is None else scale)
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def seed_spread(values: Iterable[Any]) -> tuple[float, float, float]:
    """(median, min, max) over seeds of the values that are numbers (NaN left out, ±inf kept);
    NaNs when there are none."""
    array = np.asarray([as_float(v) for v in values], dtype=float)
    array = array[~np.isnan(array)]
    if array.size == 0:
        return math.nan, math.nan, math.nan
    return float(np.median(array)), float(array.min()), float(array.max())


def spread_columns(prefix: str, values: Iterable[Any]) -> dict[str, float]:
    """``{prefix}_median``, ``{prefix}_min``, ``{prefix}_max`` of ``seed_spread(values)``."""
    median, low, high = seed_spread(values)
    return {f"{prefix}_median": median, f"{prefix}_min": low, f"{prefix}_max": high}


def spread_text(median: float, low: float, high: float, unit: str = "") -> str:
    """'median [min–max]', or the median alone when it is missing or the spread is empty."""
    if math.isnan(median) or low == high:
        return fmt(median, suffix=unit)
    return f"{fmt(median, suffix=unit)} [{fmt(low)}–{fmt(high)}]"


def spread_cells(data: Any, prefix: str) -> list[str]:
    """``spread_text`` of every row's ``{prefix}_median`` / ``_min`` / ``_max`` columns."""
    columns = (data[f"{prefix}_{part}"] for part in ("median", "min", "max"))
    return [spread_text(*values) for values in zip(*columns, strict=True)]


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator; NaN when either is missing or the denominator is not positive."""
    if math.isnan(numerator) or math.isnan(denominator) or denominator <= 0:
        return math.nan
    return numerator / denominator
