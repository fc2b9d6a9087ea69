"""The paper's tables and the Hydra experiments that regenerate them (data only, no side effects).

Each experiment is ``conf/experiment/<name>.yaml``; its records land in ``<results_dir>/<name>/``.
Sampled methods and Adam live in separate experiments because the paper ran Adam once (one seed)
and the sampled methods ten times. ``*_lite`` variants fit a 2-core workstation; ``cuts`` says
what each one changes relative to the published protocol, and the report prints it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class PaperExperiment:
    name: str  # conf/experiment/<name>.yaml and the results folder
    table: str  # the `table` column of paper_tables.csv
    lite: bool = False
    cuts: str = ""  # what a lite variant changes relative to the paper


TABLE_TITLES = {
    "headline_chaotic": "Headline table: chaotic systems (double pendulum, Hénon–Heiles)",
    "low_dim": "Low-dimensional systems (pendulum, Lotka–Volterra)",
    "double_pendulum_width_sweep": "Double pendulum: width sweep",
    "henon_heiles_alpha_sweep": "Hénon–Heiles: α sweep",
    "pendulum_frequency_sweep": "Pendulum: frequency × training-points sweep",
    "error_correction": "Pendulum from snapshots: observation step h × backward-error correction",
    "energy_conservation": "Energy conservation: S-MLP vs S-HNN (pendulum, symplectic Euler)",
}

#: paper results shown as figures, without numbers in paper_tables.csv (their report section
#: reads the values off the figure, and says so)
FIGURE_TABLES = ("energy_conservation",)

#: cheap enough to run as published in ``make paper-lite`` (in FULL and LITE, nothing cut)
ENERGY_CONSERVATION = PaperExperiment(
    "paper_energy_conservation",
    "energy_conservation",
    cuts="nothing cut (≈ 30 s on 2 cores); training points 10 000 assumed (the paper's "
    "low-dim protocol; the study does not state them)",
)

_LITE_SEEDS = "seeds 0–1 (paper 10; Adam 1 seed as in the paper)"
_LITE_EVAL = "rollouts over T = 5 with dt = 0.02 (not in the paper)"

FULL = (
    PaperExperiment("paper_headline", "headline_chaotic"),
    PaperExperiment("paper_headline_adam", "headline_chaotic"),
    PaperExperiment("paper_low_dim", "low_dim"),
    PaperExperiment("paper_low_dim_lv", "low_dim"),
    PaperExperiment("paper_low_dim_lv_shifted", "low_dim"),
    PaperExperiment("paper_low_dim_adam", "low_dim"),
    PaperExperiment("paper_low_dim_lv_adam", "low_dim"),
    PaperExperiment("paper_low_dim_lv_wide_adam", "low_dim"),
    PaperExperiment("paper_low_dim_lv_shifted_adam", "low_dim"),
    PaperExperiment("paper_dp_width", "double_pendulum_width_sweep"),
    PaperExperiment("paper_hh_alpha", "henon_heiles_alpha_sweep"),
    PaperExperiment("paper_pendulum_frequency", "pendulum_frequency_sweep"),
    PaperExperiment("paper_error_correction", "error_correction"),
    ENERGY_CONSERVATION,
)

LITE = (
    PaperExperiment(
        "paper_low_dim_lite",
        "low_dim",
        True,
        f"seeds 0–2 (paper 10); sizes as published; {_LITE_EVAL}",
    ),
    PaperExperiment(
        "paper_low_dim_lv_lite",
        "low_dim",
        True,
        f"seeds 0–2 (paper 10); sizes as published; {_LITE_EVAL}",
    ),
    PaperExperiment(
        "paper_low_dim_lv_shifted_lite",
        "low_dim",
        True,
        f"seeds 0–2 (paper 10); sizes as published; {_LITE_EVAL}",
    ),
    PaperExperiment(
        "paper_low_dim_adam_lite",
        "low_dim",
        True,
        "Adam capped at 20 s of training (paper 15 000 steps on a GPU); points 5000; "
        f"learning curve every 50 steps; {_LITE_EVAL}",
    ),
    PaperExperiment(
        "paper_low_dim_lv_adam_lite",
        "low_dim",
        True,
        "Adam capped at 20 s of training (paper 15 000 / 30 000 steps on a GPU); points 5000; "
        f"learning curve every 50 steps; {_LITE_EVAL}",
    ),
    PaperExperiment(
        "paper_low_dim_lv_shifted_adam_lite",
        "low_dim",
        True,
        "Adam capped at 20 s of training (paper 30 000 steps on a GPU); points 5000; "
        f"learning curve every 50 steps; {_LITE_EVAL}",
    ),
    PaperExperiment(
        "paper_headline_lite",
        "headline_chaotic",
        True,
        f"width 1000 (paper 5000); train/test points 3000 (paper 20 000); {_LITE_SEEDS}; "
        f"{_LITE_EVAL}",
    ),
    PaperExperiment(
        "paper_headline_adam_lite",
        "headline_chaotic",
        True,
        "width 1000 (paper 5000); points 3000 (paper 20 000); Adam capped at 45 s of training "
        f"(paper 180 000 steps, about 3 h on 64 threads); {_LITE_EVAL}",
    ),
    PaperExperiment(
        "paper_dp_width_lite",
        "double_pendulum_width_sweep",
        True,
        "widths 500, 1000 (paper 500–10 000); train/test points 3000 (paper 20 000); "
        f"{_LITE_SEEDS}; {_LITE_EVAL}",
    ),
    PaperExperiment(
        "paper_hh_alpha_lite",
        "henon_heiles_alpha_sweep",
        True,
        "α = 0, 1 (paper 0–1 by 0.1); width 1000 (paper 5000); train/test points 3000 "
        f"(paper 20 000); {_LITE_SEEDS}; {_LITE_EVAL}",
    ),
    PaperExperiment(
        "paper_pendulum_frequency_lite",
        "pendulum_frequency_sweep",
        True,
        "f = 10, 20 (paper 10, 15, 20); train points 1000, 2000 (paper 1000–20 000); test points "
        f"5000 (paper 10 000); {_LITE_SEEDS}; {_LITE_EVAL}",
    ),
    PaperExperiment(
        "paper_error_correction_lite",
        "error_correction",
        True,
        "seeds 0–2 (the paper's notebook repeated one seed); sizes as published; the exact flow "
        "by DOP853 at tol 1e-13 (paper: RK45, rtol 1e-13); correction `second` is ours, not in "
        f"the paper; {_LITE_EVAL}",
    ),
    ENERGY_CONSERVATION,
)

EXPERIMENTS = {e.name: e for e in FULL + LITE}


def experiments(lite: bool) -> tuple[PaperExperiment, ...]:
    """The experiments of ``make paper-lite`` (lite) or ``make paper``."""
    return LITE if lite else FULL


def paper_experiment(name: str | None) -> PaperExperiment | None:
    """The paper experiment a results folder (record ``name``) belongs to, if any."""
    return EXPERIMENTS.get(name) if name else None


def select(lite: bool, only: list[str] | None) -> tuple[PaperExperiment, ...]:
    """Experiments whose name or table is in ``only`` (all when ``only`` is empty)."""
    chosen = experiments(lite)
    if not only:
        return chosen
    unknown = sorted(set(only) - {e.name for e in chosen} - {e.table for e in chosen})
    if unknown:
        allowed = sorted({e.name for e in chosen} | {e.table for e in chosen})
        raise ValueError(f"unknown experiment or table {unknown}; allowed: {allowed}")
    return tuple(e for e in chosen if e.name in only or e.table in only)


_CLAIMS_PART = re.compile(r"claims_[a-z_]+")


def claims_group(name: str | None) -> str | None:
    """The report group of a claims sub-experiment (``claims_sampled``, ``claims_adam_lite``, …:
    ``hnnbench.claims`` runs them into one folder): one group per experiment, both sides in it."""
    if not name or not _CLAIMS_PART.fullmatch(name) or name == "claims_lite":
        return None
    return "claims (lite)" if name.endswith("_lite") else "claims"
