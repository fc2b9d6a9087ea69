"""Snapshot and trajectory data, the network's Hessian and the backward-error correction.

The order tests fit A-SWIM to snapshot pairs at several observation steps h and check that the
test rel-L2(H) falls as h¹, h², h³ with correction none / first / second (least-squares slope of
log error over log h, ± 0.3). The fast versions use three steps, the slow ones five.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from hnnbench import systems
from hnnbench.correction import CORRECTIONS, corrected, corrected_H
from hnnbench.data import DataSource, flow, make_dataset, pair_targets
from hnnbench.evaluate import rel_l2
from hnnbench.network import HamiltonianNet
from hnnbench.record import read_record
from hnnbench.report.analysis import Context
from hnnbench.report.compare import compare, load_published, parse_params
from hnnbench.report.frame import to_frame
from hnnbench.report.sweep import STEP
from hnnbench.runner import run
from hnnbench.trainers import AdamTrainer, SampledTrainer
from synthetic import make_record
from test_config import composed

EXPECTED = {"none": 1.0, "first": 2.0, "second": 3.0}
FAST_STEPS = (0.4, 0.1, 0.025)
ALL_STEPS = (0.4, 0.2, 0.1, 0.05, 0.025)
PENDULUM = {"domain": [[-np.pi, np.pi], [-1.0, 1.0]]}


def snapshots(h: float, **extra) -> DataSource:
    return DataSource("snapshots", dt_obs=h, **extra)


def test_snapshot_pairs_are_the_exact_flow_attached_at_q_next_p() -> None:
    spring = systems.get("spring")  # exact flow: a rotation, q(t) = q cos t + p sin t
    h = 0.3
    data = make_dataset(spring, 50, 10, 7, source=snapshots(h))
    starts = np.random.default_rng(7).random((50, 2)) * 2 - 1  # the same draws as the dataset
    q, p = starts[:, 0], starts[:, 1]
    q1, p1 = q * np.cos(h) + p * np.sin(h), p * np.cos(h) - q * np.sin(h)
    np.testing.assert_allclose(data.x_train, np.column_stack([q1, p]), atol=1e-11)
    np.testing.assert_allclose(
        data.xdot_train, np.column_stack([(q1 - q) / h, (p1 - p) / h]), atol=1e-10
    )
    # the test points do not depend on the source: exact H at uniform points, as before
    exact = make_dataset(spring, 50, 10, 7)
    np.testing.assert_array_equal(data.x_test, exact.x_test)
    np.testing.assert_array_equal(data.H_test, exact.H_test)


def test_trajectories_are_cut_into_consecutive_pairs() -> None:
    pendulum = systems.get("pendulum")
    source = DataSource("trajectories", dt_obs=0.2, observations=4)
    data = make_dataset(pendulum, 10, 5, 1, source=source)  # R = ⌈10 / 3⌉ = 4, 2 pairs cut
    assert source.start_count(10) == 4 and data.x_train.shape == (10, 2)
    starts = np.random.default_rng(1).random((4, 2))
    starts = pendulum.domain[:, 0] + (pendulum.domain[:, 1] - pendulum.domain[:, 0]) * starts
    orbit = flow(pendulum, starts, 0.2 * np.arange(4))  # (4 times, 4 orbits, 2)
    before, after = orbit[:-1].transpose(1, 0, 2).reshape(-1, 2), orbit[1:].transpose(1, 0, 2)
    inputs, targets = pair_targets(before[:10], after.reshape(-1, 2)[:10], 0.2)
    np.testing.assert_allclose(data.x_train, inputs, atol=1e-12)
    np.testing.assert_allclose(data.xdot_train, targets, atol=1e-10)
    # noise goes on the states: the quotients move by about σ·√2/h, the test set not at all
    noisy = make_dataset(
        pendulum, 10, 5, 1, source=DataSource(**{**vars(source), "state_noise_std": 1e-3})
    )
    shift = np.abs(noisy.xdot_train - data.xdot_train)
    assert 1e-4 < np.median(shift) < 1e-1
    np.testing.assert_array_equal(noisy.H_test, data.H_test)


def test_the_analytic_hessian_matches_autograd() -> None:
    torch.manual_seed(0)
    net = HamiltonianNet(4, 30)
    x = torch.randn(6, 4, dtype=torch.float64)
    expected = torch.stack(
        [torch.autograd.functional.hessian(lambda y: net(y[None])[0], xi) for xi in x]
    )
    torch.testing.assert_close(net.hessian(x), expected, rtol=1e-10, atol=1e-12)
    u, v = torch.randn(6, 4, dtype=torch.float64), torch.randn(6, 4, dtype=torch.float64)
    form = torch.einsum("ni,nij,nj->n", u, expected, v)
    torch.testing.assert_close(net.hessian_form(x, u, v), form, rtol=1e-10, atol=1e-12)


def symplectic_euler_step(net: HamiltonianNet, x: np.ndarray, h: float) -> np.ndarray:
    """q⁺ = q + h Ĥ_p(q⁺, p), p⁺ = p − h Ĥ_q(q⁺, p), the implicit q⁺ by fixed-point iteration."""
    dof = x.shape[1] // 2
    q, p = x[:, :dof], x[:, dof:]
    q_next = q.copy()
    for _ in range(200):
        q_next = q + h * net.predict_grad(np.hstack([q_next, p]))[:, dof:]
    return np.hstack([q_next, p - h * net.predict_grad(np.hstack([q_next, p]))[:, :dof]])


def corrected_flow(net: HamiltonianNet, x: np.ndarray, h: float, order: str) -> np.ndarray:
    """The exact flow over h of the corrected Hamiltonian (its gradient by autograd)."""
    dof = x.shape[1] // 2

    def rhs(_t: float, flat: np.ndarray) -> np.ndarray:
        y = torch.tensor(flat.reshape(x.shape), requires_grad=True)
        (grad,) = torch.autograd.grad(corrected_H(net, y, h, order).sum(), y)
        return torch.cat([grad[:, dof:], -grad[:, :dof]], 1).detach().numpy().ravel()

    solution = solve_ivp(rhs, (0, h), x.ravel(), method="DOP853", rtol=1e-13, atol=1e-13)
    return solution.y[:, -1].reshape(x.shape)


def test_the_n_dof_correction_is_the_modified_hamiltonian_of_symplectic_euler() -> None:
    """2 degrees of freedom, no fitting: the symplectic Euler step of a network Ĥ equals the
    exact flow of H_corr up to a local error O(h²), O(h³), O(h⁴) for none / first / second."""
    torch.manual_seed(3)
    net = HamiltonianNet(4, 16)
    x = np.random.default_rng(3).uniform(-0.5, 0.5, (8, 4))
    steps = np.array([0.1, 0.05, 0.025])
    for order, expected in (("none", 2), ("first", 3), ("second", 4)):
        errors = [
            np.abs(symplectic_euler_step(net, x, h) - corrected_flow(net, x, h, order)).max()
            for h in steps
        ]
        slope = np.polyfit(np.log(steps), np.log(errors), 1)[0]
        assert abs(slope - expected) < 0.3, (order, errors, slope)


def test_the_corrected_h_is_fixed_at_the_anchor() -> None:
    pendulum = systems.get("pendulum", domain=PENDULUM["domain"])
    data = make_dataset(pendulum, 300, 50, 0, source=snapshots(0.2))
    net = SampledTrainer(60, "uswim").fit(data)
    assert corrected(net, "none", 0.2, data.anchor, data.anchor_H) is net
    for order in ("first", "second"):
        model = corrected(net, order, 0.2, data.anchor, data.anchor_H)
        assert model.predict_H(data.anchor[None])[0] == pytest.approx(data.anchor_H, abs=1e-12)
        np.testing.assert_array_equal(
            model.predict_grad(data.x_test), net.predict_grad(data.x_test)
        )
        assert not np.allclose(model.predict_H(data.x_test), net.predict_H(data.x_test))


def observed_orders(
    system: systems.HamiltonianSystem, width: int, points: int, steps: tuple[float, ...]
) -> dict[str, float]:
    """Least-squares slope of log test rel-L2(H) over log h, per correction."""
    errors: dict[str, list[float]] = {order: [] for order in CORRECTIONS}
    for h in steps:
        data = make_dataset(system, points, 2000, 3943, source=snapshots(h))
        net = SampledTrainer(width, "aswim", rcond=1e-15).fit(data)
        for order in CORRECTIONS:
            model = corrected(net, order, h, data.anchor, data.anchor_H)
            errors[order].append(rel_l2(data.H_test, model.predict_H(data.x_test)))
    return {o: float(np.polyfit(np.log(steps), np.log(e), 1)[0]) for o, e in errors.items()}


def assert_orders(orders: dict[str, float]) -> None:
    for order, expected in EXPECTED.items():
        assert abs(orders[order] - expected) <= 0.3, orders


@pytest.mark.parametrize("name", ["pendulum", "spring"])
def test_orders_of_convergence_fast(name: str) -> None:
    system = systems.get(name, **(PENDULUM if name == "pendulum" else {}))
    assert_orders(observed_orders(system, 200, 1000, FAST_STEPS))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["pendulum", "spring"])
def test_orders_of_convergence(name: str) -> None:
    system = systems.get(name, **(PENDULUM if name == "pendulum" else {}))
    assert_orders(observed_orders(system, 400, 5000, ALL_STEPS))


@pytest.mark.slow
def test_orders_of_convergence_two_dof() -> None:
    """Hénon–Heiles (n = 2) on [−½, ½]⁴: above h = 0.1 (below it the 4-D fit's own error,
    ≈ 1e-4 at this size, hides the second-order term)."""
    system = systems.get("henon_heiles", domain=[[-0.5, 0.5]] * 4)
    assert_orders(observed_orders(system, 1000, 6000, (0.2, 0.1)))


def test_both_trainers_see_the_same_pairs_through_the_runner(tmp_path: Path, monkeypatch) -> None:
    seen: dict[str, np.ndarray] = {}
    for cls in (SampledTrainer, AdamTrainer):
        original = cls.fit

        def spy(self, data, _original=original, _name=cls.__name__):
            seen[_name] = np.hstack([data.x_train, data.xdot_train])
            return _original(self, data)

        monkeypatch.setattr(cls, "fit", spy)
    common = [
        f"results_dir={tmp_path}",
        "data=trajectories",
        "data.observations=4",
        "train_points=60",
        "test_points=50",
        "hidden_width=20",
        "adam_steps=3",
        "warmup=false",
        "save_model=false",
        "energy.enabled=false",
        "evaluation.rollouts=1",
        "evaluation.horizon=0.5",
        "evaluation.outside_points=20",
        "evaluation.boundary_rollouts=1",
        "evaluation.correction=first",
        "timing.min_total_s=0",
    ]
    for trainer in ("aswim", "adam"):
        assert run(composed(*common, f"trainer={trainer}")) == "ok"
    np.testing.assert_array_equal(seen["SampledTrainer"], seen["AdamTrainer"])
    assert seen["SampledTrainer"].shape == (60, 4)
    records = [read_record(p) for p in tmp_path.rglob("record.json")]
    assert len(records) == 2
    for record in records:
        assert record["data_source"] == "trajectories" and record["dt_obs"] == 0.1
        assert record["observations"] == 4 and record["trajectories"] == 20
        assert record["correction"] == "first" and record["state_noise_std"] == 0.0
        assert record["data_time_s"] > 0


def snapshot_records(error_of) -> list[dict]:
    """Synthetic A-SWIM records of the lite error-correction experiment, two seeds a cell."""
    return [
        make_record(
            "aswim",
            seed=seed,
            width=200,
            points=2500,
            name="paper_error_correction_lite",
            domain=PENDULUM["domain"],
            error=error_of(h, correction),
            data_source="snapshots",
            dt_obs=h,
            correction=correction,
            state_noise_std=0.0,
            run_id=f"{h}-{correction}-{seed}",
        )
        for h in (0.1, 0.2, 0.4)
        for correction in CORRECTIONS
        for seed in (0, 1)
    ]


def test_the_paper_comparison_matches_snapshot_cells_by_step_and_correction() -> None:
    assert parse_params("frequency=1; data=snapshots; dt_obs=0.05; correction=none") == {
        "frequency": 1.0,
        "data": "snapshots",
        "dt_obs": 0.05,
        "correction": "none",
    }
    published = load_published()
    table = published[published["table"] == "error_correction"]
    value = {  # the published error of each (h, correction)
        (parse_params(p)["dt_obs"], parse_params(p)["correction"]): e
        for p, e in zip(table["params"], table["test_H_rel_l2"], strict=True)
    }
    records = snapshot_records(lambda h, c: 2 * value.get((h, c), 1e-6))
    data = compare(to_frame(records), records, published)
    assert len(data) == 9  # 3 steps × 3 corrections: never pooled
    matched = data[data["published_cell"] == "exact"]
    assert len(matched) == 6 and np.allclose(matched["error_ratio"], 2.0)
    assert (
        data[data["case"].str.endswith("correction second")]["published_cell"]
        == "no published cell"
    ).all()


def test_the_error_vs_step_figure(tmp_path: Path) -> None:
    records = snapshot_records(lambda h, c: h ** EXPECTED[c])
    frame = to_frame(records)
    medians = STEP.points(frame)
    assert len(medians) == 9 and set(medians["correction"]) == set(CORRECTIONS)
    figure = STEP.figure(frame, Context(frame, records, tmp_path), "steps")
    assert figure is not None and (tmp_path / "figures" / "steps.png").stat().st_size > 0
    # derivative records alone (or a single h) draw nothing
    lone = [make_record("aswim")]
    assert STEP.figure(to_frame(lone), Context(to_frame(lone), lone, tmp_path), "none") is None
