"""rcond='auto' (GCV on the reduced system), relative target noise, and their checks."""

import json

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from test_lstsq import problem_of

from conftest import CONF
from hnnbench import systems
from hnnbench.checks import ConfigError
from hnnbench.data import make_dataset
from hnnbench.evaluate import rel_l2
from hnnbench.hardware import torch_threads
from hnnbench.record import find_records
from hnnbench.runner import run
from hnnbench.trainers import SampledTrainer
from hnnbench.trainers.lstsq import triangular_system
from hnnbench.trainers.lstsq.solvers import AUTO_GRID, gcv_scores, ridge_solve, solve
from hnnbench.trainers.lstsq.streaming import blas_libraries, triangular_factor

FIXED = (1e-16, 1e-15, 1e-14, 1e-13, 1e-12, 1e-10, 1e-8)


def test_gcv_lands_within_3x_of_the_best_ridge_on_a_noisy_problem():
    """A discrete ill-posed problem (singular values 1 … 1e-12, a smooth truth) with noise
    1e-6: GCV's λ gives an error within 3× of the best λ on its grid."""
    rng = np.random.default_rng(0)
    rows, cols = 400, 60
    u, _ = np.linalg.qr(rng.standard_normal((rows, cols)))
    v, _ = np.linalg.qr(rng.standard_normal((cols, cols)))
    sigma = np.logspace(0, -12, cols)
    matrix = (u * sigma) @ v.T
    truth = v @ (sigma**0.5)  # Picard condition: coefficients decay with σ
    rhs = matrix @ truth + 1e-6 * rng.standard_normal(rows)
    packed = triangular_factor(torch.as_tensor(np.column_stack([matrix, rhs])))
    factor, reduced = packed[:cols, :cols], packed[:cols, cols]
    discarded = float(packed[cols, cols])
    ridges = np.array(AUTO_GRID) * sigma[0]
    errors = [rel_l2(ridge_solve(factor, reduced, r).numpy(), truth) for r in ridges]
    chosen = int(np.argmin(gcv_scores(factor, reduced, discarded, rows, ridges)))
    assert errors[chosen] <= 3 * min(errors)
    assert AUTO_GRID[chosen] > 1e-12  # the noise is seen: not the smallest ridge


@pytest.mark.parametrize("shape", [(40, 12), (10, 300)], ids=["merged blocks", "short stack"])
def test_the_discarded_residual_completes_the_reduced_one(data, shape):
    problem = problem_of(data, shape[1], points=shape[0])
    factor, rhs, discarded = triangular_system(problem, with_residual=True)
    matrix, target = problem.dense()
    coef = torch.as_tensor(np.random.default_rng(1).standard_normal(problem.width))
    full = float((matrix @ coef - target).norm() ** 2)
    reduced = float((factor @ coef - rhs).norm() ** 2) + discarded**2
    assert reduced == pytest.approx(full, rel=1e-9)


def test_auto_on_the_noise_free_pendulum_is_within_3x_of_the_best_fixed_rcond():
    data = make_dataset(systems.get("pendulum"), 600, 500, data_seed=3943)

    def error(rcond):
        trainer = SampledTrainer(80, method="uswim", rcond=rcond)
        net = trainer.fit(data)
        with torch.no_grad():
            grad = net.grad(torch.as_tensor(data.x_test)).numpy()
        return rel_l2(grad, data.grad_test), trainer.fit_info_

    with torch_threads(1), blas_libraries().limit(limits=1):
        best = min(error(r)[0] for r in FIXED)
        auto, info = error("auto")
    assert auto <= 3 * best
    assert info["rcond_mode"] == "auto" and np.finfo(float).eps <= info["rcond"] <= AUTO_GRID[-1]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rcond": "automatic"}, "rcond='automatic' must be a finite number in (0, 1) or 'auto'"),
        ({"rcond": 0.0}, "rcond=0.0 must be in (0, 1) or 'auto'"),
        ({"rcond": "auto", "solver": "gelsd"}, "solver='gelsd' has no rcond='auto'"),
        (
            {"rcond": "auto", "first_pass_solver": "qr_svd"},
            "first_pass_solver='qr_svd' has no rcond='auto'",
        ),
    ],
)
def test_bad_rcond_is_one_line_naming_what_is_allowed(kwargs, message):
    with pytest.raises(ConfigError) as err:
        SampledTrainer(10, method="aswim", **kwargs)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_solve_refuses_auto_where_there_is_no_gcv(data):
    with pytest.raises(ConfigError, match="allowed with auto"):
        solve("qr_svd", problem_of(data, 12, points=40), "auto")


def test_relative_noise_is_the_level_times_the_rms_of_the_exact_targets():
    system = systems.get("spring")
    exact = make_dataset(system, 4000, 10, data_seed=1).xdot_train
    noisy = make_dataset(system, 4000, 10, data_seed=1, noise_std=1e-2, noise_relative=True)
    rms = np.sqrt(np.mean(exact**2))
    assert np.std(noisy.xdot_train - exact) == pytest.approx(1e-2 * rms, rel=0.05)


def test_the_record_holds_the_chosen_rcond_and_the_noise_mode(tmp_path):
    overrides = [
        "trainer=aswim_auto",
        "hidden_width=16",
        "train_points=200",
        "test_points=50",
        "noise_std=1e-4",
        "noise_relative=true",
        "evaluation.rollouts=1",
        "evaluation.horizon=0.2",
        "evaluation.outside_points=20",
        "evaluation.boundary_rollouts=1",
        "energy.enabled=false",
        "warmup=false",
        "save_model=false",
        "hardware.threads=1",
        "timing.min_total_s=0",
        f"results_dir={tmp_path}",
    ]
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    assert run(cfg) == "ok"
    (path,) = find_records(tmp_path)
    record = json.loads(path.read_text())
    assert record["rcond_mode"] == "auto" and np.finfo(float).eps <= record["rcond"] <= 1e-4
    assert record["fit_info"]["rcond"] == record["rcond"]
    assert record["noise_relative"] is True and record["noise_std"] == 1e-4


@pytest.fixture(scope="module")
def data():
    return make_dataset(systems.get("double_pendulum"), 600, 100, data_seed=3943)
