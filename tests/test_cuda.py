"""CUDA paths: run where a GPU exists, skipped cleanly where not."""

import numpy as np
import pytest
import torch

from hnnbench import systems
from hnnbench.data import make_dataset
from hnnbench.evaluate import rel_l2
from hnnbench.trainers import AdamTrainer, AdamTunedTrainer, LBFGSTrainer, SampledTrainer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")


@pytest.fixture(scope="module")
def data():
    return make_dataset(systems.get("double_pendulum"), 2000, 1000, data_seed=0)


@pytest.mark.parametrize("solver", ["gelsd", "qr_svd", "qr_ridge", "normal"])
def test_sampled_fit_on_cuda_matches_cpu(data, solver):
    errors = {}
    for device in ("cpu", "cuda"):
        net = SampledTrainer(300, method="uswim", solver=solver, device=device).fit(data)
        assert net.device.type == device
        errors[device] = rel_l2(data.H_test, net.predict_H(data.x_test))
    assert errors["cuda"] < 1e-3
    assert errors["cuda"] == pytest.approx(errors["cpu"], rel=0.5)


@pytest.mark.parametrize("cls", [AdamTrainer, AdamTunedTrainer, LBFGSTrainer])
def test_backprop_on_cuda(data, cls):
    trainer = cls(64, steps=20, eval_every=10, device="cuda", progress=False)
    net = trainer.fit(data)
    assert net.device.type == "cuda"
    assert np.isfinite(trainer.learning_curve_[-1]["test_H_rel_l2"])
