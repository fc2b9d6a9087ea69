"""Adam on the HNN loss: the paper's protocol (``adam``) and a modern recipe (``adam_tuned``).

``adam`` (``AdamTrainer``): ``torch.optim.Adam(lr, weight_decay)`` (coupled L2), default betas,
constant learning rate, mini-batches of ``batch_size`` consecutive rows of the (already random)
training array, ∇Ĥ by autograd (``grad_mode='autograd'``, the paper's) — the reference for "as
published". ``adam_tuned`` (``AdamTunedTrainer``): the same optimiser with a linear warm-up and a
cosine decay to 0 over the run's budget, a larger peak learning rate, the fused analytic loss,
optionally full batch, float32 arithmetic or ``torch.compile``.

The loss, the initialisation, the learning curve, the stops and the anchor shift are
``backprop.BackpropTrainer``'s, shared with ``lbfgs``. The plateau rule (``plateau.py``) stops
``adam`` where it fires: its learning rate is constant, so the plateau is where the protocol as
published converges. ``adam_tuned`` lowers its learning rate first (see ``AdamTunedTrainer``).

``adam_mlp`` (``AdamMLPTrainer``): the non-Hamiltonian twin — the paper's Adam (same optimiser,
lr, batches, budget knobs and PyTorch default initialisation from the model seed) on a
``VectorFieldNet`` ẋ̂ = C tanh(Wx + b) + c with the same loss, mean((ẋ̂ − ẋ)²), which needs no
input gradient (``grad_mode`` does not apply); its learning curve follows the test rel-L2 of ẋ.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import torch

from hnnbench.checks import flag, integer, number
from hnnbench.data import Dataset
from hnnbench.evaluate import rel_l2
from hnnbench.network import HamiltonianNet, TanhNet, VectorFieldNet
from hnnbench.trainers.backprop import (
    GRAD_MODES,
    BackpropTrainer,
    Batches,
    anchored_rel_error,
    hnn_loss,
)

__all__ = [
    "GRAD_MODES",
    "AdamMLPTrainer",
    "AdamTrainer",
    "PLATEAU_LR_FLOOR",
    "AdamTunedTrainer",
    "anchored_rel_error",
    "warmup_cosine",
]


class AdamTrainer(BackpropTrainer):
    """The paper's Adam: constant ``lr``, mini-batches, autograd ∇Ĥ by default."""

    method = "adam"
    logs_step_loss = True

    def _start(self, net: HamiltonianNet) -> None:
        self._optimizer = torch.optim.Adam(
            net.parameters(), lr=self.lr, weight_decay=self.weight_decay
        )

    def _before_step(self, step: int) -> None:
        """Hook before update ``step + 1`` (the schedule of ``adam_tuned``)."""

    def _advance(self, net: HamiltonianNet, step: int, batch: Batches) -> tuple[torch.Tensor, int]:
        self._before_step(step)
        x, xdot = batch(step)
        loss = self._loss(net, x, xdot)
        self._optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self._optimizer.step()
        return loss, step + 1

    def _info(self) -> dict[str, Any]:
        return {"optimizer": "adam", "lr": self.lr, "weight_decay": self.weight_decay}


def warmup_cosine(progress: float, warmup: float) -> float:
    """The learning-rate factor at ``progress`` ∈ [0, 1] of the budget: linear from 0 to 1 over
    [0, warmup], then a half cosine from 1 down to 0 at 1 (clamped outside [0, 1])."""
    p = min(max(progress, 0.0), 1.0)
    if p < warmup:
        return p / warmup
    if warmup >= 1:
        return 1.0
    return 0.5 * (1 + math.cos(math.pi * (p - warmup) / (1 - warmup)))


#: adam_tuned acts on a plateau only while its budget schedule leaves the learning rate at least
#: this fraction of the current phase's: once the cosine over the budget has taken over, a flat
#: curve is the budget annealing the run (or freezing it), not convergence
PLATEAU_LR_FLOOR = 0.5


class AdamTunedTrainer(AdamTrainer):
    """Adam with warm-up + cosine decay over the budget, fused analytic loss by default.

    The schedule runs on the *budget fraction* before each update,
    ``progress = max(step / steps, training seconds / max_seconds)``: whichever budget binds,
    the warm-up takes its first ``warmup`` fraction and the learning rate reaches 0 when it runs
    out. With ``max_seconds`` null it is an ordinary step schedule (reproducible step for step);
    a run cut by time anneals by the clock (so its learning-rate sequence depends on the
    machine's speed; the curve records the lr at every point). A step schedule over a step count
    the time budget never reaches would stop the run before the decay, at a high learning rate,
    and compare an unannealed Adam.

    **A plateau under a high learning rate is not convergence**: Adam's error then sits at the
    noise floor of that rate (measured, spring: a plateau at the peak rate at step 4400 with
    error 2.8e-3; the same run annealed by a cosine over 20 000 steps reached 3.1e-4). So with
    the plateau rule on, adam_tuned *reduces on plateau*: the learning rate is
    min(budget schedule, peak × ``decay_factor``^k), k the plateaus so far; each plateau starts a
    new phase (the rule then watches only the curve since it) with the rate × ``decay_factor``,
    and a plateau in phase ``plateau_decays`` ends the run (``stopped_by='plateau'``, converged:
    the last half of the phase gained < tolerance even at peak × ``decay_factor``^plateau_decays,
    1e-3 of the peak by default). A plateau while the budget schedule holds the rate below
    ``PLATEAU_LR_FLOOR`` (½) of the phase's is ignored — the budget is annealing the run, which
    ends at its budget, budget-limited. Without the rule the schedule is the budget's alone.

    ``batch_size`` null / 0 / 'full': full batch. ``train_dtype``: float32 arithmetic (the
    sampled side stays in the run's dtype; the record's ``dtype`` says which). ``compile``:
    ``torch.compile`` of the loss (compile time is inside the fit and counted).
    """

    method = "adam_tuned"

    def __init__(
        self,
        hidden_width: int,
        steps: int = 15000,
        batch_size: int | str | None = 2048,
        lr: float = 3e-3,
        warmup: float = 0.05,
        compile: bool = False,
        grad_mode: str = "fused",
        plateau_decays: int = 3,
        decay_factor: float = 0.1,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            hidden_width, steps=steps, batch_size=batch_size, lr=lr, grad_mode=grad_mode, **kwargs
        )
        number("warmup", warmup, minimum=0, below=1)  # a fraction of the budget
        flag("compile", compile)
        integer("plateau_decays", plateau_decays, 0)
        number("decay_factor", decay_factor, above=0, below=1)
        self.warmup = float(warmup)
        self.compile = bool(compile)
        self.plateau_decays = int(plateau_decays)
        self.decay_factor = float(decay_factor)
        self.lr_now_ = 0.0
        self.decayed_at_: list[int] = []

    def _start(self, net: HamiltonianNet) -> None:
        super()._start(net)
        loss = partial(hnn_loss, mode=self.grad_mode)
        self._compiled = torch.compile(loss) if self.compile else loss
        self.decayed_at_, self._budget_lr = [], 0.0

    def _phase_lr(self) -> float:
        """The learning rate of the current phase: the peak × decay_factor per plateau so far."""
        return self.lr * self.decay_factor ** len(self.decayed_at_)

    def _on_plateau(self, step: int) -> bool:
        """Stop in the last phase; before it, start the next phase (the rate × decay_factor)."""
        if self._budget_lr < PLATEAU_LR_FLOOR * self._phase_lr():
            return False  # the budget schedule is annealing the run
        if len(self.decayed_at_) >= self.plateau_decays:
            return super()._on_plateau(step)
        self.decayed_at_.append(step)
        self._phase_start = step
        return False

    def _loss(self, net: HamiltonianNet, x: torch.Tensor, xdot: torch.Tensor) -> torch.Tensor:
        return self._compiled(net, x, xdot)

    def progress_at(self, step: int) -> float:
        """The budget fraction used once update ``step + 1`` is done."""
        progress = (step + 1) / self.steps
        if self.max_seconds is not None:
            progress = max(progress, self.elapsed() / self.max_seconds)
        return progress

    def _before_step(self, step: int) -> None:
        self._budget_lr = self.lr * warmup_cosine(self.progress_at(step), self.warmup)
        self.lr_now_ = min(self._budget_lr, self._phase_lr())
        for group in self._optimizer.param_groups:
            group["lr"] = self.lr_now_

    def _curve_extra(self) -> dict[str, Any]:
        return {"lr": self.lr_now_}

    def _info(self) -> dict[str, Any]:
        return {
            **super()._info(),
            "schedule": f"linear warm-up over {self.warmup:g} of the budget, then cosine to 0"
            + (
                f"; x {self.decay_factor:g} at each plateau, stop at plateau "
                f"{self.plateau_decays + 1}"
                if self._plateau.enabled
                else ""
            ),
            "lr_decayed_at_steps": list(self.decayed_at_),
            "schedule_clock": "max(step / steps, seconds / max_seconds)"
            if self.max_seconds is not None
            else "step / steps",
            "peak_lr": self.lr,
            "final_lr": self.lr_now_,
            "compile": self.compile,
        }


class AdamMLPTrainer(AdamTrainer):
    """The paper's Adam on the MLP vector field (``VectorFieldNet``): no Hamiltonian, no anchor."""

    learns_hamiltonian = False

    method = "adam_mlp"
    network = VectorFieldNet
    curve_metric = "test_xdot_rel_l2"

    def _loss(self, net: TanhNet, x: torch.Tensor, xdot: torch.Tensor) -> torch.Tensor:
        return torch.mean((net(x) - xdot) ** 2)

    def _test_error(self, net: TanhNet, data: Dataset) -> float:
        """Test rel-L2 of ẋ."""
        return rel_l2(data.xdot_test, net.predict_vector_field(data.x_test))

    def _finish(self, net: TanhNet, data: Dataset) -> None:
        """Nothing to anchor: the MLP has no Ĥ."""

    def _info(self) -> dict[str, Any]:
        return {**super()._info(), "grad_mode": None, "network": "vector_field"}
