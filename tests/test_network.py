import numpy as np
import pytest
import torch

from hnnbench.network import HamiltonianNet


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
