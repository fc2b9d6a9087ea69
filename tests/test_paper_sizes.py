"""Every cell an experiment says runs at the published size (``published_size``) is a published
row: same table, system, parameters, domain, method, width, train and test points (Adam: steps)."""

from __future__ import annotations

import functools
import itertools
import re
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from hnnbench import systems
from hnnbench.experiments import EXPERIMENTS, LITE
from hnnbench.report.compare import (
    load_published,
    parse_domain,
    parse_params,
    same_domain,
    same_params,
)

CONF = Path(__file__).resolve().parents[1] / "hnnbench" / "conf"
ADAM_PRESETS = ("adam_chaotic", "adam_lowdim")
PUBLISHED = load_published()


@functools.cache
def composed(name: str, overrides: tuple[str, ...]) -> tuple[dict, dict]:
    """(the resolved config, the sweep's params) of experiment ``name`` with ``overrides``."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        hydra_cfg = compose("config", [f"experiment={name}"], return_hydra_config=True)
        params = OmegaConf.to_container(hydra_cfg.hydra.sweeper.params)
        cfg = compose("config", [f"experiment={name}", *overrides])
    GlobalHydra.instance().clear()
    return OmegaConf.to_container(cfg, resolve=True), params


def sweep_values(params: dict) -> dict[str, list]:
    parser = OverridesParser.create()
    values = {}
    for key, text in params.items():
        override = parser.parse_override(f"{key}={text}")
        swept = override.is_sweep_override()
        values[key] = list(override.sweep_iterator()) if swept else [override.value()]
    return values


@functools.cache
def cells(name: str) -> list[dict]:
    """Every (system, parameters, domain, method, width, points, steps) the sweep runs (seeds
    aside); one composition per system of the sweep, the other parameters set per cell."""
    _, params = composed(name, ())
    values = sweep_values(params)
    groups = values.pop("system", [None])
    values.pop("seed", None)
    out = []
    for group in groups:
        cfg, _ = composed(name, (f"system={group}",) if group else ())
        for combo in itertools.product(*values.values()):
            job = dict(zip(values, combo, strict=True))
            system = {k: v for k, v in cfg["system"].items() if k not in ("_target_", "name")}
            system.update({k.split(".", 1)[1]: v for k, v in job.items() if "system." in k})
            built = systems.get(cfg["system"]["name"], **system)
            trainer = job.get("trainer", cfg["trainer"].get("method", ""))
            out.append(
                {
                    "system": built.name,
                    "params": {k: v for k, v in system.items() if k != "domain"},
                    "domain": built.domain.tolist(),
                    "method": "adam" if trainer in ADAM_PRESETS else trainer,
                    "hidden_width": int(job.get("hidden_width", cfg["hidden_width"])),
                    "train_points": int(job.get("train_points", cfg["train_points"])),
                    "test_points": int(cfg["test_points"]),
                    "steps": int(cfg["adam_steps"]),
                }
            )
    return out


def published_row(cell: dict, table: str):
    published = PUBLISHED
    rows = published[
        (published["table"] == table)
        & (published["system"] == cell["system"])
        & (published["method"] == cell["method"])
        & (published["hidden_width"] == cell["hidden_width"])
        & (published["train_points"] == cell["train_points"])
        & (published["test_points"] == cell["test_points"])
    ]
    for _, row in rows.iterrows():
        if same_params(cell["params"], parse_params(row["params"])) and same_domain(
            cell["domain"], parse_domain(row["domain"])
        ):
            return row
    return None


#: the derivative-data tables, whose cells are (system, parameters, domain, method, sizes)
SIZED_TABLES = (
    "headline_chaotic",
    "low_dim",
    "double_pendulum_width_sweep",
    "henon_heiles_alpha_sweep",
    "pendulum_frequency_sweep",
)
AT_SIZE = [e.name for e in LITE if e.published_size and e.table in SIZED_TABLES]


def test_the_chaotic_and_sweep_lite_experiments_claim_published_size() -> None:
    assert {
        "paper_headline_lite",
        "paper_hh_alpha_lite",
        "paper_dp_width_lite",
        "paper_pendulum_frequency_lite",
        "paper_low_dim_lite",
    } <= set(AT_SIZE)
    assert not EXPERIMENTS["paper_headline_adam_lite"].published_size  # 1001 of 180 000 steps


@pytest.mark.parametrize("name", AT_SIZE)
def test_every_cell_claimed_at_published_size_is_a_published_row(name: str) -> None:
    table = EXPERIMENTS[name].table
    for cell in cells(name):
        row = published_row(cell, table)
        assert row is not None, f"{name}: no published row for {cell}"
        if cell["method"] == "adam":
            assert f"{cell['steps']} steps" in row["note"]


def test_the_lite_sweeps_cover_what_they_say() -> None:
    def covered(name: str, key: str) -> set:
        return {c[key] for c in cells(name)}

    assert covered("paper_headline_lite", "method") == {"elm", "uswim", "aswim", "swim"}
    assert covered("paper_headline_lite", "system") == {"double_pendulum", "henon_heiles"}
    alphas = {c["params"]["alpha"] for c in cells("paper_hh_alpha_lite")}
    headline = {c["params"].get("alpha") for c in cells("paper_headline_lite")}
    assert {0.0, 0.5} <= alphas and 1.0 in headline  # α = 1: the headline's Hénon–Heiles cells
    assert covered("paper_hh_alpha_lite", "method") == {"aswim"}
    widths = covered("paper_dp_width_lite", "hidden_width") | {5000}  # 5000: the headline's
    assert min(widths) == 500 and max(widths) == 5000
    frequencies = {c["params"]["frequency"] for c in cells("paper_pendulum_frequency_lite")}
    assert frequencies == {10.0, 15.0, 20.0}
    assert covered("paper_pendulum_frequency_lite", "train_points") == {1000, 10000}
    adam = cells("paper_headline_adam_lite")
    assert {(c["hidden_width"], c["train_points"], c["test_points"]) for c in adam} == {
        (5000, 20000, 20000)
    }
    assert re.fullmatch(r"\d+", str(adam[0]["steps"])) and adam[0]["steps"] == 1001
