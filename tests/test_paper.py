"""Paper tables: configs compose, published cells are matched, the comparison is written."""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from hnnbench import paper, sweeps, systems
from hnnbench.experiments import EXPERIMENTS, FIGURE_TABLES, FULL, LITE, select
from hnnbench.report.compare import (
    compare,
    fidelity,
    fidelity_summary,
    heavy_tail_note,
    load_published,
    parse_domain,
    parse_params,
)
from hnnbench.report.frame import to_frame
from hnnbench.report.papertables import latex_table, markdown_frame, paper_table
from synthetic import (
    PENDULUM_DOMAIN,
    error_correction_published,
    make_record,
    paper_records,
    write_synthetic,
)

CONF = Path(__file__).resolve().parents[1] / "hnnbench" / "conf"
PAPER_FILES = sorted((CONF / "experiment").glob("paper_*.yaml"))
CHAOTIC_LITE = ("paper_headline_lite", "paper_hh_alpha_lite", "paper_dp_width_lite")


def test_every_paper_config_is_registered() -> None:
    assert {p.stem for p in PAPER_FILES} == set(EXPERIMENTS)
    assert len(LITE) == len({e.table for e in LITE}) + 6  # low_dim and headline span files
    tables = set(load_published()["table"]) | set(FIGURE_TABLES)
    assert {e.table for e in FULL} == {e.table for e in LITE} == tables


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
    if name.startswith("paper_error_correction"):  # the limited-data table: one method, small
        assert (cfg.hidden_width, cfg.train_points, cfg.test_points) == (200, 2500, 2500)
        assert cfg.trainer.method == "aswim" and cfg.data.source == "snapshots"
        assert cfg.trainer.solver == "gelsd" and cfg.trainer.rcond == 1e-13
        assert values["data.dt_obs"] == [0.05, 0.1, 0.2, 0.4, 0.8]
        assert values["evaluation.correction"] == ["none", "first", "second"]
        assert len(values["seed"]) == (3 if name.endswith("_lite") else 10)
        return
    assert cfg.hidden_width >= 500 and cfg.train_points >= 1000
    trainers = values["trainer"]
    if name.split("_lite")[0].endswith("_adam"):
        assert trainers in (["adam_chaotic"], ["adam_lowdim"]) and values["seed"] == [0]
        assert "Adam" in cfg.trainer._target_
    elif name == "paper_energy_conservation":  # S-MLP vs S-HNN, run 0 (tests/test_mlp.py)
        assert trainers == ["smlp", "elm"] and cfg.seed == 0 and cfg.hidden_width == 500
        assert cfg.trainer.solver == "gelsd" and cfg.trainer.rcond == 1e-13
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


def lite_records(error: float, points: int = 5000) -> list[dict]:
    """Pendulum low_dim lite cells: aswim (2 seeds), Adam (1 seed), both at ``points``."""
    common = {"name": "paper_low_dim_lite", "domain": PENDULUM_DOMAIN, "width": 1000}
    aswim = [
        make_record("aswim", s, error=error * (1 + 0.5 * s), seconds=200.0, points=points,
                    **common)
        for s in (0, 1)
    ]  # fmt: skip
    adam = make_record(
        "adam", 0, 1000, error=1e-3, seconds=20, points=points, name="paper_low_dim_adam_lite",
        domain=PENDULUM_DOMAIN,
    )  # fmt: skip
    return [*aswim, adam]


def comparison(records: list[dict], published=None):
    return compare(to_frame(records), records, load_published() if published is None else published)


@pytest.mark.parametrize(("error", "flagged"), [(3.62e-8, True), (7.24e-10, False)])
def test_same_size_error_flag_on_and_off(error: float, flagged: bool) -> None:
    data = comparison(lite_records(error, points=10000))  # the published size: 1000, 10k/10k
    aswim = data[data["method"] == "aswim"].iloc[0]
    assert aswim["table"] == "low_dim" and aswim["comparable"]
    assert aswim["published_cell"] == "exact"
    assert aswim["paper_test_H_rel_l2"] == pytest.approx(3.62e-10)
    assert aswim["ours_test_H_rel_l2"] == pytest.approx(error * 1.25)  # median of 2 seeds
    assert aswim["flag"] == ("> 10× off" if flagged else "")
    # 200 s against the paper's 4.1 s: a time ratio, never a flag
    assert aswim["time_ratio"] == pytest.approx(200 * 1.0 / 4.1)


def test_other_size_is_not_comparable_and_never_flagged() -> None:
    data = comparison(lite_records(error=3.62e-8))  # 100× the published error, at 5000 points
    aswim = data[data["method"] == "aswim"].iloc[0]
    assert not aswim["comparable"] and aswim["flag"] == ""
    assert aswim["published_cell"] == (
        "not comparable: run at width 1000, 5000/5000 train/test points; "
        "published at width 1000, 10000/10000 train/test points"
    )
    assert fidelity(data)["comparable"] == 0 and fidelity(data)["excluded"] == 2


def test_adam_below_the_published_budget_is_not_comparable() -> None:
    records = [
        make_record("adam", 0, 1000, error=1e-1, seconds=20, points=10000,
                    name="paper_low_dim_adam_lite", domain=PENDULUM_DOMAIN,
                    fit_info={"steps_done": 2000})
    ]  # fmt: skip
    row = comparison(records).iloc[0]
    assert row["published_cell"] == "not comparable: run for 2000 steps, published 15000"
    assert not row["comparable"] and row["flag"] == ""  # 46× off, but a cut budget
    records[0]["fit_info"]["steps_done"] = 15000
    row = comparison(records).iloc[0]
    assert row["comparable"] and row["flag"] == "> 10× off"


def test_exact_match_for_full_size_cell() -> None:
    records = [
        make_record("elm", 0, 1000, error=1.5e-11, seconds=2.5, points=10000,
                    name="paper_low_dim", domain=[[-2 * math.pi, 2 * math.pi], [-6, 6]])
    ]  # fmt: skip
    row = comparison(records).iloc[0]
    assert row["published_cell"] == "exact"
    assert row["paper_test_H_rel_l2"] == pytest.approx(9.82e-08)  # the [-6, 6] domain's cell
    assert row["flag"] == "> 10× off"  # ours is ~6500× smaller


HH = [[-5.0, 5.0]] * 4
DP = [[-math.pi, math.pi]] * 2 + [[-1.0, 1.0]] * 2
DP_PARAMS = dict.fromkeys(["m1", "m2", "l1", "l2", "g"], 1.0)


def chaotic_record(system: str, name: str, seed: int, error: float, **extra) -> dict:
    params = {"alpha": 1.0} if system == "henon_heiles" else DP_PARAMS
    config = {
        "system": {"name": system, **params},
        "hidden_width": 5000,
        "trainer": {"method": "aswim"},
    }
    return make_record(
        "aswim", seed, 5000, error=error, seconds=90.0, name=name, system=system,
        domain=HH if system == "henon_heiles" else DP, points=20000, test_points=20000,
        system_params=params, run_id=f"{system}-{seed}", config={**config, "seed": seed},
        **extra,
    )  # fmt: skip


def test_one_cell_fills_the_cells_of_several_tables() -> None:
    """Matching is by content: a headline Hénon–Heiles (α = 1) cell is also the α sweep's α = 1
    cell, and a double-pendulum width-5000 cell the width sweep's; a run in two folders (same
    run_id) counts once."""
    records = [chaotic_record("henon_heiles", "paper_headline_lite", s, 7e-8) for s in (0, 1)]
    records += [chaotic_record("double_pendulum", "paper_headline_lite", s, 4e-3) for s in (0, 1)]
    records.append(chaotic_record("double_pendulum", "paper_dp_width_lite", 0, 4e-3))  # a copy
    data = comparison(records)
    tables = {
        s: set(data[data["system"] == s]["table"]) for s in ("henon_heiles", "double_pendulum")
    }
    assert tables == {
        "henon_heiles": {"headline_chaotic", "henon_heiles_alpha_sweep"},
        "double_pendulum": {"headline_chaotic", "double_pendulum_width_sweep"},
    }
    assert data["comparable"].all() and data["cell"].nunique() == 2
    assert set(data["seeds"]) == {2} and set(data["runs"]) == {2}  # the copy pooled, once
    dp = data[data["system"] == "double_pendulum"].iloc[0]
    assert dp["experiments"] == "paper_dp_width_lite paper_headline_lite"
    counts = fidelity(data)
    assert counts["comparable"] == 2 and counts["within"] == 2  # each cell counted once


def test_fidelity_summary_counts_lists_and_extra_lines() -> None:
    records = [
        chaotic_record("henon_heiles", "paper_headline_lite", s, 6.8e-7 * (1 + s)) for s in (0, 1)
    ]  # fmt: skip  (10× and 20×: outside 3×, listed)
    records += [chaotic_record("double_pendulum", "paper_headline_lite", s, 5e-3) for s in (0, 1)]
    records += lite_records(error=1e-9)  # at 5000 points: excluded
    for i, record in enumerate(records):
        record["environment"] = {**record["environment"], "dgemm_gflops": 90.0 + i}
    data = comparison(records)
    counts = fidelity(data)
    assert (counts["comparable"], counts["within"], counts["excluded"]) == (2, 1, 2)
    section = fidelity_summary(data)
    (items,) = section.blocks
    text = "\n".join(items.items)
    assert "**2 cell(s) at their published size**" in text and "1 within 3×" in text
    assert "Not within 3×: henon_heiles (alpha=1; [-5,5]^4), aswim, width 5000" in text
    assert "[`headline_chaotic`, `henon_heiles_alpha_sweep` (lite)]" in text  # both tables
    assert "15× the published 6.80e-08" in text and "seeds 10–20×, 2 seed(s)" in text
    # published: a mean of 10 runs; ours: 2 seeds, spread 2× (no heavy-tail remark)
    assert "2 seed(s)); our median of 2 seed(s) against a mean of 10 runs." in text
    assert "heavy tail" not in text
    assert "2 cell(s) ran at a size (or budget) no published cell has" in text
    # the DGEMM rate: the median over the 7 records (90 … 96)
    assert "2 threads, float64 DGEMM 93 GFLOP/s (n = 2000, median over 7 records)" in text
    assert "curve" not in text  # no Adam curve data: nothing said about it
    with_adam = fidelity_summary(data, ["Adam training loss within 1.1–1.4× of the published"])
    assert with_adam.blocks[0].items[-2] == "Adam training loss within 1.1–1.4× of the published"


def test_paper_report_only_writes_comparison(tmp_path: Path) -> None:
    write_synthetic(tmp_path, lite_records(error=4e-10, points=10000))
    assert paper.main(["--lite", "--report-only", "--results-dir", str(tmp_path)]) == 0
    out = tmp_path / "paper-lite" / "report"
    text = (out / "paper.md").read_text()
    assert text.index("## Fidelity summary") < text.index("## Paper comparison")
    assert "**1 cell(s) at their published size**" in text and "1 within 3×" in text
    assert "3.62e-10" in text and "exact" in text and "1.38×" in text
    assert (out / "tables" / "paper_low_dim_lite.csv").exists()  # long form: CSV only
    assert not (out / "tables" / "paper_low_dim_lite.tex").exists()
    tex = (out / "tables" / "paper_table_low_dim_lite.tex").read_text()
    assert "\\begin{table}" in tex and "\\toprule" in tex and "$5.0\\times10^{-10}$" in tex
    assert "\\input{paper_table_low_dim_lite}" in (out / "tables" / "all_tables.tex").read_text()
    assert "Paper comparison" in (out / "report.md").read_text()
    assert "Paper comparison" in (out / "report.html").read_text()
    assert "<ul><li><b>1 cell(s) at their published size</b>" in (out / "paper.html").read_text()


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


def published_with_error_correction():
    """The project's published table with the error-correction rows constructed here."""
    published = load_published()
    published = published[published["table"] != "error_correction"]
    return pd.concat([published, error_correction_published()], ignore_index=True)


@pytest.fixture(scope="module")
def shaped() -> dict:
    """Every published table paper-shaped, every cell of ours at its published size (2 seeds),
    plus a Hénon–Heiles α = 0 A-SWIM cell at width 1000 (not comparable)."""
    published = published_with_error_correction()
    records = paper_records(published)
    cut = make_record("aswim", 0, 1000, error=1e-7, name="paper_hh_alpha_lite",
                      system="henon_heiles", domain=HH, points=20000, test_points=20000,
                      system_params={"alpha": 0.0}, run_id="cut-0")  # fmt: skip
    records.append(cut)
    data = comparison(records, published)
    tables = published["table"].unique()
    return {t: paper_table(t, data, published, t, "machine") for t in tables}


def test_paper_shaped_layouts_rows_and_columns(shaped: dict) -> None:
    head = shaped["headline_chaotic"]
    assert head.row_labels == [["ELM"], ["U-SWIM"], ["A-SWIM"], ["SWIM"], ["Adam"]]
    assert head.groups == ["Double pendulum", "Hénon–Heiles"] and head.metrics == ["time", "error"]
    assert list(markdown_frame(head).columns)[:5] == [
        "Method", "Double pendulum: time [s]", "Double pendulum: time [s], paper",
        "Double pendulum: error", "Double pendulum: error, paper",
    ]  # fmt: skip
    low = shaped["low_dim"]
    assert low.groups == ["ELM", "U-SWIM", "A-SWIM", "SWIM", "Adam"] and low.metrics == []
    assert len(low.row_labels) == 10  # 5 settings × (error, time) as sub-rows
    assert low.row_labels[0] == ["Pendulum", "frequency=1; [-2π,2π]×[-1,1]", "error"]
    assert low.row_labels[1] == ["", "", "time [s]"]
    assert low.row_labels[4][:2] == ["Lotka–Volterra", "α=-2, β=-1, γ=-1, δ=-1; [-2,2]×[-2,2]"]
    width = shaped["double_pendulum_width_sweep"]
    assert [r[0] for r in width.row_labels] == [str(w) for w in range(500, 10001, 500)]
    assert width.groups == ["ELM", "U-SWIM", "A-SWIM", "SWIM"]
    alpha = shaped["henon_heiles_alpha_sweep"]
    assert [r[0] for r in alpha.row_labels] == ["0", *(f"0.{i}" for i in range(1, 10)), "1"]
    frequency = shaped["pendulum_frequency_sweep"]
    assert len(frequency.row_labels) == 15
    assert frequency.row_labels[:2] == [["10", "1000"], ["", "2000"]]
    assert frequency.row_labels[5] == ["15", "1000"]
    correction = shaped["error_correction"]
    assert correction.row_labels == [["0.05"], ["0.1"], ["0.2"]]
    assert correction.groups == ["none", "first"] and correction.metrics == ["error"]
    assert list(markdown_frame(correction).columns) == ["h", "none", "none, paper", "first",
                                                        "first, paper"]  # fmt: skip


def test_paper_shaped_cells(shaped: dict) -> None:
    rows = markdown_frame(shaped["headline_chaotic"]).set_index("Method")
    # A-SWIM on Hénon–Heiles: published 6.8e-8, ours 6.8e-8 × (1, 1.3) → median 7.8e-8
    assert rows.loc["A-SWIM", "Hénon–Heiles: error"] == "7.8e-08 [6.8–8.8]"
    assert rows.loc["A-SWIM", "Hénon–Heiles: error, paper"] == "6.80e-08"
    assert rows.loc["A-SWIM", "Hénon–Heiles: time [s]"] == "102 [88–115]"  # 2 digits below 100
    assert rows.loc["Adam", "Hénon–Heiles: error"].endswith(" †")  # 190 steps of 180 000
    correction = markdown_frame(shaped["error_correction"]).set_index("h")
    assert correction.loc["0.1", "first"] == "4.8e-04 [4.2–5.4]"
    assert correction.loc["0.1", "none, paper"] == "1.49e-02"
    alpha = markdown_frame(shaped["henon_heiles_alpha_sweep"]).set_index("α")
    # the same-size cell fills α = 0, not the width-1000 one; it is flagged (20×, every 7th)
    assert "†" not in alpha.loc["0", "A-SWIM: error"]
    flagged = [c for c in markdown_frame(shaped["henon_heiles_alpha_sweep"]).to_numpy().ravel()
               if "(> 10×)" in str(c)]  # fmt: skip
    assert flagged and all("e" in c for c in flagged)
    (note,) = [n for n in shaped["henon_heiles_alpha_sweep"].notes if n.startswith("†")]
    assert "run at width 1000, 20000/20000 train/test points; published at width 5000" in note
    latex = latex_table(shaped["headline_chaotic"], "t")
    assert "$7.8\\times10^{-8}$ {[}6.8--8.8]\\\\\\textit{$6.8\\times10^{-8}$}" in latex
    assert "\\multicolumn{2}{c}{H\\'enon--Heiles}" in latex and "\\cmidrule(lr){2-3}" in latex


def test_error_correction_matches_by_config_not_system_params() -> None:
    published = published_with_error_correction()
    records = paper_records(error_correction_published())
    plain = make_record(
        "aswim",
        0,
        200,
        error=1e-4,
        points=2500,
        test_points=2500,
        name="paper_low_dim_lite",
        domain=[[-math.pi, math.pi], [-1, 1]],
        run_id="derivatives",
    )  # fmt: skip  (derivative data: no `data` in config)
    data = comparison([*records, plain], published)
    matched = data[data["table"] == "error_correction"]
    assert len(matched) == 6 and matched["comparable"].all()
    assert set(matched["published_params"]) == set(error_correction_published()["params"])
    # the derivative-data run (no `data` in its config) fills no error-correction cell
    assert (data["published_cell"] == "no published cell").sum() == 1
    # the runner's record fields (data_source, dt_obs, correction) match as the config does
    fields = make_record("aswim", 0, 200, error=4e-4, points=2500, test_points=2500,
                         name="paper_low_dim_lite",
                         domain=[[-math.pi, math.pi], [-1, 1]], data_source="snapshots",
                         dt_obs=0.1, correction="first", run_id="fields")  # fmt: skip
    (row,) = comparison([fields], published).itertuples()
    assert row.published_cell == "exact" and row.error_ratio == pytest.approx(4e-4 / 4.17e-4)
    noisy = {**fields, "state_noise_std": 1e-3, "run_id": "noisy"}
    (row,) = comparison([noisy], published).itertuples()
    assert not row.comparable and row.flag == ""
    assert row.published_cell == "not comparable: state_noise_std 0.001; published without noise"


def test_paper_shaped_latex_escapes_and_uses_math_for_signs(shaped: dict) -> None:
    table = shaped["error_correction"]
    table.caption = "snapshots_h & 50% > 10"
    tex = latex_table(table, "x_y")
    assert "\\caption{snapshots\\_h \\& 50\\% $>$ 10" in tex and "\\label{tab:x-y}" in tex
    assert tex.isascii() and not re.search(r"(?<!\$)[<>](?!\$)", tex)
    assert tex.count("\\begin{tabular}{lrr}") == 1


def test_heavy_tail_note_names_few_seeds_and_a_wide_spread() -> None:
    row = {"seeds": 3, "paper_seeds": 10}
    assert heavy_tail_note(row, 0.03, 0.36) == (
        "; our median of 3 seed(s) against a mean of 10 runs, and our seeds span 12×: "
        "a heavy tail moves a mean far from a median"
    )
    assert heavy_tail_note({"seeds": 10, "paper_seeds": 10}, 0.5, 1.5) == ""
    assert heavy_tail_note({"seeds": 10, "paper_seeds": None}, 0.1, 1.0).startswith(
        "; our seeds span 10×"
    )
