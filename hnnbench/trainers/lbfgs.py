"""L-BFGS on the HNN loss (``lbfgs``): the classic optimiser for small smooth regression problems.

``torch.optim.LBFGS(lr=1, history_size, line_search_fn='strong_wolfe')`` on the full batch by
default (``batch_size`` for large batches), the fused analytic loss of ``backprop.py`` by default.
A *step* is one L-BFGS iteration (one search direction and its line search, usually 1–3 loss
and gradient evaluations), so ``steps`` caps iterations. Each ``optimizer.step`` call runs
``eval_every`` iterations (its ``max_iter``; L-BFGS keeps its history and step length across
calls, so the calls continue one run; near ``max_seconds`` a call gets only the iterations that
the last call's pace fits into the time left), then the learning curve gets a point; each call
re-evaluates the loss once at its start (≈ 1 evaluation in ``eval_every`` iterations extra, in the
training clock). With ``batch_size`` set, every call works on the next batch.

The learning curve's ``train_loss`` is the batch loss at the point's weights (computed with the
evaluation, outside the training clock); ``function_evals`` counts loss + gradient evaluations.
Stops: those of every backprop trainer (``plateau`` stops the run: the line search sets the
step, so a plateau is not a too-large learning rate's noise floor), and ``stalled`` when a call
makes no iteration or does not change the loss (the tolerances ``tolerance_grad`` and
``tolerance_change``, 0 by default: the plateau rule or the budget decides).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from hnnbench.checks import integer, number
from hnnbench.network import HamiltonianNet
from hnnbench.trainers.backprop import BackpropTrainer, Batches


class LBFGSTrainer(BackpropTrainer):
    """Full-batch L-BFGS with a strong Wolfe line search; ``fit(dataset)`` returns the network."""

    method = "lbfgs"

    def __init__(
        self,
        hidden_width: int,
        steps: int = 15000,
        batch_size: int | str | None = None,
        lr: float = 1.0,
        history_size: int = 20,
        tolerance_grad: float = 0.0,
        tolerance_change: float = 0.0,
        eval_every: int = 20,
        grad_mode: str = "fused",
        weight_decay: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            hidden_width,
            steps=steps,
            batch_size=batch_size,
            lr=lr,
            eval_every=eval_every,
            grad_mode=grad_mode,
            weight_decay=weight_decay,
            **kwargs,
        )
        integer("history_size", history_size, 1)
        number("tolerance_grad", tolerance_grad, minimum=0)
        number("tolerance_change", tolerance_change, minimum=0)
        self.history_size = int(history_size)
        self.tolerance_grad = float(tolerance_grad)
        self.tolerance_change = float(tolerance_change)
        self.function_evals_ = 0

    def _start(self, net: HamiltonianNet) -> None:
        self._net = net
        self._params = list(net.parameters())
        self._optimizer = torch.optim.LBFGS(
            self._params,
            lr=self.lr,
            max_iter=self.eval_every,
            history_size=self.history_size,
            tolerance_grad=self.tolerance_grad,
            tolerance_change=self.tolerance_change,
            line_search_fn="strong_wolfe",
        )
        self._round, self._stalled, self.function_evals_ = 0, False, 0
        self._seconds_per_iteration = 0.0
        self._last_loss = float("nan")

    def _objective(self, x: torch.Tensor, xdot: torch.Tensor) -> torch.Tensor:
        loss = self._loss(self._net, x, xdot)
        if self.weight_decay:  # the L2 term Adam's coupled weight decay is the gradient of
            loss = loss + 0.5 * self.weight_decay * sum((p**2).sum() for p in self._params)
        return loss

    def _advance(
        self, net: HamiltonianNet, step: int, batch: Batches
    ) -> tuple[torch.Tensor | None, int]:
        x, xdot = batch(self._round)
        self._round += 1

        def closure() -> torch.Tensor:
            self._optimizer.zero_grad(set_to_none=True)
            loss = self._objective(x, xdot)
            loss.backward()
            self.function_evals_ += 1
            return loss

        group = self._optimizer.param_groups[0]  # read by every call
        group["max_iter"] = self._round_length(step)
        # torch caps a call's evaluations, line searches included (max_ls = max_eval − evals so
        # far): room for a full line search (≤ 25 evaluations) at every iteration
        group["max_eval"] = 25 * group["max_iter"] + 1
        started = self.elapsed()
        self._optimizer.step(closure)
        self._batch = (x, xdot)
        reached = int(self._optimizer.state[self._params[0]].get("n_iter", 0))
        self._stalled = reached == step
        if reached > step:
            self._seconds_per_iteration = (self.elapsed() - started) / (reached - step)
        return None, reached

    def _round_length(self, step: int) -> int:
        """eval_every iterations, fewer at the end of the step budget, and near the time budget
        as many as the last round's pace fits into the seconds left (at least one), so a run
        ends close to ``max_seconds`` rather than up to a whole round later."""
        length = min(self.eval_every, self.steps - step)
        if self.max_seconds is not None and self._seconds_per_iteration > 0:
            left = self.max_seconds - self.elapsed()
            length = min(length, max(1, math.ceil(left / self._seconds_per_iteration)))
        return length

    def _curve_loss(self, loss: torch.Tensor | None) -> float:
        """The batch loss at the weights reached (an evaluation, outside the training clock)."""
        value = float(self._objective(*self._batch).detach())
        self._stalled |= value == self._last_loss
        self._last_loss = value
        return value

    def _due(self, step: int) -> bool:
        return True

    def _stopped(self, step: int) -> str | None:
        return "stalled" if self._stalled else None

    def _curve_extra(self) -> dict[str, Any]:
        return {"function_evals": self.function_evals_}

    def _info(self) -> dict[str, Any]:
        return {
            "optimizer": "lbfgs",
            "line_search": "strong_wolfe",
            "lr": self.lr,
            "history_size": self.history_size,
            "iterations_per_call": self.eval_every,
            "tolerance_grad": self.tolerance_grad,
            "tolerance_change": self.tolerance_change,
            "function_evals": self.function_evals_,
            "weight_decay": self.weight_decay,
        }
