"""The backprop baseline: the same network trained with Adam on Hamilton's equations.

Loss = mean over a mini-batch of ‖J∇Ĥ(x) − ẋ‖² / 2n (mean squared error over all entries), with
∇Ĥ from autograd (``create_graph=True``, the paper's protocol) or from the network's analytic
gradient (``grad_mode='analytic'``, same values, cheaper). ``torch.optim.Adam(lr, weight_decay)``
(coupled L2), default betas, no schedule; mini-batches are consecutive slices of the (already
random) training array. Afterwards the output bias is shifted so that Ĥ(x0) = H0.

The learning curve records, every ``eval_every`` steps: training seconds so far (evaluation time
excluded from that clock), step, mini-batch loss and test rel-L2 error of H.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
from tqdm import tqdm

from hnnbench.checks import choice, flag, integer, number
from hnnbench.data import Dataset
from hnnbench.hardware import synchronize
from hnnbench.network import HamiltonianNet, apply_J_torch
from hnnbench.trainers.base import Trainer

GRAD_MODES = ("autograd", "analytic")


@dataclass
class CurvePoint:
    seconds: float
    step: int
    train_loss: float
    test_H_rel_l2: float


def anchored_rel_error(net: HamiltonianNet, data: Dataset) -> float:
    """Test rel-L2 error of H for the network shifted so that Ĥ(x0) = H0 (weights untouched)."""
    with torch.no_grad():
        offset = data.anchor_H - float(net(net.as_tensor(data.anchor).reshape(1, -1))[0])
        predicted = net(net.as_tensor(data.x_test)).cpu().numpy() + offset
    return float(np.linalg.norm(predicted - data.H_test) / np.linalg.norm(data.H_test))


class AdamTrainer(Trainer):
    """Adam on the HNN loss; ``fit(dataset)`` returns the network.

    After ``fit`` (besides the ``Trainer`` attributes): ``diverged_``, ``steps_done_``,
    ``stop_reason_`` ('steps', 'max_seconds', 'target_error' or 'diverged').
    ``train_time_s_`` is the training clock, which leaves out the learning-curve evaluations.
    """

    kind = "backprop"
    method = "adam"

    def __init__(
        self,
        hidden_width: int,
        steps: int = 15000,
        batch_size: int = 2048,
        lr: float = 5e-4,
        weight_decay: float = 1e-13,
        model_seed: int = 992472,
        device: str = "cpu",
        dtype: str = "float64",
        eval_every: int = 500,
        max_seconds: float | None = None,
        target_error: float | None = None,
        grad_mode: str = "autograd",
        progress: bool = True,
    ) -> None:
        super().__init__(hidden_width, model_seed, device, dtype)
        for key, value in {
            "steps": steps,
            "batch_size": batch_size,
            "eval_every": eval_every,
        }.items():
            integer(key, value, 1)
        number("lr", lr, above=0)
        number("weight_decay", weight_decay, minimum=0)
        number("max_seconds", max_seconds, above=0, null="no time cap")
        number("target_error", target_error, above=0, null="none")
        choice("grad_mode", grad_mode, GRAD_MODES)
        flag("progress", progress)
        self.steps = int(steps)
        self.batch_size = int(batch_size)
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)
        self.eval_every = int(eval_every)
        self.max_seconds = max_seconds
        self.target_error = target_error
        self.grad_mode = grad_mode
        self.progress = progress
        self.diverged_ = False
        self.steps_done_ = 0
        self.stop_reason_ = ""

    def warmup_copy(self) -> AdamTrainer:
        tiny = super().warmup_copy()
        tiny.steps, tiny.eval_every = 2, 1
        return tiny

    def _init_network(self, input_dim: int) -> HamiltonianNet:
        """PyTorch's default initialisation from the model seed, no global side effects."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.model_seed)
            net = HamiltonianNet(input_dim, self.hidden_width, getattr(torch, self.dtype))
        return net.to(self.device)

    def _predicted_xdot(self, net: HamiltonianNet, x: torch.Tensor) -> torch.Tensor:
        if self.grad_mode == "analytic":
            return net.vector_field(x)
        x = x.detach().requires_grad_(True)
        grad = torch.autograd.grad(net(x).sum(), x, create_graph=True)[0]
        return apply_J_torch(grad)

    def fit(self, data: Dataset) -> HamiltonianNet:
        net = self._init_network(data.x_train.shape[1])
        x, xdot = net.as_tensor(data.x_train), net.as_tensor(data.xdot_train)
        optimizer = torch.optim.Adam(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        n_points, batch = x.shape[0], min(self.batch_size, x.shape[0])
        batches_per_epoch = math.ceil(n_points / batch)
        self.learning_curve_, self.diverged_, self.stop_reason_ = [], False, "steps"
        train_seconds, loss_value, step = 0.0, float("nan"), 0
        bar = tqdm(
            total=self.steps,
            disable=not (self.progress and sys.stderr.isatty()),
            desc="adam",
            unit="step",
            leave=False,
        )
        initial = CurvePoint(0.0, 0, float("nan"), anchored_rel_error(net, data))
        self.learning_curve_.append(asdict(initial))
        synchronize(net.device)
        started = time.perf_counter()
        for step in range(1, self.steps + 1):
            start = ((step - 1) % batches_per_epoch) * batch
            rows = slice(start, start + batch)
            loss = torch.mean((self._predicted_xdot(net, x[rows]) - xdot[rows]) ** 2)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            bar.update()
            if step % self.eval_every and step != self.steps:
                continue
            loss_value = float(loss.detach())  # synchronises the device
            train_seconds += time.perf_counter() - started
            if not math.isfinite(loss_value):
                self.diverged_, self.stop_reason_ = True, "diverged"
                break
            error = anchored_rel_error(net, data)
            self.learning_curve_.append(asdict(CurvePoint(train_seconds, step, loss_value, error)))
            bar.set_postfix(loss=f"{loss_value:.2e}", test_err=f"{error:.2e}")
            if self.target_error is not None and error <= self.target_error:
                self.stop_reason_ = "target_error"
                break
            if self.max_seconds is not None and train_seconds >= self.max_seconds:
                self.stop_reason_ = "max_seconds"
                break
            synchronize(net.device)
            started = time.perf_counter()
        bar.close()
        self.steps_done_ = step
        self.train_time_s_ = train_seconds
        self.status_ = "diverged" if self.diverged_ else "ok"
        self.status_message_ = f"non-finite loss at step {step}" if self.diverged_ else None
        if not self.diverged_:
            net.shift_to_anchor(data.anchor, data.anchor_H)
        self.fit_info_ = {
            "method": "adam",
            "solver": None,
            "steps_done": self.steps_done_,
            "stop_reason": self.stop_reason_,
            "diverged": self.diverged_,
            "final_train_loss": loss_value,
            "grad_mode": self.grad_mode,
        }
        return net
