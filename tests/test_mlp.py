"""S-MLP and Adam-MLP (models without a Hamiltonian), symplectic Euler, the energy-trajectory
study and the report's 2 × 2 prior table and energy-study section."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from hnnbench import systems
from hnnbench.checks import ConfigError
from hnnbench.data import make_dataset
from hnnbench.hardware import torch_threads
from hnnbench.integrators import integrate
from hnnbench.model import is_hamiltonian
from hnnbench.network import HamiltonianNet, VectorFieldNet, load_network
from hnnbench.record import find_records
from hnnbench.report import build_report
from hnnbench.report.energy_study import energy_study_data
from hnnbench.report.frame import to_frame
from hnnbench.report.matched import problems_of
from hnnbench.report.prior import prior_data, prior_display
from hnnbench.run_spec import seeds_of
from hnnbench.runner import build, check, run
from hnnbench.trainers import AdamMLPTrainer, AdamTrainer, SampledTrainer, SMLPTrainer
from hnnbench.trainers.lstsq import FeatureLeastSquares, solve
from test_config import composed


@pytest.fixture(scope="module")
def pendulum_data():
    return make_dataset(systems.get("pendulum"), 1500, 500, data_seed=3943)


# ---------------------------------------------------------------- networks


@pytest.mark.parametrize("net_class", [HamiltonianNet, VectorFieldNet])
def test_numpy_field_equals_the_torch_field_and_save_load_keeps_the_kind(net_class, tmp_path):
    torch.manual_seed(0)
    net = net_class(4, 20)
    x = np.random.default_rng(0).uniform(-1, 1, (7, 4))
    field = net.numpy_field()
    np.testing.assert_allclose(field(x), net.predict_vector_field(x), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(field(x[:1]), net.predict_vector_field(x[:1]), atol=1e-14)
    net.save(tmp_path / "model")
    loaded = load_network(tmp_path / "model")
    assert type(loaded) is net_class
    np.testing.assert_array_equal(loaded.predict_vector_field(x), net.predict_vector_field(x))
    assert is_hamiltonian(net) == (net_class is HamiltonianNet)
    other = VectorFieldNet if net_class is HamiltonianNet else HamiltonianNet
    with pytest.raises(ValueError, match="not a"):
        other.load(tmp_path / "model")


# ---------------------------------------------------------------- the S-MLP least squares


@pytest.mark.parametrize("solver", ["qr_ridge", "qr_svd", "gelsd", "normal"])
def test_feature_least_squares_matches_a_dense_multi_output_solve(solver):
    rng = np.random.default_rng(1)
    x = torch.as_tensor(rng.uniform(-1, 1, (300, 2)))
    weight, bias = torch.as_tensor(rng.normal(size=(15, 2))), torch.as_tensor(rng.normal(size=15))
    xdot = torch.as_tensor(rng.normal(size=(300, 2)))
    problem = FeatureLeastSquares(x, xdot, weight, bias, chunk_bytes=18 * 8 * 60)  # 5 chunks
    features = np.column_stack([np.tanh(x.numpy() @ weight.numpy().T + bias.numpy()), np.ones(300)])
    expected = np.linalg.lstsq(features, xdot.numpy(), rcond=None)[0]
    solution = solve(solver, problem, 1e-13)
    assert solution.coef.shape == (16, 2)
    tolerance = 1e-4 if solver == "normal" else 1e-8  # normal equations square the condition
    residual = np.linalg.norm(features @ solution.coef.numpy() - xdot.numpy())
    assert residual <= np.linalg.norm(features @ expected - xdot.numpy()) * (1 + tolerance)


def test_feature_least_squares_auto_rcond_picks_a_grid_value():
    rng = np.random.default_rng(2)
    x = torch.as_tensor(rng.uniform(-1, 1, (200, 2)))
    problem = FeatureLeastSquares(
        x, torch.sin(x) + 1e-3 * torch.as_tensor(rng.normal(size=(200, 2))),
        torch.as_tensor(rng.normal(size=(30, 2))), torch.as_tensor(rng.normal(size=30)),
    )  # fmt: skip
    solution = solve("qr_ridge", problem, "auto")
    assert solution.rcond is not None and 1e-17 < solution.rcond <= 1e-4
    assert solution.coef.shape == (31, 2) and torch.isfinite(solution.coef).all()


# ---------------------------------------------------------------- trainers


@pytest.mark.parametrize("method", ["elm", "uswim"])
def test_smlp_learns_the_pendulum_field_without_a_hamiltonian(method, pendulum_data):
    trainer = SMLPTrainer(200, method=method, model_seed=992472)
    net = trainer.fit(pendulum_data)
    assert isinstance(net, VectorFieldNet) and not is_hamiltonian(net)
    assert trainer.method == f"smlp_{method}" and trainer.fit_info_["sampler"] == method
    predicted = net.predict_vector_field(pendulum_data.x_test)
    error = np.linalg.norm(predicted - pendulum_data.xdot_test) / np.linalg.norm(
        pendulum_data.xdot_test
    )
    assert error < 1e-4


def test_smlp_and_elm_share_the_hidden_layer(pendulum_data):
    hnn = SampledTrainer(50, method="elm").fit(pendulum_data)
    mlp = SMLPTrainer(50, method="elm").fit(pendulum_data)
    torch.testing.assert_close(hnn.hidden.weight, mlp.hidden.weight, rtol=0, atol=0)
    torch.testing.assert_close(hnn.hidden.bias, mlp.hidden.bias, rtol=0, atol=0)


def test_adam_mlp_starts_from_adams_hidden_layer_and_learns(pendulum_data):
    adam = AdamTrainer(30, steps=1, progress=False)
    mlp = AdamMLPTrainer(30, steps=100, lr=1e-2, eval_every=50, progress=False)
    start_hnn, start_mlp = adam._init_network(2), mlp._init_network(2)
    assert isinstance(start_mlp, VectorFieldNet)
    torch.testing.assert_close(start_hnn.hidden.weight, start_mlp.hidden.weight, rtol=0, atol=0)
    with torch_threads(1):  # shared cores stall OpenMP threads (docs/methodology.md, timing rules)
        net = mlp.fit(pendulum_data)
    curve = [point["test_xdot_rel_l2"] for point in mlp.learning_curve_]
    assert isinstance(net, VectorFieldNet) and mlp.method == "adam_mlp"
    assert "test_H_rel_l2" not in mlp.learning_curve_[-1]
    assert curve[-1] < 0.7 * curve[0]
    assert mlp.fit_info_["grad_mode"] is None


def test_smlp_refuses_aswim_and_an_unknown_method_in_one_line():
    with pytest.raises(ConfigError, match="'aswim' ranks pairs by a learned Ĥ"):
        SMLPTrainer(10, method="aswim")
    with pytest.raises(ConfigError, match=r"unknown method 'magic'; allowed: \['elm'"):
        SMLPTrainer(10, method="magic")


# ---------------------------------------------------------------- symplectic Euler


def test_symplectic_euler_is_order_one_on_the_pendulum():
    pendulum = systems.get("pendulum")
    x0 = np.array([[1.0, 0.2]])
    _, fine = integrate(pendulum.vector_field, x0, 2.0, 1e-4, "rk4")  # reference
    errors = [
        np.abs(
            integrate(pendulum.vector_field, x0, 2.0, h, "symplectic_euler")[1][-1] - fine[-1]
        ).max()
        for h in (0.04, 0.02, 0.01)
    ]
    order = np.log(errors[0] / errors[-1]) / np.log(4)
    assert order == pytest.approx(1.0, abs=0.15)


def test_symplectic_euler_keeps_the_energy_bounded_where_explicit_euler_drifts():
    pendulum = systems.get("pendulum")
    x0, h, horizon = np.array([[np.pi / 2, 0.0]]), 0.05, 500.0

    def explicit_euler(x, h):
        return x + h * pendulum.vector_field(x)

    _, states = integrate(pendulum.vector_field, x0, horizon, h, "symplectic_euler")
    energy = pendulum.H(states[:, 0]) - 1.0
    half = len(energy) // 2
    # bounded: O(h) oscillation, no growth from the first half to the second
    assert np.abs(energy).max() < 3 * h
    assert np.abs(energy[half:]).max() < 1.2 * np.abs(energy[:half]).max()
    x = x0.copy()
    for _ in range(int(horizon / h)):
        x = explicit_euler(x, h)
    assert pendulum.H(x)[0] - 1.0 > 20 * np.abs(energy).max()  # explicit Euler gains energy


# ---------------------------------------------------------------- runner, records, report


def tiny(results: Path, *overrides: str) -> list[str]:
    return [
        f"results_dir={results}", "name=t", "system=pendulum", "hidden_width=40",
        "train_points=400", "test_points=200", "adam_steps=40", "adam_eval_every=20",
        "evaluation.rollouts=2", "evaluation.horizon=1.0", "evaluation.dt=0.05",
        "evaluation.boundary_rollouts=1", "evaluation.outside_points=100", "energy.enabled=false",
        "warmup=false", "progress=false", "save_model=false", "timing.min_total_s=0",
        "evaluation.integrator=symplectic_euler",
        *overrides,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def prior_records(tmp_path_factory) -> Path:
    """elm, smlp, adam, adam_mlp on the pendulum, with a short energy trajectory."""
    results = tmp_path_factory.mktemp("prior")
    study = ["evaluation.trajectory.state=[1.0,0.0]", "evaluation.trajectory.horizon=2.0",
             "evaluation.trajectory.dt=0.001", "evaluation.trajectory.samples=101"]  # fmt: skip
    for trainer in ("elm", "smlp", "adam", "adam_mlp"):
        assert run(composed(*tiny(results, f"trainer={trainer}", *study))) == "ok"
    return results


def test_mlp_runs_record_null_h_metrics_and_the_trajectory(prior_records):
    found = {}
    for path in find_records(prior_records):
        record = json.loads(path.read_text())
        found[record["method"]] = (record, path.parent)
    assert set(found) == {"elm", "smlp_elm", "adam", "adam_mlp"}
    for method, (record, folder) in found.items():
        mlp = method in ("smlp_elm", "adam_mlp")
        assert record["hamiltonian"] is (not mlp)
        assert (record["test_H_rel_l2"] is None) == mlp and record["test_xdot_rel_l2"] > 0
        assert record["energy_drift"] >= 0 and record["valid_prediction_time"] > 0
        study = record["trajectory"]
        assert study["steps"] == 2000 and study["integrator"] == "symplectic_euler"
        assert study["H_min"] <= study["H_initial"] <= study["H_max"]
        with np.load(folder / "trajectory.npz", allow_pickle=False) as arrays:
            assert arrays["t"][-1] == pytest.approx(2.0) and len(arrays["t"]) <= 102
            assert arrays["x"].shape == (len(arrays["t"]), 2)
            assert ("H_learned" in arrays.files) == (not mlp)
            np.testing.assert_allclose(arrays["H"][0], study["H_initial"])


def loaded(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in find_records(folder)]


def test_2x2_table_and_energy_study_rows_from_real_records(prior_records):
    records = loaded(prior_records)
    frame = to_frame(records)
    prior = prior_data(frame)
    cells = list(zip(prior["trainer"], prior["hamiltonian"], prior["method"], strict=True))
    assert cells == [("sampled", True, "elm"), ("sampled", False, "smlp_elm"),
                     ("backprop", True, "adam"), ("backprop", False, "adam_mlp")]  # fmt: skip
    assert prior["test_xdot_rel_l2_median"].notna().all()
    assert prior["energy_drift_median"].notna().all()
    assert "MLP (no H)" in set(prior_display(prior)["model"])
    study = energy_study_data(frame, records)
    assert sorted(study["method"]) == ["adam", "adam_mlp", "elm", "smlp_elm"]
    assert (study["H_min"] <= study["H_max"]).all()
    # the matched comparison is on H errors: it leaves the MLP runs out instead of failing
    problems = problems_of(frame, records)
    assert [b.method for p in problems for b in p.baselines] == ["adam"]
    assert all("smlp" not in label for p in problems for label in p.ladder["label"])


@pytest.mark.slow
def test_report_has_the_2x2_section_and_the_energy_study_figure(prior_records, tmp_path):
    out = tmp_path / "report"
    build_report(loaded(prior_records), out, results_dir=str(prior_records))
    text = (out / "report.md").read_text()
    assert "## Is the Hamiltonian prior worth it? (HNN vs MLP)" in text
    assert "read off the paper's plot" in text
    assert (out / "figures" / "prior-2x2.png").exists()
    assert (out / "figures" / "energy-study.png").exists()
    assert len(pd.read_csv(out / "tables" / "prior_2x2.csv")) == 4


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("evaluation.trajectory.dt=0", "evaluation.trajectory.dt=0 must be > 0"),
        ("evaluation.trajectory.horizon=-1", "evaluation.trajectory.horizon=-1 must be > 0"),
        ("evaluation.trajectory.samples=1", "evaluation.trajectory.samples=1 must be >= 2"),
        ("evaluation.trajectory.state=[1.0]", "must be a list of 2 numbers"),
        ("evaluation.trajectory.state=[1.0,nan]", "state entry=nan must be a finite number"),
        ("evaluation.integrator=euler", "unknown evaluation.integrator 'euler'"),
        ("trainer.method=aswim", "'aswim' ranks pairs by a learned Ĥ"),
    ],
)
def test_bad_energy_study_and_smlp_values_are_rejected_before_work(tmp_path, override, message):
    cfg = composed(*tiny(tmp_path / "results", "trainer=smlp", override))
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        check(cfg)
    assert not (tmp_path / "results").exists()


def test_energy_experiment_composes_as_the_paper_states():
    cfg = composed("experiment=paper_energy_conservation", "trainer=smlp")
    system, trainer = build(cfg, seeds_of(cfg))
    assert (cfg.hidden_width, trainer.method, trainer.solver) == (500, "smlp_elm", "gelsd")
    assert seeds_of(cfg).data == 3943 and seeds_of(cfg).model == 992472
    assert cfg.evaluation.integrator == "symplectic_euler"
    assert list(cfg.evaluation.trajectory.state) == pytest.approx([np.pi / 2, 0.0])
    assert (cfg.evaluation.trajectory.horizon, cfg.evaluation.trajectory.dt) == (100.0, 5e-4)
    assert float(system.H(np.array([[np.pi / 2, 0.0]]))[0]) == pytest.approx(1.0)
