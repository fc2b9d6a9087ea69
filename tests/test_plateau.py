"""Backprop to convergence: the plateau rule on the validation error, ``stopped_by`` /
``converged`` for every stopping cause, adam_tuned's reduce-on-plateau, the validation points,
and bad values refused before any work."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from hnnbench import systems
from hnnbench.checks import ConfigError
from hnnbench.data import make_dataset
from hnnbench.hardware import torch_threads
from hnnbench.network import HamiltonianNet
from hnnbench.record import FIELDS
from hnnbench.run_spec import seeds_of
from hnnbench.runner import build, check, run
from hnnbench.trainers import AdamTrainer, AdamTunedTrainer, LBFGSTrainer
from hnnbench.trainers.adam import PLATEAU_LR_FLOOR, AdamMLPTrainer
from hnnbench.trainers.backprop import BackpropTrainer
from hnnbench.trainers.plateau import MIN_POINTS, STOPS, PlateauRule, is_converged
from test_config import composed, sweep_choices


@pytest.fixture(autouse=True)
def _one_thread():
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def spring_data():
    return make_dataset(systems.get("spring"), 400, 200, data_seed=3943, validation_points=100)


# ---------------------------------------------------------------- the rule on its own


def test_rule_fires_on_a_plateau_and_not_on_an_improving_curve():
    rule = PlateauRule(tolerance=0.01, window=0.25)
    steps = list(range(0, 2001, 100))
    falling = [1 / (1 + s) for s in steps]  # improves by ≈ 25 % over every last quarter
    assert not rule.reached(steps, falling)
    flat_after_1000 = [1 / (1 + min(s, 1000)) for s in steps]
    assert rule.reached(steps, flat_after_1000)  # no improvement over steps 1500..2000
    # improved by 2 % over the last quarter: above a 1 % tolerance, below a 5 % one
    slow = [1.0] * 16 + [0.98] * 5
    assert not rule.reached(steps, slow)
    assert PlateauRule(tolerance=0.05).reached(steps, slow)


def test_rule_reads_the_best_error_so_far_so_noise_is_no_progress():
    steps = list(range(0, 2001, 100))
    noisy = [1.0, 0.5, 0.3, 0.2] + [0.2 * (1.5 if i % 2 else 1.0) for i in range(17)]
    assert PlateauRule(0.01).reached(steps, noisy)  # bouncing above its best: flat
    recovering = noisy[:-1] + [0.1]  # a new best at the last point: halved, not flat
    assert not PlateauRule(0.01).reached(steps, recovering)


def test_rule_needs_points_in_the_window_and_a_finite_error_before_it():
    rule = PlateauRule(0.01, window=0.25)
    flat = [1.0] * 50
    assert not rule.reached([], [])
    # at step s the window holds the points after 0.75 s: five from s = 17 (13..17) on
    few = list(range(18))
    assert MIN_POINTS == 5
    assert not rule.reached(few[:-1], flat[: len(few) - 1])
    assert rule.reached(few, flat[: len(few)])
    nan_first = [math.nan] * 13 + [1.0] * 5
    assert not rule.reached(few, nan_first)  # no finite error before the window: no verdict
    assert not PlateauRule(None).reached(few, flat[: len(few)])  # off


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"tolerance": 0},
            r"^plateau_tolerance=0 must be in \(0, 1\) \(or null: no plateau rule\)$",
        ),
        ({"tolerance": 1.5}, r"^plateau_tolerance=1\.5 must be in \(0, 1\)"),
        ({"tolerance": "1%"}, r"^plateau_tolerance='1%' must be a finite number in \(0, 1\)"),
        ({"tolerance": 0.01, "window": 1}, r"^plateau_window=1 must be in \(0, 1\)$"),
        ({"tolerance": 0.01, "window": 0}, r"^plateau_window=0 must be in \(0, 1\)$"),
    ],
)
def test_bad_rule_values_are_refused(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        PlateauRule(**kwargs)


def test_converged_means_plateau_or_stalled():
    assert [is_converged(s) for s in STOPS] == [True, True, False, False, False, False]
    assert is_converged(None) is None


# ---------------------------------------------------------------- scripted curves in the loop


class Scripted(BackpropTrainer):
    """A backprop trainer whose updates do nothing and whose test / validation error at step s
    is ``curve(s)``: the loop, the rule and the stops see a synthetic learning curve."""

    method = "scripted"

    def __init__(self, curve, **kwargs):
        super().__init__(4, progress=False, **kwargs)
        self.curve = curve

    def _start(self, net: HamiltonianNet) -> None:
        self._step = 0

    def _advance(self, net, step, batch):
        self._step = step + 1
        return torch.tensor(1.0), step + 1

    def _test_error(self, net, data) -> float:
        return self.curve(self._step)


def plateau_at(step: int):
    return lambda s: 1 / (1 + min(s, step))


def test_a_synthetic_plateau_stops_the_run_as_converged(spring_data):
    trainer = Scripted(plateau_at(400), steps=10_000, eval_every=20, plateau_tolerance=0.01)
    trainer.fit(spring_data)
    # flat from step 400: the last half of the run (the default window) holds no improvement
    # from step 800 on
    assert trainer.stopped_by_ == "plateau" and trainer.converged_
    assert trainer.steps_done_ == 800
    assert trainer.plateau_step_ == trainer.steps_done_
    info = trainer.fit_info_
    assert (info["stopped_by"], info["converged"]) == ("plateau", True)
    assert info["plateau"]["validation_metric"] == "validation_H_rel_l2"
    assert info["plateau"]["validation_points"] == 100 and info["plateau"]["step"] > 0


def test_an_improving_run_is_not_stopped(spring_data):
    trainer = Scripted(lambda s: 1 / (1 + s), steps=3000, eval_every=20, plateau_tolerance=0.01)
    trainer.fit(spring_data)
    assert trainer.stopped_by_ == "steps" and not trainer.converged_
    assert trainer.steps_done_ == 3000 and trainer.plateau_step_ is None


def test_the_rule_watches_the_validation_error_not_the_test_error(spring_data):
    class FlatTestFallingValidation(Scripted):
        def _curve_error(self, net, data):
            flat = data is not self._validation  # the test error is flat from step 0
            return 1.0 if flat else 1 / (1 + self._step)

    trainer = FlatTestFallingValidation(None, steps=2000, eval_every=20, plateau_tolerance=0.01)
    trainer.fit(spring_data)
    assert trainer.stopped_by_ == "steps"  # the validation error kept improving
    curve = trainer.learning_curve_
    assert curve[-1]["test_H_rel_l2"] == 1.0 and curve[-1]["validation_H_rel_l2"] < 1e-3


def test_the_rule_is_off_by_default_and_then_needs_no_validation(spring_data):
    trainer = Scripted(plateau_at(10), steps=500, eval_every=20)
    trainer.fit(replace(spring_data, x_val=None))
    assert trainer.stopped_by_ == "steps" and trainer.needs_validation() is None
    assert "validation_H_rel_l2" not in trainer.learning_curve_[-1]


def test_the_rule_refuses_a_dataset_without_validation_points(spring_data):
    trainer = Scripted(plateau_at(10), plateau_tolerance=0.01)
    assert "plateau_tolerance=0.01" in trainer.needs_validation()
    with pytest.raises(ConfigError, match=r"needs a dataset with validation points"):
        trainer.fit(replace(spring_data, x_val=None))


def test_target_error_and_max_seconds_are_budget_stops(spring_data):
    target = Scripted(plateau_at(10**6), steps=10**4, eval_every=10, target_error=0.01)
    target.fit(spring_data)
    assert (target.stopped_by_, target.converged_) == ("target_error", False)
    timed = Scripted(plateau_at(10**6), steps=10**9, eval_every=100, max_seconds=0.05)
    timed.fit(spring_data)
    assert (timed.stopped_by_, timed.converged_) == ("max_seconds", False)


# ---------------------------------------------------------------- the real trainers


def test_adam_and_lbfgs_stop_on_their_plateau(spring_data):
    # a loose rule (5 %): these tiny nets plateau within a few hundred steps
    common = {"steps": 3000, "eval_every": 10, "plateau_tolerance": 0.05, "progress": False}
    for trainer in (AdamTrainer(10, lr=1e-2, batch_size=100, **common), LBFGSTrainer(10, **common)):
        trainer.fit(spring_data)
        assert (trainer.stopped_by_, trainer.converged_) == ("plateau", True), trainer.method
        assert trainer.steps_done_ < 3000 and trainer.plateau_step_ == trainer.steps_done_
        assert math.isfinite(trainer.learning_curve_[-1]["validation_H_rel_l2"])


def test_adam_mlp_watches_its_own_metric_on_the_validation_points(spring_data):
    trainer = AdamMLPTrainer(8, steps=60, eval_every=10, plateau_tolerance=0.01, progress=False)
    trainer.fit(spring_data)
    assert trainer.fit_info_["plateau"]["validation_metric"] == "validation_xdot_rel_l2"
    last = trainer.learning_curve_[-1]
    assert math.isfinite(last["validation_xdot_rel_l2"]) and "validation_H_rel_l2" not in last
    assert last["validation_xdot_rel_l2"] != last["test_xdot_rel_l2"]  # another set of points


def test_lbfgs_that_can_make_no_progress_is_stalled(spring_data):
    trainer = LBFGSTrainer(10, steps=100, eval_every=10, tolerance_grad=1e300, progress=False)
    trainer.fit(spring_data)
    assert (trainer.stopped_by_, trainer.converged_) == ("stalled", True)
    assert trainer.steps_done_ == 0


class ScriptedTuned(AdamTunedTrainer):
    """adam_tuned whose errors are scripted (its updates are real, on a tiny net)."""

    def __init__(self, curve, **kwargs):
        super().__init__(4, progress=False, **kwargs)
        self.curve = curve
        self._step = 0

    def _advance(self, net, step, batch):
        self._step = step + 1
        return super()._advance(net, step, batch)

    def _curve_error(self, net, data):
        return self.curve(self._step)


def test_adam_tuned_lowers_its_rate_on_a_plateau_and_stops_in_its_last_phase(spring_data):
    # flat from step 200, the budget's cosine near its peak all along (no warm-up, long budget)
    trainer = ScriptedTuned(
        plateau_at(200), steps=100_000, lr=1e-3, warmup=0.0, eval_every=10, plateau_tolerance=0.01
    )
    trainer.fit(spring_data)
    # phase 0 is flat over its last half at step 400; each later phase is flat from its start,
    # so the rule fires once its last half holds five points (90 steps at eval_every 10)
    assert trainer.decayed_at_ == [400, 490, 580]
    assert (trainer.stopped_by_, trainer.converged_) == ("plateau", True)
    assert trainer.plateau_step_ == trainer.steps_done_ == 670
    lr = {p["step"]: p["lr"] for p in trainer.learning_curve_[1:]}
    assert lr[400] == pytest.approx(1e-3, rel=1e-3)  # a plateau under the peak rate
    for step, rate in ((450, 1e-4), (550, 1e-5), (650, 1e-6)):
        assert lr[step] == pytest.approx(rate, rel=1e-3), step
    assert trainer.fit_info_["lr_decayed_at_steps"] == [400, 490, 580]
    assert "x 0.1 at each plateau, stop at plateau 4" in trainer.fit_info_["schedule"]


def test_each_phase_is_judged_on_its_own_curve(spring_data):
    def curve(step):  # flat from 200 to 400, improving again from 400 to 600, then flat
        return 1 / (1 + min(step, 200)) * (400 / min(max(step, 400), 600))

    trainer = ScriptedTuned(
        curve, steps=100_000, lr=1e-3, warmup=0.0, eval_every=10, plateau_tolerance=0.01
    )
    trainer.fit(spring_data)
    # phase 1 (from 400) improves until 600 and is flat over its last half at 400 + 2 × 200
    assert trainer.decayed_at_ == [400, 800, 890] and trainer.steps_done_ == 980
    assert trainer.stopped_by_ == "plateau"


def test_adam_tuned_ignores_a_plateau_under_a_low_learning_rate(spring_data):
    # flat from step 350 of 1000: the rule fires at step 700, where the budget's cosine is
    # below half the peak, so the flat curve is the budget annealing (freezing) the run, not
    # convergence; the run anneals to its budget
    trainer = ScriptedTuned(
        plateau_at(350), steps=1000, lr=1e-3, eval_every=10, plateau_tolerance=0.01
    )
    trainer.fit(spring_data)
    assert (trainer.stopped_by_, trainer.converged_) == ("steps", False)
    assert trainer.decayed_at_ == [] and trainer.plateau_step_ is None
    assert trainer.steps_done_ == 1000
    assert PLATEAU_LR_FLOOR == 0.5


def test_adam_tuned_without_the_rule_keeps_its_budget_schedule(spring_data):
    ruled = ScriptedTuned(plateau_at(20), steps=300, lr=1e-3, eval_every=10)
    ruled.fit(spring_data)
    assert ruled.stopped_by_ == "steps" and ruled.decayed_at_ == []
    assert "plateau" not in ruled.fit_info_["schedule"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"plateau_decays": -1}, r"^plateau_decays=-1 must be >= 0$"),
        ({"plateau_decays": 1.5}, r"^plateau_decays=1\.5 must be an integer >= 0$"),
        ({"decay_factor": 1}, r"^decay_factor=1 must be in \(0, 1\)$"),
        ({"decay_factor": 0}, r"^decay_factor=0 must be in \(0, 1\)$"),
    ],
)
def test_bad_decay_values_are_refused(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        AdamTunedTrainer(10, **kwargs)


# ---------------------------------------------------------------- validation points


def test_validation_points_are_their_own_draw_and_change_no_training_or_test_point():
    system = systems.get("pendulum")
    plain = make_dataset(system, 300, 200, data_seed=7)
    held = make_dataset(system, 300, 200, data_seed=7, validation_points=150)
    np.testing.assert_array_equal(plain.x_train, held.x_train)
    np.testing.assert_array_equal(plain.xdot_train, held.xdot_train)
    np.testing.assert_array_equal(plain.x_test, held.x_test)
    assert plain.validation() is None and plain.validation_points == 0
    assert held.validation_points == 150
    assert not np.isin(held.x_val, held.x_test).any()
    assert not np.isin(held.x_val, held.x_train).any()
    np.testing.assert_allclose(held.H_val, system.H(held.x_val))
    view = held.validation()
    np.testing.assert_array_equal(view.x_test, held.x_val)
    np.testing.assert_array_equal(view.xdot_test, system.vector_field(held.x_val))
    again = make_dataset(system, 300, 200, data_seed=7, validation_points=150)
    np.testing.assert_array_equal(again.x_val, held.x_val)
    assert held.head(10).validation_points == 10


# ---------------------------------------------------------------- runner, record, checks


def small_run(tmp_path: Path, *overrides: str):
    return composed(
        "system=spring", "hidden_width=8", "train_points=200", "test_points=50",
        "validation_points=50", "hardware.threads=1", "evaluation.rollouts=1",
        "evaluation.horizon=0.2", "evaluation.dt=0.05", "energy.enabled=false", "progress=false",
        "save_model=false", "timing.min_total_s=0", f"results_dir={tmp_path}", *overrides,
    )  # fmt: skip


def test_records_say_how_a_run_stopped(tmp_path):
    backprop = small_run(
        tmp_path / "b",
        "trainer=lbfgs",
        "trainer.plateau_tolerance=0.05",
        "adam_steps=2000",
        "adam_eval_every=10",
    )
    assert run(backprop) == "ok"
    sampled = small_run(tmp_path / "s", "trainer=aswim")
    assert run(sampled) == "ok"
    ((lbfgs,), (aswim,)) = (
        [json.loads(p.read_text()) for p in (tmp_path / side).glob("*/*/record.json")]
        for side in "bs"
    )
    assert {"stopped_by", "converged", "validation_points"} <= set(FIELDS)
    assert (lbfgs["stopped_by"], lbfgs["converged"]) == ("plateau", True)
    assert lbfgs["fit_info"]["stopped_by"] == lbfgs["stopped_by"]
    assert lbfgs["validation_points"] == 50
    assert "validation_H_rel_l2" in lbfgs["learning_curve"][-1]
    assert (aswim["stopped_by"], aswim["converged"]) == (None, None)  # not an iterative fit


@pytest.mark.parametrize(
    ("overrides", "pattern"),
    [
        (["validation_points=-1"], r"^validation_points=-1 must be >= 0$"),
        (["validation_points=1.5"], r"^validation_points=1\.5 must be an integer >= 0$"),
        (
            ["trainer=lbfgs", "validation_points=0"],
            r"^validation_points=0 must be >= 1 for the plateau rule of lbfgs "
            r"\(plateau_tolerance=0\.01\); or switch the rule off \(trainer\.plateau_tolerance",
        ),
        (["trainer=adam_tuned", "trainer.plateau_tolerance=0"], r"^trainer: plateau_tolerance=0 "),
        (["trainer=adam", "trainer.plateau_window=1.0"], r"^trainer: plateau_window=1\.0 must be"),
        (["trainer=adam_tuned", "trainer.decay_factor=2"], r"^trainer: decay_factor=2 must be in"),
    ],
)
def test_bad_values_are_one_line_before_any_work(tmp_path, overrides, pattern):
    cfg = composed(f"results_dir={tmp_path / 'results'}", *overrides)
    with pytest.raises(ConfigError, match=pattern) as err:
        check(cfg)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "results").exists()


def test_no_validation_points_are_fine_without_the_rule(tmp_path):
    cfg = composed(f"results_dir={tmp_path}", "trainer=adam", "validation_points=0")
    check(cfg)  # the paper's Adam has the rule off: no validation points needed


@pytest.mark.parametrize(
    ("experiment", "method", "steps", "seconds"),
    [
        ("claims_converged_lbfgs_lite", "lbfgs", 8000, 150),
        ("claims_converged_adam_tuned_lite", "adam_tuned", 16_000, 150),
        ("claims_converged_lbfgs", "lbfgs", 40_000, 21_600),
        ("claims_converged_adam_tuned", "adam_tuned", 300_000, 21_600),
    ],
)
def test_claims_run_the_strongest_baselines_to_their_plateau_with_a_stated_cap(
    experiment, method, steps, seconds
):
    cfg = composed(f"experiment={experiment}", *sweep_choices(experiment))
    _, trainer = build(cfg, seeds_of(cfg))
    assert trainer.method == method and (trainer.steps, trainer.max_seconds) == (steps, seconds)
    assert (trainer.plateau_tolerance, trainer.plateau_window) == (0.01, 0.5)
    assert trainer.needs_validation() and cfg.validation_points >= 1
    # the fixed-budget baselines keep their budget (the "within 8 s" regime)
    budget = composed("experiment=claims_lbfgs_lite", *sweep_choices("claims_lbfgs_lite"))
    assert budget.adam_max_seconds == 8 and budget.name == "claims_lbfgs_lite"
