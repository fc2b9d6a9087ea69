"""The claims check: censored medians, matched accuracy on synthetic curves, the lr search, the
verdict rules, the report's first section, the experiments and a tiny end-to-end run."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd
import pytest

from conftest import markdown_rows, run_python
from hnnbench import claims
from hnnbench.report import build_report
from hnnbench.report import matched as m
from hnnbench.report import verdicts as v
from hnnbench.report.frame import to_frame
from synthetic import SPRING_DOMAIN, claims_records, make_record

E, LOW, UNREACHED = m.Estimate, m.Estimate.at_least, m.UNREACHED
SPRING = {"system": "spring", "domain": SPRING_DOMAIN, "name": "t"}


def problem_of(records: list[dict]) -> m.Problem:
    (problem,) = m.problems_of(to_frame(records), records)
    return problem


def sampled(width: int, error: float, seconds: float, seed: int = 0, **extra) -> dict:
    return make_record("aswim", seed, width, error=error, seconds=seconds, **SPRING, **extra)


def backprop(curve, seed: int = 0, method: str = "adam", lr: float = 1e-3, **extra) -> dict:
    seconds, final = curve[-1]
    return make_record(method, seed, 100, error=final, seconds=seconds, lr=lr, curve=curve,
                       **SPRING, **extra)  # fmt: skip


CURVE = [(0.0, 1.0), (2.0, 1e-2), (5.0, 1e-3), (10.0, 2e-3)]  # best 1e-3, first reached at 5 s


# ---------------------------------------------------------------- brackets and their medians


def test_spread_of_exact_values() -> None:
    spread = m.spread_of([E(3.0), E(1.0), E(2.0)])
    assert (spread.median, spread.low, spread.high) == (E(2.0), E(1.0), E(3.0))
    assert m.spread_of([E(1.0), E(3.0)]).median == E(2.0)
    assert m.spread_of([]) is None


def test_lower_bounds_are_never_point_values() -> None:
    above = m.spread_of([E(1.0), E(2.0), LOW(5.0)])  # the bound sits above the median
    assert above.median == E(2.0) and above.high == E(math.inf)
    below = m.spread_of([E(4.0), E(6.0), LOW(3.0)])  # the bound could push the median up to 6
    assert below.median == E(4.0, 6.0) and below.median.kind == "bracket"
    assert m.spread_of([LOW(10.0)] * 3).median.text("×") == "≥ 10×"
    assert m.spread_of([E(1.0), UNREACHED, UNREACHED]).median == UNREACHED
    assert m.spread_of([E(1.0), E(2.0), UNREACHED]).median == E(1.0)


def test_the_median_bracket_holds_the_true_median() -> None:
    brackets = [E(1.0, 4.0), E(2.0, 3.0), E(5.0, 9.0)]
    median = m.spread_of(brackets).median
    assert median == E(2.0, 4.0)
    for truth in ([1.0, 3.0, 9.0], [4.0, 2.0, 5.0], [2.5, 2.5, 5.0]):
        assert median.low <= sorted(truth)[1] <= median.high


def test_bracket_texts_and_tests_against_a_threshold() -> None:
    assert E(100.0, 500.0).text("×") == "100–500×"
    assert E(0.0, 80.0).text("×") == "< 80×" and E(0.0, 80.0).below(100)
    assert LOW(200.0).at_or_above(100) and not LOW(50.0).below(100)
    assert not E(50.0, 300.0).at_or_above(100) and not E(50.0, 300.0).below(100)


def test_ties_in_censored_medians_are_deterministic() -> None:
    for values in ([E(2.0), LOW(2.0), E(1.0)], [LOW(2.0), E(2.0), E(1.0)]):
        assert m.spread_of(values).median == E(2.0)


# ---------------------------------------------------------------- matched accuracy


def test_the_rungs_around_backprops_best_error_bracket_the_speedup() -> None:
    records = [
        sampled(25, 5e-2, 0.01),  # never reaches 1e-3: the rung below
        sampled(50, 8e-4, 0.05),  # the cheapest that does
        sampled(100, 1e-5, 0.20),
        backprop(CURVE),
    ]
    problem = problem_of(records)
    result = m.speedup_at_best(problem.baselines[0], problem.ladder)
    assert result.targets == [1e-3] and result.backprop_times == [5.0]
    assert result.chosen == ["aswim w=50"]
    assert result.speedup.median == E(5.0 / 0.05, 5.0 / 0.01)
    assert "between aswim w=25 and aswim w=50" in result.refine()
    # energy: the run's average power over its metered fit × the 5 s to its best error
    record = records[-1]
    spent = record["energy_kwh"] * 5.0 / record["fit_wall_time_s"]
    assert result.energy_ratio.median.low == pytest.approx(spent / records[1]["energy_kwh"])
    assert result.energy_ratio.median.high == pytest.approx(spent / records[0]["energy_kwh"])


def test_one_rung_gives_only_a_bound() -> None:
    problem = problem_of([sampled(500, 2e-9, 0.2), backprop(CURVE)])
    result = m.speedup_at_best(problem.baselines[0], problem.ladder)
    assert result.speedup.median == LOW(5.0 / 0.2)  # the lowest rung already reaches 1e-3
    assert "cheaper than aswim w=500" in result.refine()


def test_not_reached_by_backprop_is_a_lower_bound() -> None:
    records = [sampled(100, 1e-5, 0.2), backprop(CURVE, 0), backprop(CURVE, 1)]
    problem = problem_of(records)
    (baseline,) = problem.baselines
    times = m.time_to_error(baseline, 1e-5)
    assert times == [LOW(10.0), LOW(10.0)]  # the curves end at 10 s above 1e-5
    display, data = m.ladder_table([problem])
    assert data.iloc[0]["adam_speedup_kind"] == "at_least"
    assert data.iloc[0]["adam_speedup_median"] == pytest.approx(10.0 / 0.2)
    assert display.iloc[0, -1] == "not reached within 10 s → ≥ 50×"


def test_sampled_ladder_never_reaching_backprop_bounds_the_speedup_above() -> None:
    problem = problem_of([sampled(25, 5e-2, 0.01), backprop(CURVE)])
    result = m.speedup_at_best(problem.baselines[0], problem.ladder)
    assert result.speedup.median == E(0.0, 5.0 / 0.01) and result.chosen == [""]
    display, _ = m.at_best_table([problem])
    assert display.iloc[0]["speed-up"] == "< 500×"


def test_ties_between_sampled_configs() -> None:
    # same median time: the lower median error wins; same time and error: method, then width
    ladder = m.ladder_of(to_frame([
        sampled(200, 1e-4, 0.1), sampled(100, 1e-4, 0.1), sampled(50, 5e-4, 0.1),
        make_record("elm", 0, 300, error=1e-4, seconds=0.1, **SPRING),
    ]))  # fmt: skip
    assert m.cheapest_reaching(ladder, 1e-3)["label"] == "aswim w=100"
    assert m.most_accurate_within(ladder, 0.1)["label"] == "aswim w=100"
    # an error exactly at the target counts as reaching it
    assert m.cheapest_reaching(ladder, 5e-4)["label"] == "aswim w=100"
    assert m.cheapest_reaching(ladder, 9e-5) is None


def test_curve_ties_first_time_at_the_minimum() -> None:
    curve = [(0.0, 1.0), (3.0, 1e-3), (6.0, 1e-3), (9.0, 1e-3)]
    problem = problem_of([sampled(50, 1e-3, 0.1), backprop(curve)])
    (run,) = problem.baselines[0].runs
    assert (run.best_error, run.time_to_best) == (1e-3, 3.0)
    assert m.time_to_error(problem.baselines[0], 1e-3) == [E(3.0)]


def test_spread_spans_the_backprop_seeds() -> None:
    fast = [(0.0, 1.0), (2.0, 1e-3), (10.0, 1e-3)]
    records = [sampled(50, 8e-4, 0.05), backprop(CURVE, 0), backprop(fast, 1)]
    records.append(backprop(CURVE, 2))
    problem = problem_of(records)
    spread = m.speedup_at_best(problem.baselines[0], problem.ladder).speedup
    assert spread.median == LOW(5.0 / 0.05)
    assert (spread.low, spread.high) == (E(2.0 / 0.05), E(math.inf))


def test_equal_time_brackets_with_the_rung_beyond_the_budget() -> None:
    records = [sampled(50, 1e-3, 1.0), sampled(800, 1e-7, 30.0), backprop(CURVE)]
    problem = problem_of(records)
    result = m.equal_time(problem.baselines[0], problem.ladder)
    # budget 10 s: the width-800 config (30 s) does not count, but bounds the ratio above
    assert result.chosen == ["aswim w=50"] and result.ratio.median == E(1.0, 1e-3 / 1e-7)


# ---------------------------------------------------------------- learning-rate search


def test_lr_search_picks_the_best_median_final_error_and_reports_tuning_cost() -> None:
    problem = problem_of(claims_records(("spring",)))
    adam = next(b for b in problem.baselines if b.label == "adam")
    assert adam.config["lr"] == pytest.approx(2e-3)
    assert (adam.tuning_runs, adam.tuning_seconds) == (6, pytest.approx(120.0))
    lbfgs = next(b for b in problem.baselines if b.label == "lbfgs")
    assert lbfgs.tuning_runs == 0
    table = m.lr_search_display(m.lr_search_data([problem]))
    assert "6 runs, 120 s" in set(table["tuning cost (not charged to either side)"])


def test_diverged_seeds_count_against_a_learning_rate() -> None:
    good = [backprop([(0.0, 1.0), (10.0, 1e-3)], s, lr=1e-3) for s in range(3)]
    shaky = [backprop([(0.0, 1.0), (10.0, 1e-6)], 0, lr=1e-2)] + [
        backprop([(0.0, 1.0), (1.0, 1e-1)], s, lr=1e-2, status="diverged") for s in (1, 2)
    ]
    problem = problem_of([sampled(50, 1e-4, 0.1), *good, *shaky])
    (adam,) = problem.baselines
    assert adam.config["lr"] == pytest.approx(1e-3)  # 2 of 3 diverged: median inf
    assert adam.tuning_runs == 3


def test_learning_rate_ties_go_to_the_smaller_lr() -> None:
    runs = [backprop(CURVE, 0, lr=lr) for lr in (1e-2, 1e-3)]
    assert problem_of([sampled(50, 1e-4, 0.1), *runs]).baselines[0].config["lr"] == 1e-3


# ---------------------------------------------------------------- verdicts


FASTER = {c.key: c for c in v.claims()}["faster"]


@pytest.mark.parametrize(
    ("vs_adam", "vs_best", "verdict"),
    [
        (E(500.0), E(150.0), v.HOLDS),
        (E(500.0), E(50.0), v.ONLY_ADAM),
        (E(80.0), E(50.0), v.FAILS),
        (E(500.0), LOW(200.0), v.HOLDS),  # the lower end clears the threshold
        (E(500.0), E(120.0, 900.0), v.HOLDS),
        (None, E(0.0, 60.0), v.FAILS),  # the upper end is below it
        (None, LOW(40.0), v.REFINE),  # only a lower bound below it
        (E(50.0, 300.0), E(50.0, 300.0), v.REFINE),  # the bracket straddles it
        (UNREACHED, UNREACHED, v.NOT_MEASURABLE),
        (None, None, v.NOT_MEASURABLE),
    ],
)
def test_every_verdict_is_reachable(vs_adam, vs_best, verdict) -> None:
    assert v.decide(FASTER, vs_adam, vs_best)[0] == verdict


def test_holds_needs_a_baseline_besides_the_papers_adam() -> None:
    assert v.decide(FASTER, E(500.0), E(500.0), others=False)[0] == v.ONLY_ADAM


def test_a_straddling_bracket_names_the_configurations_to_add() -> None:
    verdict, reason = v.decide(FASTER, None, LOW(40.0), refine="configurations cheaper than x")
    assert verdict == v.REFINE
    assert reason == "bracket ≥ 40× around 100×; add configurations cheaper than x"


def test_the_best_baseline_is_the_minimum_over_baselines() -> None:
    records = [sampled(25, 5e-2, 0.01), sampled(50, 8e-4, 0.05), backprop(CURVE)]
    records.append(backprop([(0.0, 1.0), (1.0, 1e-3), (4.0, 1e-3)], method="lbfgs", lr=1.0))
    problem = problem_of(records)
    results = [m.speedup_at_best(b, problem.ladder) for b in problem.baselines]
    # adam: [100, 500]; lbfgs: 1 s to 1e-3 → [20, 100]; the minimum lies in [20, 100]
    assert m.lowest(results, "speedup") == E(20.0, 100.0)


def by_claim(found: list[v.Verdict], system: str) -> dict[str, str]:
    return {f.claim.key: f.verdict for f in found if f.system == system}


def test_verdicts_on_synthetic_claims_runs() -> None:
    records = claims_records(("pendulum",), energy_method="rapl")
    found = by_claim(v.verdicts(m.problems_of(to_frame(records), records)), "pendulum")
    assert found == {"faster": v.ONLY_ADAM, "quality": v.HOLDS, "energy": v.HOLDS}


def test_contended_runs_mark_the_verdicts() -> None:
    records = claims_records(("pendulum",), energy_method="rapl")
    for record in records:
        record["contended"] = record["trainer"] == "sampled"
    found = v.verdicts(m.problems_of(to_frame(records), records))
    assert all(f.contended > 0 for f in found)
    display, _ = v.verdict_table(found)
    assert all(t.startswith("CONTENDED") for t in display["timings"])


def test_estimated_energy_is_not_measured() -> None:
    records = claims_records(("pendulum",), energy_method="estimated")
    found = by_claim(v.verdicts(m.problems_of(to_frame(records), records)), "pendulum")
    assert found["energy"] == v.ESTIMATED


def test_gpu_claim_appears_with_cuda_baselines() -> None:
    records = [sampled(25, 5e-2, 0.01), sampled(50, 8e-4, 0.05), backprop(CURVE, device="cuda")]
    records.append(backprop(CURVE, method="lbfgs", lr=1.0, device="cuda"))
    found = v.verdicts(m.problems_of(to_frame(records), records))
    gpu = [f for f in found if f.claim.key == "gpu"]
    assert len(gpu) == 1 and gpu[0].verdict == v.HOLDS  # [100×, 500×] ≥ 20× vs both
    assert "adam (cuda)" in gpu[0].evidence
    cpu_only = v.verdicts(m.problems_of(to_frame(records[:2]), records[:2]))
    assert not [f for f in cpu_only if f.claim.key == "gpu"]


def test_only_the_papers_adam_holds_only_vs_it() -> None:
    records = [sampled(25, 5e-2, 0.01), sampled(50, 8e-4, 0.05), backprop(CURVE)]
    found = by_claim(v.verdicts(m.problems_of(to_frame(records), records)), "spring")
    assert found["faster"] == v.ONLY_ADAM  # [100×, 500×], but Adam is all that ran


def test_missing_energy_is_not_measurable_with_its_reason() -> None:
    records = [sampled(50, 8e-4, 0.05, energy_kwh=None, energy_method=None), backprop(CURVE)]
    records.append(backprop(CURVE, method="lbfgs", lr=1.0, energy_method="rapl"))
    records[1]["energy_method"] = "rapl"
    found = v.verdicts(m.problems_of(to_frame(records), records))
    (energy,) = [f for f in found if f.claim.key == "energy"]
    assert energy.verdict == v.NOT_MEASURABLE and "energy reading is missing" in energy.reason
    display, _ = m.at_best_table(m.problems_of(to_frame(records), records))
    assert set(display["energy ratio"]) == {"no energy reading"}


def test_baselines_without_energy_give_verdicts_not_a_crash() -> None:
    # energy.enabled=false for the baselines: the frame holds NaN where a method name would be
    records = [sampled(50, 8e-4, 0.05, energy_method="rapl")]
    records.append(backprop(CURVE, energy_kwh=None, energy_method=None))
    records.append(backprop(CURVE, method="lbfgs", lr=1.0, energy_kwh=None, energy_method=None))
    found = v.verdicts(m.problems_of(to_frame(records), records))
    (energy,) = [f for f in found if f.claim.key == "energy"]
    assert energy.verdict == v.NOT_MEASURABLE
    display, _ = v.verdict_table(found)
    assert len(display) == len(found)


def test_thresholds_are_rendered_from_their_declaration() -> None:
    table = v.threshold_rows(v.Thresholds(speedup=300.0))
    assert "speed-up ≥ 300×" in set(table["threshold"])
    assert set(v.rule_rows()["verdict"]) == {
        v.HOLDS, v.ONLY_ADAM, v.FAILS, v.REFINE, v.NOT_MEASURABLE, v.ESTIMATED
    }  # fmt: skip


# ---------------------------------------------------------------- the report


def sections(markdown: str) -> list[str]:
    return re.findall(r"^## (.+)$", markdown, flags=re.MULTILINE)


def verdict_cells(markdown: str) -> list[list[str]]:
    """(system, claim, verdict) of every Markdown table row."""
    return [row[:3] for row in markdown_rows(markdown)]


def test_claims_check_is_the_first_section(tmp_path: Path) -> None:
    records = claims_records(("spring",))
    extra = [v.Section("Claims experiments")]
    build_report(records, tmp_path, extra=extra)
    markdown = (tmp_path / "report.md").read_text()
    assert sections(markdown)[:2] == ["Claims check", "Claims experiments"]
    (faster,) = [r[2] for r in verdict_cells(markdown) if r[:2] == ["spring", "100 times faster"]]
    # 455–909× vs Adam; vs L-BFGS 60.6–182× straddles 100×: the verdict says where to refine
    assert faster.startswith("holds only vs the paper's Adam (vs the best baseline the bracket")
    assert "add configurations between aswim w=100 and aswim w=200" in faster
    html = (tmp_path / "report.html").read_text()
    assert re.findall(r"<h2>(.*?)</h2>", html)[:2] == ["Claims check", "Claims experiments"]
    thresholds = pd.read_csv(tmp_path / "tables" / "claims_thresholds.csv")
    assert len(thresholds) == len(v.claims())


def test_claims_check_without_both_kinds_says_what_is_missing(tmp_path: Path) -> None:
    build_report([sampled(50, 1e-4, 0.1)], tmp_path)
    markdown = (tmp_path / "report.md").read_text()
    assert sections(markdown)[0] == "Claims check"
    assert f"**{v.NEEDS_BOTH}.**" in markdown
    (verdict,) = [r[2] for r in verdict_cells(markdown) if r[:2] == ["spring", "100 times faster"]]
    assert verdict.startswith("not measurable: needs sampled and backprop")


# ---------------------------------------------------------------- driver and experiments


def test_overrides_go_to_one_side_or_both() -> None:
    sides = claims.split_overrides(
        ["system=spring", "sampled:hidden_width=8", "backprop:trainer.lr=1e-3"], "cuda"
    )
    assert sides["sampled"] == ["system=spring", "hidden_width=8"]
    assert sides["backprop"] == ["system=spring", "trainer.lr=1e-3", "hardware=cuda"]
    assert [p.name for p in claims.select(True, ["backprop"])] == [
        "claims_adam", "claims_adam_tuned", "claims_lbfgs", "claims_converged_lbfgs",
        "claims_converged_adam_tuned",
    ]  # fmt: skip
    with pytest.raises(ValueError, match="unknown claims part"):
        claims.select(True, ["nope"])


def test_cuda_flag_moves_only_the_backprop_side(capsys) -> None:
    assert claims.main(["--lite", "--dry-run", "--backprop-hardware", "cuda"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len(claims.PARTS)
    for line in lines:
        on_gpu = "hardware=cuda" in line
        assert on_gpu == ("claims_sampled_lite" not in line)
        assert "results_dir=results/claims-lite-cuda" in line


def test_tiny_claims_run_end_to_end(tmp_path: Path) -> None:
    """The driver through its CLI: an A-SWIM ladder and Adam at two learning rates on the
    spring, then the report, whose claims check states a verdict per claim."""
    tiny = [
        "system=spring", "train_points=200", "test_points=100", "evaluation.rollouts=1",
        "evaluation.horizon=0.5", "evaluation.dt=0.05", "progress=false",
        "timing.min_total_s=0", "sampled:hidden_width=8,64", "sampled:seed=0,1",
        "backprop:hidden_width=16", "backprop:seed=0", "backprop:adam_steps=60",
        "backprop:adam_max_seconds=null", "backprop:trainer.eval_every=10",
        "backprop:trainer.lr=1e-3,1e-2",
    ]  # fmt: skip
    only = ["--only", "claims_sampled_lite", "claims_adam_lite"]
    # --only takes every name after it, so it goes last
    args = ["-m", "hnnbench.claims", "--lite", "--results-dir", str(tmp_path), *tiny, *only]
    result = run_python(args, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    # each sub-experiment's progress, read from its journal while its output goes to a log
    assert re.search(
        r"^\[claims\] experiment 1/2 claims_sampled_lite: exit 0 after \d+s; 4/4 runs done in ",
        result.stderr,
        re.M,
    ), result.stderr
    out = tmp_path / "claims-lite"
    assert len(list((out / "claims_sampled_lite").glob("*/record.json"))) == 4
    assert len(list((out / "claims_adam_lite").glob("*/record.json"))) == 2
    markdown = (out / "report" / "report.md").read_text()
    # the contention banner opens the report only when a run shared the machine
    opening = [s for s in sections(markdown) if s != "Timing caveat: contended runs"]
    assert opening[:2] == ["Claims check", "Claims experiments"]
    verdicts = pd.read_csv(out / "report" / "tables" / "claims_verdicts.csv")
    assert list(verdicts["system"]) == ["spring"] * 3
    allowed = {v.HOLDS, v.ONLY_ADAM, v.FAILS, v.REFINE, v.NOT_MEASURABLE, v.ESTIMATED}
    assert set(verdicts["verdict"]) <= allowed
    assert verdicts["timings"].str.match(r"clean$|CONTENDED \(\d+ run").all()
    search = pd.read_csv(out / "report" / "tables" / "lr_search.csv")
    assert list(search["configs"]) == [2] and list(search["tuning_runs"]) == [1]


def test_the_regime_says_converged_capped_or_budget() -> None:
    def regime(**fields) -> str:
        records = [sampled(50, 8e-4, 0.05), backprop(CURVE, 0, **fields)]
        records.append(backprop(CURVE, 1, **fields))
        return m.regime(problem_of(records).baselines[0])

    assert regime(converged=True, stopped_by="plateau") == "at convergence (plateau)"
    assert regime(converged=False, stopped_by="steps") == "capped at 30 steps (0/2 converged)"
    assert regime(converged=False, stopped_by="max_seconds") == "within a budget of 10 s"
    assert regime() == "within a budget of 10 s"  # records from before the plateau rule


def test_configurations_alike_but_for_their_budget_are_named_by_it() -> None:
    setups = [{"steps": 200000, "max_seconds": 8, "history_size": 20}, {"steps": 8000,
              "max_seconds": 150, "history_size": 20}]  # fmt: skip
    configs = pd.DataFrame({"label": ["lbfgs w=200 lr=1"] * 2 + ["adam w=200 lr=0.001"],
                            "setup": [json.dumps(s) for s in setups] + ["{}"]})  # fmt: skip
    assert m.unique_labels(configs)["label"].tolist() == [
        "lbfgs w=200 lr=1 (max_seconds=8, steps=200000)",
        "lbfgs w=200 lr=1 (max_seconds=150, steps=8000)",
        "adam w=200 lr=0.001",
    ]
