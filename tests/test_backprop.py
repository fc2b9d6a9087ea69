"""The backprop trainers (adam, adam_tuned, lbfgs): one loss, one loop, their own optimisers."""

import json
import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from hnnbench import systems
from hnnbench.checks import ConfigError
from hnnbench.data import make_dataset
from hnnbench.hardware import torch_threads
from hnnbench.network import HamiltonianNet
from hnnbench.runner import run
from hnnbench.trainers import (
    AdamMLPTrainer,
    AdamTrainer,
    AdamTunedTrainer,
    LBFGSTrainer,
    backprop,
)
from hnnbench.trainers import malloc as malloc_module
from hnnbench.trainers.adam import warmup_cosine
from hnnbench.trainers.backprop import GRAD_MODES, hnn_loss
from test_config import composed

#: settings under which each trainer learns the tiny spring quickly
TRAINERS = {
    "adam": lambda width, **kw: AdamTrainer(
        width, **{"lr": 1e-2, "batch_size": 256, "progress": False, **kw}
    ),
    "adam_tuned": lambda width, **kw: AdamTunedTrainer(
        width, **{"lr": 2e-2, "progress": False, **kw}
    ),
    "lbfgs": lambda width, **kw: LBFGSTrainer(width, **{"eval_every": 10, "progress": False, **kw}),
}
NAMES = sorted(TRAINERS)


@pytest.fixture(autouse=True)
def _one_thread():
    """These fits are tiny: one thread is as fast, and never waits at an OpenMP barrier for a
    second thread that a busy machine has descheduled (2 threads made them 10-50x slower)."""
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def spring_data():
    return make_dataset(systems.get("spring"), 1000, 500, data_seed=3943)


def full_loss(net: HamiltonianNet, data) -> float:
    x, xdot = net.as_tensor(data.x_train), net.as_tensor(data.xdot_train)
    return float(hnn_loss(net, x, xdot, "autograd").detach())


@pytest.mark.parametrize("name", NAMES)
def test_training_lowers_loss_and_error_with_an_increasing_clock(name, spring_data):
    trainer = TRAINERS[name](50, steps=200, eval_every=50 if name != "lbfgs" else 10)
    initial = full_loss(trainer._init_network(2), spring_data)
    net = trainer.fit(spring_data)
    assert isinstance(net, HamiltonianNet) and net.dtype == torch.float64
    curve = trainer.learning_curve_
    assert curve[0]["step"] == 0 and curve[-1]["step"] == 200
    seconds = [p["seconds"] for p in curve]
    assert all(b > a for a, b in zip(seconds, seconds[1:], strict=False))
    assert full_loss(net, spring_data) < initial / 10
    assert curve[-1]["test_H_rel_l2"] < curve[0]["test_H_rel_l2"] / 10
    assert trainer.fit_info_["method"] == name == trainer.method
    assert trainer.kind == "backprop" and trainer.status_ == "ok"


def test_adam_curve_points_every_eval_every(spring_data):
    trainer = TRAINERS["adam"](100, steps=300, eval_every=50)
    trainer.fit(spring_data)
    assert [p["step"] for p in trainer.learning_curve_] == [0, 50, 100, 150, 200, 250, 300]


def test_same_seed_same_initialisation_in_every_trainer_and_dtype():
    nets = [TRAINERS[name](10, model_seed=4)._init_network(2) for name in NAMES]
    nets.append(TRAINERS["adam_tuned"](10, model_seed=4, train_dtype="float32")._init_network(2))
    reference = nets[0].state_dict()
    for net in nets[1:]:
        for key, value in net.state_dict().items():
            np.testing.assert_array_equal(value.double(), reference[key].to(value.dtype).double())
    other = TRAINERS["adam"](10, model_seed=5)._init_network(2)
    assert not torch.equal(other.hidden.weight, nets[0].hidden.weight)


@pytest.mark.parametrize("name", NAMES)
def test_anchor_is_respected(name, spring_data):
    net = TRAINERS[name](10, steps=5).fit(spring_data)
    assert net.predict_H(np.zeros((1, 2)))[0] == pytest.approx(spring_data.anchor_H, abs=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_divergence_is_recorded_not_raised(name, spring_data):
    bad = make_dataset(systems.get("spring"), 200, 50, data_seed=1)
    xdot = bad.xdot_train.copy()
    xdot[3] = np.nan  # a non-finite target: every optimiser's loss is NaN
    bad = replace(bad, xdot_train=xdot)
    trainer = TRAINERS[name](10, steps=50, eval_every=1)
    trainer.fit(bad)
    assert trainer.diverged_ and trainer.stopped_by_ == "diverged"
    assert trainer.status_ == "diverged" and "non-finite loss" in trainer.status_message_
    assert trainer.steps_done_ < 50


@pytest.mark.parametrize("name", ["adam", "adam_tuned"])
def test_a_huge_learning_rate_diverges(name, spring_data):
    trainer = TRAINERS[name](10, steps=50, lr=1e300, eval_every=1)
    trainer.fit(spring_data)
    assert trainer.diverged_ and trainer.steps_done_ < 50


@pytest.mark.parametrize("name", NAMES)
def test_target_error_stops_early(name, spring_data):
    trainer = TRAINERS[name](50, steps=1000, eval_every=10, target_error=0.5)
    trainer.fit(spring_data)
    assert trainer.stopped_by_ == "target_error"
    assert trainer.learning_curve_[-1]["test_H_rel_l2"] <= 0.5 and trainer.steps_done_ < 1000


@pytest.mark.parametrize("name", NAMES)
def test_max_seconds_stops(name, spring_data):
    # Adam checks the clock after every step, so it stops at the budget even between curve
    # points; an L-BFGS round (eval_every iterations) is never cut
    eval_every = 10 if name == "lbfgs" else 10**5
    trainer = TRAINERS[name](50, steps=10**6, eval_every=eval_every, max_seconds=0.2)
    trainer.fit(spring_data)
    assert trainer.stopped_by_ == "max_seconds"
    last = trainer.learning_curve_[-1]
    assert math.isfinite(last["seconds"]) and last["seconds"] >= 0.2
    assert last["step"] == trainer.steps_done_ < eval_every or name == "lbfgs"
    if name == "adam_tuned":
        assert trainer.fit_info_["schedule_clock"] == "max(step / steps, seconds / max_seconds)"


def test_warmup_cosine_schedule():
    assert warmup_cosine(0.0, 0.05) == 0.0
    assert warmup_cosine(0.025, 0.05) == pytest.approx(0.5)
    assert warmup_cosine(0.05, 0.05) == 1.0
    assert warmup_cosine(0.525, 0.05) == pytest.approx(0.5)
    assert warmup_cosine(1.0, 0.05) == pytest.approx(0.0, abs=1e-15)
    assert warmup_cosine(1.7, 0.05) == pytest.approx(0.0, abs=1e-15)  # past the budget: 0
    assert warmup_cosine(0.0, 0.0) == 1.0  # no warm-up


def test_adam_tuned_follows_the_schedule_on_steps(spring_data):
    trainer = AdamTunedTrainer(10, steps=100, lr=1e-3, warmup=0.1, eval_every=1, progress=False)
    trainer.fit(spring_data)
    lr = {p["step"]: p["lr"] for p in trainer.learning_curve_[1:]}
    assert lr[1] == pytest.approx(1e-4)  # 1 % of the budget into a 10 % warm-up
    assert lr[10] == pytest.approx(1e-3)  # the peak at the end of the warm-up
    assert max(lr.values()) == pytest.approx(1e-3)
    assert lr[55] == pytest.approx(5e-4)  # half-way down the cosine
    assert lr[100] == pytest.approx(0.0, abs=1e-18)
    assert trainer.fit_info_["schedule_clock"] == "step / steps"


class FakeClock:
    """time.perf_counter advancing 1 ms at every read: a deterministic training clock."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self):
        self.now += 1e-3
        return self.now


def test_adam_tuned_anneals_on_the_clock_when_time_binds(spring_data, monkeypatch):
    monkeypatch.setattr(backprop, "time", FakeClock())
    trainer = AdamTunedTrainer(
        10, steps=10**6, lr=1e-3, warmup=0.1, eval_every=5, max_seconds=0.2, progress=False
    )
    trainer.fit(spring_data)
    assert trainer.stopped_by_ == "max_seconds" and trainer.steps_done_ < 200
    lr = [p["lr"] for p in trainer.learning_curve_[1:]]
    peak = lr.index(max(lr))
    assert max(lr) > 0.95e-3 and 0 < peak < len(lr) - 1  # warmed up, then decayed
    assert lr[-1] < 0.01e-3 and all(
        b <= a for a, b in zip(lr[peak:-1], lr[peak + 1 :], strict=True)
    )


def test_loss_paths_agree():
    torch.manual_seed(0)
    net = HamiltonianNet(4, 30)
    x, xdot = torch.randn(64, 4, dtype=torch.float64), torch.randn(64, 4, dtype=torch.float64)
    results = {}
    for mode in GRAD_MODES:
        net.zero_grad(set_to_none=True)
        loss = hnn_loss(net, x, xdot, mode)
        loss.backward()
        results[mode] = (float(loss), [p.grad for p in net.parameters()])
    value, grads = results["autograd"]
    assert grads[-1] is None  # the output bias does not enter the loss
    for mode in ("analytic", "fused"):
        assert results[mode][0] == pytest.approx(value, rel=1e-13)
        assert results[mode][1][-1] is None
        for mine, reference in zip(results[mode][1][:-1], grads[:-1], strict=True):
            torch.testing.assert_close(mine, reference, rtol=1e-12, atol=1e-15)


def test_analytic_and_autograd_adam_agree(spring_data):
    a = AdamTrainer(20, steps=5, eval_every=5, grad_mode="autograd", progress=False)
    b = AdamTrainer(20, steps=5, eval_every=5, grad_mode="fused", progress=False)
    a.fit(spring_data)
    b.fit(spring_data)
    assert a.learning_curve_[-1]["train_loss"] == pytest.approx(
        b.learning_curve_[-1]["train_loss"], rel=1e-10
    )


def test_float32_training_is_recorded_and_returns_the_runs_dtype(spring_data):
    trainer = AdamTunedTrainer(20, steps=20, eval_every=10, train_dtype="float32", progress=False)
    net = trainer.fit(spring_data)
    assert net.dtype == torch.float64  # evaluated like every other model
    assert trainer.fit_info_["train_dtype"] == "float32"
    assert trainer.record_fields()["dtype"] == "float32"
    assert AdamTrainer(20).record_fields()["dtype"] == "float64"


def test_float32_run_writes_dtype_float32(tmp_path):
    cfg = composed(
        "system=spring", "trainer=adam_tuned", "trainer.train_dtype=float32", "hidden_width=8",
        "train_points=100", "test_points=50", "adam_steps=10", "evaluation.rollouts=1",
        "evaluation.horizon=0.2", "evaluation.dt=0.05", "energy.enabled=false", "progress=false",
        f"results_dir={tmp_path}", "save_model=false", "timing.min_total_s=0",
    )  # fmt: skip
    assert run(cfg) == "ok"
    (record_path,) = tmp_path.glob("*/*/record.json")
    record = json.loads(record_path.read_text())
    assert (record["dtype"], record["method"], record["trainer"]) == (
        "float32",
        "adam_tuned",
        "backprop",
    )
    assert record["fit_info"]["train_dtype"] == "float32" and record["test_H_rel_l2"] < 10


# ---------------------------------------------------------------- malloc tuning


@pytest.mark.parametrize("grad_mode", ["autograd", "fused"])
def test_malloc_tuning_changes_no_bit(grad_mode, spring_data):
    curves = []
    for tuning in (False, True, False):
        trainer = AdamTrainer(
            200, steps=6, batch_size=512, eval_every=2, grad_mode=grad_mode,
            malloc_tuning=tuning, progress=False,
        )  # fmt: skip
        net = trainer.fit(spring_data)
        points = trainer.learning_curve_[1:]  # the first point's loss is NaN (no step yet)
        curves.append(([(p["train_loss"], p["test_H_rel_l2"]) for p in points],
                       net.hidden.weight.detach().clone()))  # fmt: skip
    for curve, weight in curves[1:]:
        assert curve == curves[0][0]
        assert torch.equal(weight, curves[0][1])


def test_malloc_tuning_is_recorded_and_a_no_op_off_glibc(monkeypatch):
    with malloc_module.tuned_malloc(False) as said:
        assert said == "off (not requested)"
    if malloc_module.glibc() is not None:
        with malloc_module.tuned_malloc() as said:
            assert said.startswith("glibc mallopt M_MMAP_MAX=0")
    monkeypatch.setattr(malloc_module.platform, "libc_ver", lambda: ("", ""))
    assert malloc_module.glibc() is None
    with malloc_module.tuned_malloc() as said:
        assert said == "unchanged (not glibc)"


def test_fit_info_says_what_ran(spring_data):
    trainer = TRAINERS["lbfgs"](10, steps=20)
    trainer.fit(spring_data)
    info = trainer.fit_info_
    assert info["optimizer"] == "lbfgs" and info["line_search"] == "strong_wolfe"
    assert info["batch_size"] == 1000 and info["grad_mode"] == "fused"
    assert info["steps_done"] == 20 and info["function_evals"] >= 20
    assert info["malloc"]
    assert trainer.learning_curve_[-1]["function_evals"] == info["function_evals"]
    tuned = TRAINERS["adam_tuned"](10, steps=4, batch_size="full")
    tuned.fit(spring_data)
    assert tuned.fit_info_["batch_size"] == 1000 and tuned.fit_info_["compile"] is False


@pytest.mark.parametrize(
    ("cls", "kwargs", "message"),
    [
        (AdamTrainer, {"steps": 0}, "steps=0"),
        (AdamTrainer, {"lr": -1.0}, "lr=-1.0"),
        (AdamTrainer, {"grad_mode": "x"}, "grad_mode"),
        (AdamTrainer, {"batch_size": -3}, "batch_size=-3"),
        (AdamTrainer, {"batch_size": "half"}, "batch_size='half'"),
        (AdamTrainer, {"train_dtype": "float16"}, "unknown train_dtype 'float16'"),
        (AdamTrainer, {"max_seconds": 0}, "max_seconds=0"),
        (AdamTunedTrainer, {"warmup": 1.0}, "warmup=1.0"),
        (LBFGSTrainer, {"history_size": 0}, "history_size=0"),
        (LBFGSTrainer, {"tolerance_grad": -1.0}, "tolerance_grad"),
    ],
)
def test_bad_arguments(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(**{"hidden_width": 10, **kwargs})


# ---------------------------------------------------------------- the published models' options


@pytest.mark.parametrize("cls", [AdamTrainer, AdamMLPTrainer])
def test_depth_orthogonal_init_and_a_frozen_output_bias(cls, spring_data):
    trainer = cls(16, steps=20, batch_size=None, lr=1e-2, depth=2, init="orthogonal",
                  output_bias=False, eval_every=10, progress=False)  # fmt: skip
    net = trainer._init_network(2)
    assert net.depth == 2 and not net.output.bias.requires_grad
    for layer in (net.hidden, net.deeper[0]):  # orthogonal: W Wᵀ = I on the smaller side
        w = layer.weight.detach()
        gram = w.T @ w if w.shape[0] >= w.shape[1] else w @ w.T
        torch.testing.assert_close(gram, torch.eye(len(gram), dtype=w.dtype))
    fitted = trainer.fit(spring_data)
    assert fitted.depth == 2 and trainer.fit_info_["depth"] == 2
    assert trainer.record_fields()["depth"] == 2
    if cls is AdamMLPTrainer:  # no anchor shift: the MLP's head has no bias at all
        assert torch.count_nonzero(fitted.output.bias) == 0


def test_the_fused_loss_refuses_a_deeper_network():
    with pytest.raises(ConfigError, match="grad_mode='fused' is the one-hidden-layer loss"):
        AdamTrainer(8, depth=2, grad_mode="fused")
