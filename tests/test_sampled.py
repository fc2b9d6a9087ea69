import numpy as np
import pytest

from hnnbench import systems
from hnnbench.data import make_dataset
from hnnbench.evaluate import rel_l2
from hnnbench.trainers import SampledTrainer
from hnnbench.trainers.lstsq import SOLVERS


@pytest.fixture(scope="module")
def pendulum_data():
    return make_dataset(systems.get("pendulum"), 2000, 2000, data_seed=3943)


@pytest.fixture(scope="module")
def spring_data():
    return make_dataset(systems.get("spring"), 2000, 2000, data_seed=3943)


def error_of(net, data):
    return rel_l2(data.H_test, net.predict_H(data.x_test))


@pytest.mark.parametrize("method", ["elm", "uswim", "swim", "aswim"])
@pytest.mark.parametrize("data_name", ["pendulum_data", "spring_data"])
def test_every_method_is_accurate(method, data_name, request):
    data = request.getfixturevalue(data_name)
    net = SampledTrainer(300, method=method).fit(data)
    assert error_of(net, data) < 1e-5


def test_aswim_pendulum_below_1e6(pendulum_data):
    net = SampledTrainer(300, method="aswim").fit(pendulum_data)
    assert error_of(net, pendulum_data) < 1e-6


def test_same_seed_is_bitwise_identical(pendulum_data):
    first = SampledTrainer(200, method="aswim", model_seed=5).fit(pendulum_data)
    second = SampledTrainer(200, method="aswim", model_seed=5).fit(pendulum_data)
    for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True):
        assert np.array_equal(a.detach().numpy(), b.detach().numpy())
    assert error_of(first, pendulum_data) == error_of(second, pendulum_data)


def test_different_seed_differs(pendulum_data):
    first = SampledTrainer(50, method="uswim", model_seed=1).fit(pendulum_data)
    second = SampledTrainer(50, method="uswim", model_seed=2).fit(pendulum_data)
    assert not np.array_equal(
        first.hidden.weight.detach().numpy(), second.hidden.weight.detach().numpy()
    )


def test_aswim_resamples_the_hidden_layer(pendulum_data):
    uswim = SampledTrainer(200, method="uswim", model_seed=3).fit(pendulum_data)
    aswim = SampledTrainer(200, method="aswim", model_seed=3).fit(pendulum_data)
    assert not np.array_equal(
        uswim.hidden.weight.detach().numpy(), aswim.hidden.weight.detach().numpy()
    )


def test_swim_weights_map_pairs_to_plus_minus_half(pendulum_data):
    from hnnbench.trainers.sampled import candidate_pairs, pair_weights

    x = pendulum_data.x_train
    pairs = candidate_pairs(len(x), 10, np.random.default_rng(0))[:10]
    weight, bias = pair_weights(x, pairs)
    np.testing.assert_allclose(np.tanh(np.sum(weight * x[pairs[:, 0]], 1) + bias), -0.5)
    np.testing.assert_allclose(np.tanh(np.sum(weight * x[pairs[:, 1]], 1) + bias), 0.5)
    assert np.all(pairs[:, 0] != pairs[:, 1])


def test_swim_needs_true_H(pendulum_data):
    from dataclasses import replace

    blind = replace(pendulum_data, H_train=None)
    with pytest.raises(ValueError, match="needs the true H"):
        SampledTrainer(50, method="swim").fit(blind)
    SampledTrainer(50, method="aswim").fit(blind)  # A-SWIM does not


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "swimm"}, "unknown method 'swimm'; allowed"),
        ({"solver": "magic"}, "unknown solver 'magic'; allowed"),
        ({"hidden_width": 0}, "hidden_width=0"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SampledTrainer(**{"hidden_width": 10, **kwargs})


@pytest.mark.parametrize("solver", sorted(SOLVERS))
def test_solvers_agree_on_a_small_problem(solver, pendulum_data):
    reference = SampledTrainer(200, method="uswim", solver="gelsd").fit(pendulum_data)
    trainer = SampledTrainer(200, method="uswim", solver=solver)
    net = trainer.fit(pendulum_data)
    ref_error = error_of(reference, pendulum_data)
    # SVD-class solvers match gelsd; normal equations (squared condition) are promised 1e-3
    bound = 1e-3 if solver == "normal" else 3 * ref_error
    assert error_of(net, pendulum_data) <= bound
    assert trainer.fit_info_["solver"] == solver
    assert 0 < trainer.fit_info_["effective_rank"] <= 200
