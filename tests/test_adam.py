import math

import numpy as np
import pytest

from hnnbench import systems
from hnnbench.data import make_dataset
from hnnbench.trainers import AdamTrainer


@pytest.fixture(scope="module")
def spring_data():
    return make_dataset(systems.get("spring"), 1000, 500, data_seed=3943)


def test_adam_reduces_error_tenfold_on_spring(spring_data):
    trainer = AdamTrainer(100, steps=300, batch_size=256, lr=1e-2, eval_every=50, progress=False)
    trainer.fit(spring_data)
    curve = trainer.learning_curve_
    assert curve[0]["step"] == 0
    assert curve[-1]["test_H_rel_l2"] < curve[0]["test_H_rel_l2"] / 10
    assert [p["step"] for p in curve] == [0, 50, 100, 150, 200, 250, 300]
    seconds = [p["seconds"] for p in curve]
    assert seconds == sorted(seconds)


def test_analytic_and_autograd_losses_agree(spring_data):
    a = AdamTrainer(20, steps=5, eval_every=5, grad_mode="autograd", progress=False)
    b = AdamTrainer(20, steps=5, eval_every=5, grad_mode="analytic", progress=False)
    a.fit(spring_data)
    b.fit(spring_data)
    assert a.learning_curve_[-1]["train_loss"] == pytest.approx(
        b.learning_curve_[-1]["train_loss"], rel=1e-10
    )


def test_same_seed_same_initialisation(spring_data):
    first = AdamTrainer(10, steps=1, model_seed=4, progress=False).fit(spring_data)
    second = AdamTrainer(10, steps=1, model_seed=4, progress=False).fit(spring_data)
    np.testing.assert_array_equal(first.hidden.weight.detach(), second.hidden.weight.detach())


def test_anchor_is_respected(spring_data):
    net = AdamTrainer(10, steps=5, progress=False).fit(spring_data)
    assert net.predict_H(np.zeros((1, 2)))[0] == pytest.approx(spring_data.anchor_H, abs=1e-12)


def test_divergence_is_recorded_not_raised(spring_data):
    trainer = AdamTrainer(10, steps=50, lr=1e300, eval_every=1, progress=False)
    trainer.fit(spring_data)
    assert trainer.diverged_ and trainer.stop_reason_ == "diverged"
    assert trainer.steps_done_ < 50


def test_target_error_stops_early(spring_data):
    trainer = AdamTrainer(50, steps=1000, lr=1e-2, eval_every=10, target_error=0.5, progress=False)
    trainer.fit(spring_data)
    assert trainer.stop_reason_ == "target_error"
    assert trainer.learning_curve_[-1]["test_H_rel_l2"] <= 0.5 and trainer.steps_done_ < 1000


def test_max_seconds_stops(spring_data):
    trainer = AdamTrainer(50, steps=10**6, eval_every=10, max_seconds=0.2, progress=False)
    trainer.fit(spring_data)
    assert trainer.stop_reason_ == "max_seconds"
    assert math.isfinite(trainer.learning_curve_[-1]["seconds"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"steps": 0}, "steps=0"), ({"lr": -1.0}, "lr=-1.0"), ({"grad_mode": "x"}, "grad_mode")],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AdamTrainer(**{"hidden_width": 10, **kwargs})
