"""Paper tables: configs compose, published cells are matched, the comparison is written."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from hnnbench import paper, sweeps, systems
from hnnbench.report.compare import compare, load_published, parse_domain, parse_params
from hnnbench.report.experiments import EXPERIMENTS, FULL, LITE, select
from hnnbench.report.frame import to_frame
from hnnbench.report.synthetic import PENDULUM_DOMAIN, make_record, write_synthetic

CONF = Path(__file__).resolve().parents[1] / "hnnbench" / "conf"
PAPER_FILES = sorted((CONF / "experiment").glob("paper_*.yaml"))
CHAOTIC_LITE = ("paper_headline_lite", "paper_hh_alpha_lite", "paper_dp_width_lite")


def test_every_paper_config_is_registered() -> None:
    assert {p.stem for p in PAPER_FILES} == set(EXPERIMENTS)
    assert len(LITE) == len({e.table for e in LITE}) + 6  # low_dim and headline span files
    assert {e.table for e in FULL} == {e.table for e in LITE} == set(load_published()["table"])


def sweep_values(params: dict) -> dict[str, list]:
    """Every value of every sweep parameter, parsed with Hydra's own override parser."""
    parser = OverridesParser.create()
    values = {}
    for key, text in params.items():
        override = parser.parse_override(f"{key}={text}")
        values[key] = (
            list(override.sweep_iterator()) if override.is_sweep_override() else [override.value()]
        )
    return values


@pytest.fixture(scope="module")
def composed() -> dict:
    """Each paper experiment composed with the first value of each of its sweep parameters."""
    GlobalHydra.instance().clear()
    out = {}
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        for path in PAPER_FILES:
            # the composed sweep: a lite experiment's params are its full twin's plus its cuts
            hydra_cfg = compose("config", [f"experiment={path.stem}"], return_hydra_config=True)
            values = sweep_values(OmegaConf.to_container(hydra_cfg.hydra.sweeper.params))
            first = [f"{k}={_override_text(v[0])}" for k, v in values.items()]
            cfg = compose("config", overrides=[f"experiment={path.stem}", *first])
            out[path.stem] = (cfg, values)
    GlobalHydra.instance().clear()
    return out


def _override_text(value) -> str:
    return str(value).replace(" ", "") if isinstance(value, list) else str(value)


@pytest.mark.parametrize("name", [p.stem for p in PAPER_FILES])
def test_paper_experiment_composes(composed: dict, name: str) -> None:
    cfg, values = composed[name]
    assert cfg.name == name
    assert cfg.hidden_width >= 500 and cfg.train_points >= 1000
    trainers = values["trainer"]
    if name.split("_lite")[0].endswith("_adam"):
        assert trainers in (["adam_chaotic"], ["adam_lowdim"]) and values["seed"] == [0]
        assert "Adam" in cfg.trainer._target_
    else:  # the α lite runs A-SWIM only (a stated cut): the other methods at α = 1
        methods = ["aswim"] if name == "paper_hh_alpha_lite" else ["elm", "uswim", "aswim", "swim"]
        assert trainers == methods
        assert cfg.trainer.rcond == 1e-13
        if name in CHAOTIC_LITE:  # the stated solver cut: qr_ridge, A-SWIM's default first pass
            assert cfg.trainer.solver == "qr_ridge" and cfg.trainer.first_pass_solver == "normal"
        else:
            assert cfg.trainer.solver == "gelsd"
            assert cfg.trainer.first_pass_solver is None and cfg.trainer.first_pass_points is None
        lite_seeds = 3 if name.startswith("paper_low_dim") else 2
        assert len(values["seed"]) == (lite_seeds if name.endswith("_lite") else 10)
    for domain in values.get("system.domain", [cfg.system.domain]):
        params = {k: v for k, v in cfg.system.items() if k not in ("_target_", "name", "domain")}
        systems.get(cfg.system.name, **params, domain=domain)  # a valid system and box


@pytest.mark.parametrize("path", [p for p in PAPER_FILES if p.stem.endswith("_lite")])
def test_every_lite_experiment_is_its_full_twin_plus_cuts(path: Path) -> None:
    defaults = OmegaConf.load(path).defaults
    assert defaults[0] == path.stem.removesuffix("_lite") and "_self_" in defaults
    params = OmegaConf.load(path).get("hydra", {}).get("sweeper", {}).get("params", {})
    if path.stem != "paper_hh_alpha_lite":  # its stated cut: A-SWIM only
        assert "trainer" not in params  # the methods are the full twin's


def test_full_configs_match_published_sizes(composed: dict) -> None:
    published = load_published()
    cfg, values = composed["paper_headline"]
    assert (cfg.hidden_width, cfg.train_points, cfg.test_points) == (5000, 20000, 20000)
    cfg, values = composed["paper_dp_width"]
    widths = set(published[published["table"] == "double_pendulum_width_sweep"]["hidden_width"])
    assert set(values["hidden_width"]) == widths
    cfg, values = composed["paper_pendulum_frequency"]
    assert set(values["train_points"]) == {1000, 2000, 5000, 10000, 20000}
    assert set(values["system.frequency"]) == {10.0, 15.0, 20.0}
    cfg, values = composed["paper_hh_alpha"]
    assert len(values["system.alpha"]) == 11


def test_published_domains_and_params_parse() -> None:
    flat = lambda box: [bound for interval in box for bound in interval]  # noqa: E731
    assert flat(parse_domain("[-2pi,2pi]x[-1,1]")) == pytest.approx(
        [-2 * math.pi, 2 * math.pi, -1, 1]
    )
    assert flat(parse_domain("q in [-pi,pi]^2, p in [-1,1]^2")) == pytest.approx(
        [-math.pi, math.pi] * 2 + [-1, 1] * 2
    )
    assert parse_domain("[-5,5]^4") == [[-5, 5]] * 4
    assert parse_params("m1=m2=l1=l2=g=1") == dict.fromkeys(["m1", "m2", "l1", "l2", "g"], 1.0)
    assert parse_params("alpha=-2,beta=-1") == {"alpha": -2.0, "beta": -1.0}


def lite_records(error: float) -> list[dict]:
    """Pendulum low_dim lite cells: aswim (2 seeds) at 5000 points, Adam at 5000 points."""
    common = {"name": "paper_low_dim_lite", "domain": PENDULUM_DOMAIN, "width": 1000}
    aswim = [
        make_record("aswim", s, error=error, seconds=2.0, points=5000, **common) for s in (0, 1)
    ]
    adam = make_record(
        "adam", 0, 1000, error=1e-3, seconds=20, points=5000, name="paper_low_dim_adam_lite",
        domain=PENDULUM_DOMAIN,
    )  # fmt: skip
    return [*aswim, adam]


def test_comparison_picks_closest_cell_ratio_and_flag() -> None:
    records = lite_records(error=3.62e-8)  # 100× the published 3.62e-10
    data = compare(to_frame(records), records, load_published())
    aswim = data[data["method"] == "aswim"].iloc[0]
    assert aswim["table"] == "low_dim" and aswim["paper_test_H_rel_l2"] == pytest.approx(3.62e-10)
    assert aswim["error_ratio"] == pytest.approx(100)
    assert aswim["published_cell"] == "closest: width 1000, points 10000"
    assert "error" in aswim["flag"] and "time" not in aswim["flag"]  # 2.0 s vs 4.1 s
    assert aswim["time_ratio"] == pytest.approx(2.0 / 4.1)
    adam = data[data["method"] == "adam"].iloc[0]
    assert adam["paper_test_H_rel_l2"] == pytest.approx(0.00217) and adam["flag"] == ""


def test_exact_match_for_full_size_cell() -> None:
    records = [
        make_record("elm", 0, 1000, error=1.5e-11, seconds=2.5, points=10000,
                    name="paper_low_dim", domain=[[-2 * math.pi, 2 * math.pi], [-6, 6]])
    ]  # fmt: skip
    row = compare(to_frame(records), records, load_published()).iloc[0]
    assert row["published_cell"] == "exact"
    assert row["paper_test_H_rel_l2"] == pytest.approx(9.82e-08)  # the [-6, 6] domain's cell
    assert row["flag"] == "> 10× off: error"  # ours is ~6500× smaller


def test_paper_report_only_writes_comparison(tmp_path: Path) -> None:
    write_synthetic(tmp_path, lite_records(error=4e-10))
    assert paper.main(["--lite", "--report-only", "--results-dir", str(tmp_path)]) == 0
    out = tmp_path / "paper-lite" / "report"
    text = (out / "paper.md").read_text()
    assert "3.62e-10" in text and "closest: width 1000, points 10000" in text and "1.1×" in text
    assert (out / "tables" / "paper_low_dim_lite.csv").exists()
    assert (out / "tables" / "paper_low_dim_lite.tex").exists()
    assert "Paper comparison" in (out / "report.md").read_text()
    assert "Paper comparison" in (out / "report.html").read_text()


def test_paper_continues_after_a_failing_experiment(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(sweeps, "hnnbench_command", lambda: [sys.executable, "-c", "exit(3)"])
    only = ["paper_low_dim_lite", "paper_low_dim_adam_lite"]
    code = paper.main(["--lite", "--results-dir", str(tmp_path), "--only", *only])
    assert code == 1  # nothing to report: both "experiments" failed
    runs = sweeps.load_run_log(tmp_path / "paper-lite" / "runs.json")
    assert [(r.experiment, r.returncode) for r in runs] == [(n, 3) for n in only]


def test_select_by_table_or_name() -> None:
    assert [e.name for e in select(True, ["pendulum_frequency_sweep"])] == [
        "paper_pendulum_frequency_lite"
    ]
    assert len(select(False, ["low_dim"])) == 7
    with pytest.raises(ValueError, match="unknown"):
        select(True, ["nope"])
