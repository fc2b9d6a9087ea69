import numpy as np
import pytest
import torch

from hnnbench.network import HamiltonianNet, VectorFieldNet, load_network


@pytest.fixture
def net():
    torch.manual_seed(0)
    return HamiltonianNet(4, 32)


def test_analytic_gradient_equals_autograd(net):
    x = torch.randn(50, 4, dtype=torch.float64, requires_grad=True)
    auto = torch.autograd.grad(net(x).sum(), x)[0]
    torch.testing.assert_close(net.grad(x), auto, rtol=1e-12, atol=1e-14)


def test_vector_field_is_J_grad(net):
    x = torch.randn(10, 4, dtype=torch.float64)
    grad = net.grad(x)
    expected = torch.cat([grad[:, 2:], -grad[:, :2]], dim=1)
    torch.testing.assert_close(net.vector_field(x), expected)


def test_shift_to_anchor(net):
    net.shift_to_anchor(np.zeros(4), 1.25)
    assert net.predict_H(np.zeros((1, 4)))[0] == pytest.approx(1.25, abs=1e-14)


def test_save_load_roundtrip_without_pickle(net, tmp_path):
    net.save(tmp_path / "model", metadata={"trainer": "test"})
    assert (tmp_path / "model.npz").exists() and (tmp_path / "model.json").exists()
    with np.load(tmp_path / "model.npz", allow_pickle=False) as arrays:
        assert set(arrays.files) == {"hidden.weight", "hidden.bias", "output.weight", "output.bias"}
    loaded = HamiltonianNet.load(tmp_path / "model")
    x = np.random.default_rng(0).normal(size=(20, 4))
    np.testing.assert_array_equal(loaded.predict_H(x), net.predict_H(x))


def test_float32_network():
    net32 = HamiltonianNet(2, 8, dtype=torch.float32)
    assert net32.predict_H(np.zeros((3, 2))).dtype == np.float32


@pytest.mark.parametrize(("dim", "width"), [(3, 10), (2, 0)])
def test_bad_shapes(dim, width):
    with pytest.raises(ValueError):
        HamiltonianNet(dim, width)


# ---------------------------------------------------------------- depth (standard HNN tasks)


@pytest.mark.parametrize("depth", [2, 3])
def test_deep_analytic_gradient_equals_autograd(depth):
    torch.manual_seed(1)
    net = HamiltonianNet(4, 16, depth=depth)
    x = torch.randn(30, 4, dtype=torch.float64, requires_grad=True)
    auto = torch.autograd.grad(net(x).sum(), x)[0]
    torch.testing.assert_close(net.grad(x), auto, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("net_class", [HamiltonianNet, VectorFieldNet])
def test_deep_numpy_field_equals_the_torch_field_and_save_load_keeps_the_depth(net_class, tmp_path):
    torch.manual_seed(2)
    net = net_class(4, 12, depth=3)
    x = np.random.default_rng(0).normal(size=(7, 4))
    np.testing.assert_allclose(net.numpy_field()(x), net.predict_vector_field(x), rtol=1e-12)
    net.save(tmp_path / "deep")
    loaded = load_network(tmp_path / "deep")
    assert type(loaded) is net_class and loaded.depth == 3
    np.testing.assert_array_equal(loaded.predict_vector_field(x), net.predict_vector_field(x))


def test_one_layer_only_operations_refuse_a_deeper_network():
    net = HamiltonianNet(2, 8, depth=2)
    for call in (
        lambda: net.hessian(torch.zeros(1, 2, dtype=torch.float64)),
        lambda: net.set_weights(np.zeros((8, 2)), np.zeros(8), np.zeros(8), 0.0),
    ):
        with pytest.raises(ValueError, match="one hidden layer; this one has depth 2"):
            call()


@pytest.mark.parametrize("depth", [0, 1.5, True])
def test_bad_depth(depth):
    with pytest.raises(ValueError, match="depth="):
        HamiltonianNet(2, 8, depth=depth)
