"""What the report calls things: method order, display names, stable colours, column labels and
metric headings (from the metric registry, ``hnnbench.metrics``)."""

from __future__ import annotations

import zlib
from typing import Any

from matplotlib import colormaps

from hnnbench.metrics import heading

#: methods in the order tables and figures list them (the paper's first)
METHOD_ORDER = (
    "elm", "uswim", "aswim", "swim", "adam", "adam_tuned", "lbfgs", "smlp_elm", "smlp_uswim",
    "adam_mlp",
)  # fmt: skip
#: display names of methods and systems (paper-shaped tables)
NAMES = {
    "elm": "ELM",
    "uswim": "U-SWIM",
    "aswim": "A-SWIM",
    "swim": "SWIM",
    "adam": "Adam",
    "double_pendulum": "Double pendulum",
    "henon_heiles": "Hénon–Heiles",
    "pendulum": "Pendulum",
    "lotka_volterra": "Lotka–Volterra",
}
#: frame columns → table heads
COLUMNS = {
    "group": "experiment",
    "system": "system",
    "case": "parameters; domain",
    "method": "method",
    "hidden_width": "width",
    "train_points": "points",
    "lr": "lr",
}
#: whether a model has a Hamiltonian → its kind
MODEL = {True: "HNN (Ĥ)", False: "MLP (no H)"}
#: methods of the known order take the first palette colours; any other a stable one after them
_PALETTE, _KNOWN, _OTHERS = "tab10", 5, 5


def method_rank(method: str) -> int:
    """A method's place in ``METHOD_ORDER`` (every other method after them)."""
    return METHOD_ORDER.index(method) if method in METHOD_ORDER else len(METHOD_ORDER)


def colour(method: str) -> tuple[float, float, float, float]:
    """The method's colour, the same in every build (a checksum of the name, not ``hash``)."""
    if method in METHOD_ORDER:
        index = METHOD_ORDER.index(method)
    else:
        index = _KNOWN + zlib.crc32(method.encode()) % _OTHERS
    return colormaps[_PALETTE](index % 10)


def model_kind(hamiltonian: Any) -> str:
    return MODEL[bool(hamiltonian)]


__all__ = ["COLUMNS", "METHOD_ORDER", "MODEL", "NAMES", "colour", "heading", "method_rank"]
