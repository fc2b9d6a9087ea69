"""What every backprop trainer shares: the HNN loss, the initialisation and the training loop.

Loss = mean over the points and the 2n components of (J∇Ĥ(x) − ẋ)², the same for every backprop
trainer; ∇Ĥ by one of three ``grad_mode``s, equal in exact arithmetic:

* ``autograd``: ∇Ĥ by autograd with ``create_graph=True`` (the paper's protocol), the weight
  gradient by a second backward pass through that graph;
* ``analytic``: the network's analytic ∇Ĥ (``HamiltonianNet.grad``), weight gradient by autograd;
* ``fused``: the analytic ∇Ĥ and a hand-derived weight gradient (``FusedHNNLoss``): no autograd
  graph, three (N × M) buffers a step instead of about a dozen, and no (N × M) product for ∂/∂c.

``BackpropTrainer.fit`` keeps the bookkeeping every backprop trainer needs: PyTorch's default
initialisation from the model seed (in the run's dtype, then cast to ``train_dtype``), the
learning curve every ``eval_every`` steps (training seconds with the evaluations left out, step,
training loss of the last update's batch, test rel-L2 error of H after the anchor shift, the same
error on the validation points when the dataset has them; Adam also ``step_loss``, the paper's
log: the loss of batch s before update s + 1) and when the time budget is spent,
the stops (``stopped_by_``, ``plateau.STOPS``: ``steps``, ``max_seconds`` — checked after every
step, so a run ends at its budget —, ``target_error``, ``plateau`` (the validation error stopped
improving: ``plateau.py``, off unless ``plateau_tolerance`` is set), ``stalled`` (L-BFGS can make
no progress), a non-finite loss = ``diverged``, recorded and never raised; ``converged_`` is
True for ``plateau`` and ``stalled``), glibc malloc tuning (``malloc.py``) and the final anchor
shift Ĥ(x0) = H0. A subclass supplies the optimiser (``_start``) and one round of updates
(``_advance``), and may act on a plateau otherwise than by stopping (``_on_plateau``).
"""

from __future__ import annotations

import math
import sys
import time
from abc import abstractmethod
from typing import Any, ClassVar

import numpy as np
import torch
from tqdm import tqdm

from hnnbench.checks import ConfigError, choice, flag, integer, number
from hnnbench.data import Dataset
from hnnbench.hardware import DTYPES, synchronize
from hnnbench.network import HamiltonianNet, TanhNet, apply_J_torch
from hnnbench.trainers.base import Trainer
from hnnbench.trainers.malloc import tuned_malloc
from hnnbench.trainers.plateau import PlateauRule, is_converged

GRAD_MODES = ("autograd", "analytic", "fused")
#: ``init``: PyTorch's default (uniform ±1/√fan_in) or orthogonal weight matrices (the standard
#: HNN tasks' published models; biases keep the default), both drawn from the model seed
INITS = ("default", "orthogonal")


def anchored_rel_error(net: HamiltonianNet, data: Dataset) -> float:
    """Test rel-L2 error of H for the network shifted so that Ĥ(x0) = H0 (weights untouched);
    NaN for data without a known H (the measured pendulum)."""
    if data.H_test is None:
        return math.nan
    with torch.no_grad():
        offset = data.anchor_H - float(net(net.as_tensor(data.anchor).reshape(1, -1))[0])
        predicted = net(net.as_tensor(data.x_test)).cpu().numpy() + offset
    return float(np.linalg.norm(predicted - data.H_test) / np.linalg.norm(data.H_test))


# ---------------------------------------------------------------- the loss


class FusedHNNLoss(torch.autograd.Function):
    """mean((J ∇Ĥ(x) − ẋ)²) with ∇Ĥ = (s ⊙ c) W, s = 1 − tanh²(x Wᵀ + b), and its gradient with
    respect to W, b and c written out (the output bias c_0 does not enter the loss):

        G = Jᵀ · 2(J∇Ĥ − ẋ) / (N·2n)                               (N × 2n)
        ∂/∂(c ⊙ W) = sᵀ G                 → ∂W += c ⊙ sᵀG,  ∂c = Σ_k (sᵀG ⊙ W)_k
        Q = ∂/∂(x Wᵀ + b) = −2 (G (c ⊙ W)ᵀ) ⊙ t ⊙ s              (N × M)
        ∂W += Qᵀ x,  ∂b = Σ_n Q
    """

    @staticmethod
    def forward(ctx, x, xdot, weight, bias, out_weight):  # noqa: ANN001 (torch's signature)
        t = torch.addmm(bias, x, weight.T).tanh_()  # (N, M)
        s = torch.addcmul(torch.ones((), dtype=t.dtype, device=t.device), t, t, value=-1)
        cw = weight * out_weight.reshape(-1, 1)  # (M, 2n): c ⊙ W
        residual = apply_J_torch(s @ cw) - xdot
        ctx.save_for_backward(x, weight, out_weight, t, s, cw, residual)
        return torch.mean(residual**2)

    @staticmethod
    def backward(ctx, grad_output):  # noqa: ANN001
        x, weight, out_weight, t, s, cw, residual = ctx.saved_tensors
        scale = 2 * grad_output / residual.numel()
        dof = residual.shape[1] // 2
        g = torch.cat([-residual[:, dof:], residual[:, :dof]], dim=1) * scale  # Jᵀ R
        d_cw = s.T @ g  # (M, 2n)
        q = (g @ (cw * -2).T).mul_(t).mul_(s)  # (N, M): ∂/∂h
        d_weight = torch.addmm(d_cw * out_weight.reshape(-1, 1), q.T, x)
        d_bias = q.sum(0)
        d_out = (d_cw * weight).sum(1).reshape(out_weight.shape)
        return None, None, d_weight, d_bias, d_out


def hnn_loss(net: HamiltonianNet, x: torch.Tensor, xdot: torch.Tensor, mode: str) -> torch.Tensor:
    """mean((J∇Ĥ(x) − ẋ)²) over the batch and the 2n components, ∇Ĥ by ``mode``."""
    if mode == "fused":
        return FusedHNNLoss.apply(x, xdot, net.hidden.weight, net.hidden.bias, net.output.weight)
    if mode == "analytic":
        predicted = net.vector_field(x)
    else:
        x = x.detach().requires_grad_(True)
        grad = torch.autograd.grad(net(x).sum(), x, create_graph=True)[0]
        predicted = apply_J_torch(grad)
    return torch.mean((predicted - xdot) ** 2)


# ---------------------------------------------------------------- the shared loop


class BackpropTrainer(Trainer):
    """A gradient-based trainer of the HNN; ``fit(dataset)`` returns the network.

    After ``fit`` (besides the ``Trainer`` attributes): ``diverged_``, ``steps_done_``,
    ``stopped_by_`` (one of ``plateau.STOPS``), ``converged_`` (stopped by the plateau rule or a
    stalled optimiser, not by a budget), ``plateau_step_`` (the step where the plateau rule
    stopped the run, None if it did not).
    ``train_time_s_`` is the training clock, which leaves out the learning-curve evaluations.
    ``train_dtype`` (None: the run's dtype) is the dtype of the training arithmetic; the network
    starts from the run dtype's initialisation cast to it and is returned in the run's dtype, so
    the evaluation is the same for every trainer; the record's ``dtype`` says ``train_dtype``.
    """

    kind = "backprop"
    #: the network it trains (``network.py``)
    network: ClassVar[type[TanhNet]] = HamiltonianNet
    #: the test error each learning-curve point holds (and ``target_error`` refers to)
    curve_metric: ClassVar[str] = "test_H_rel_l2"
    #: one update per round (Adam): the curve also gets ``step_loss``, the loss of the batch
    #: of step s at the weights after s updates (computed by the round from step s, before its
    #: update) — what the paper's training log prints at step s
    logs_step_loss: bool = False

    def __init__(
        self,
        hidden_width: int,
        steps: int = 15000,
        batch_size: int | str | None = 2048,
        lr: float = 5e-4,
        weight_decay: float = 1e-13,
        model_seed: int = 992472,
        device: str = "cpu",
        dtype: str = "float64",
        eval_every: int = 500,
        max_seconds: float | None = None,
        target_error: float | None = None,
        grad_mode: str = "autograd",
        train_dtype: str | None = None,
        malloc_tuning: bool = True,
        progress: bool = True,
        plateau_tolerance: float | None = None,
        plateau_window: float = 0.5,
        depth: int = 1,
        init: str = "default",
        output_bias: bool = True,
    ) -> None:
        super().__init__(hidden_width, model_seed, device, dtype)
        for key, value in {"steps": steps, "eval_every": eval_every, "depth": depth}.items():
            integer(key, value, 1)
        number("lr", lr, above=0)
        number("weight_decay", weight_decay, minimum=0)
        number("max_seconds", max_seconds, above=0, null="no time cap")
        number("target_error", target_error, above=0, null="none")
        choice("grad_mode", grad_mode, GRAD_MODES)
        if train_dtype is not None:
            choice("train_dtype", train_dtype, DTYPES)
        flag("malloc_tuning", malloc_tuning)
        flag("progress", progress)
        self._plateau = PlateauRule(plateau_tolerance, plateau_window)
        choice("init", init, INITS)
        flag("output_bias", output_bias)
        if grad_mode == "fused" and depth > 1:
            raise ConfigError(
                f"grad_mode='fused' is the one-hidden-layer loss; with depth={depth} use "
                "grad_mode=autograd or analytic"
            )
        self.steps = int(steps)
        self.batch_size = full_or_int(batch_size)
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)
        self.eval_every = int(eval_every)
        self.max_seconds = max_seconds
        self.target_error = target_error
        self.grad_mode = grad_mode
        self.train_dtype = train_dtype
        self.malloc_tuning = bool(malloc_tuning)
        self.progress = progress
        self.plateau_tolerance = plateau_tolerance
        self.plateau_window = plateau_window
        self.depth = int(depth)
        self.init = init
        self.output_bias = bool(output_bias)
        self.diverged_ = False
        self.steps_done_ = 0
        self.stopped_by_ = ""
        self.converged_ = False
        self.plateau_step_: int | None = None

    # -- what a subclass supplies -----------------------------------------------------------
    @abstractmethod
    def _start(self, net: HamiltonianNet) -> None:
        """Create the optimiser (and whatever state ``_advance`` needs)."""

    @abstractmethod
    def _advance(
        self, net: HamiltonianNet, step: int, batch: Batches
    ) -> tuple[torch.Tensor | None, int]:
        """Train from ``step`` on; return (the round's training loss, the step reached)."""

    def _curve_loss(self, loss: torch.Tensor | None) -> float:
        """The learning curve's training loss (after the clock stopped): the last step's."""
        return float("nan") if loss is None else float(loss.detach())

    def _due(self, step: int) -> bool:
        """A learning-curve point (and the stop checks) after reaching ``step``."""
        return step % self.eval_every == 0 or step >= self.steps

    def _stopped(self, step: int) -> str | None:
        """A stop of the subclass's own at a curve point: 'stalled' (L-BFGS can make no
        progress); None: go on."""
        return None

    def _on_plateau(self, step: int) -> bool:
        """The plateau rule fired at ``step``: True stops the run here (a constant-rate or
        line-search optimiser has converged; adam_tuned lowers its learning rate and returns
        False until its last phase). Sets ``plateau_step_`` when it stops the run."""
        self.plateau_step_ = step
        return True

    def needs_validation(self) -> str | None:
        if self._plateau.enabled:
            return f"the plateau rule of {self.method} (plateau_tolerance={self.plateau_tolerance})"
        return None

    def _info(self) -> dict[str, Any]:
        """Trainer-specific ``fit_info_`` entries."""
        return {}

    # -- shared --------------------------------------------------------------------------------
    @property
    def effective_dtype(self) -> str:
        return self.train_dtype or self.dtype

    def record_fields(self) -> dict[str, Any]:
        return {**super().record_fields(), "dtype": self.effective_dtype, "depth": self.depth}

    def fitted_fields(self) -> dict[str, Any]:
        return {**super().fitted_fields(), "stopped_by": self.stopped_by_,
                "converged": self.converged_}  # fmt: skip

    def warmup_copy(self) -> BackpropTrainer:
        tiny = super().warmup_copy()
        tiny.steps, tiny.eval_every, tiny.max_seconds = 2, 1, None
        return tiny

    def _init_network(self, input_dim: int) -> TanhNet:
        """PyTorch's default initialisation from the model seed (then orthogonal weight matrices
        when ``init='orthogonal'``), no global side effects. Without ``output_bias`` the head's
        bias is 0 and frozen (no gradient, no weight decay): an HNN's c_0 never enters the loss
        and only carries the anchor constant set after training; an MLP then has no bias."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.model_seed)
            net = self.network(
                input_dim, self.hidden_width, getattr(torch, self.dtype), depth=self.depth
            )
            if self.init == "orthogonal":
                for layer in [*net.layers, net.output]:
                    torch.nn.init.orthogonal_(layer.weight)
        if not self.output_bias:
            with torch.no_grad():
                net.output.bias.zero_()
            net.output.bias.requires_grad_(False)
        return net.to(self.device, getattr(torch, self.effective_dtype))

    def _loss(self, net: HamiltonianNet, x: torch.Tensor, xdot: torch.Tensor) -> torch.Tensor:
        return hnn_loss(net, x, xdot, self.grad_mode)

    def _curve_error(self, net: TanhNet, data: Dataset) -> float:
        """The test error as the final model will be evaluated: in the run's dtype."""
        if net.dtype != getattr(torch, self.dtype):
            net = _copy_in(net, self.dtype)
        return self._test_error(net, data)

    def _test_error(self, net: HamiltonianNet, data: Dataset) -> float:
        """The learning curve's ``curve_metric``: test rel-L2 of the anchored Ĥ."""
        return anchored_rel_error(net, data)

    @property
    def validation_metric(self) -> str:
        """The learning curve's validation error: the curve metric on the validation points."""
        return self.curve_metric.replace("test_", "validation_", 1)

    def _curve_point(
        self, seconds: float, step: int, loss: float, net: TanhNet, data: Dataset
    ) -> dict:
        """A learning-curve point: the test error, and the validation error when there are
        validation points (``_validation``, set by ``_fit``)."""
        point = {
            "seconds": seconds,
            "step": step,
            "train_loss": loss,
            self.curve_metric: self._curve_error(net, data),
        }
        if self._validation is not None:
            point[self.validation_metric] = self._curve_error(net, self._validation)
        return point

    def _plateaued(self) -> bool:
        """The plateau rule on the validation errors of the curve since the current phase began
        (``_phase_start``: step 0, or where adam_tuned last lowered its learning rate), with the
        steps counted from there."""
        if self._validation is None or not self._plateau.enabled:
            return False
        phase = [p for p in self.learning_curve_ if p["step"] >= self._phase_start]
        steps = [p["step"] - self._phase_start for p in phase]
        return self._plateau.reached(steps, [p[self.validation_metric] for p in phase])

    def _stop_reason(self, step: int, error: float) -> str | None:
        """Why the run ends at this curve point (None: it goes on). A plateau or stalled
        optimiser is named before a spent budget: if both hold, the run has converged."""
        if self.target_error is not None and error <= self.target_error:
            return "target_error"
        if self._plateaued() and self._on_plateau(step):
            return "plateau"
        reason = self._stopped(step)
        if reason is not None:
            return reason
        if self.max_seconds is not None and self._train_seconds >= self.max_seconds:
            return "max_seconds"
        return None

    def _finish(self, net: HamiltonianNet, data: Dataset) -> None:
        """After a run that did not diverge: fix Ĥ's constant, Ĥ(x0) = H0."""
        net.shift_to_anchor(data.anchor, data.anchor_H)

    def elapsed(self) -> float:
        """Training seconds so far (evaluations left out); valid inside ``_advance``."""
        return self._train_seconds + time.perf_counter() - self._started

    def fit(self, data: Dataset) -> TanhNet:
        with tuned_malloc(self.malloc_tuning) as malloc:
            net = self._fit(data)
        self.fit_info_["malloc"] = malloc
        if net.dtype != getattr(torch, self.dtype):
            net = _copy_in(net, self.dtype)
        if not self.diverged_:
            self._finish(net, data)
        return net

    def _fit(self, data: Dataset) -> TanhNet:
        self._validation = data.validation()
        if self._validation is None and self._plateau.enabled:
            raise ConfigError(
                f"{self.method}: plateau_tolerance={self.plateau_tolerance} needs a dataset "
                "with validation points (validation_points >= 1), or plateau_tolerance=null"
            )
        net = self._init_network(data.x_train.shape[1])
        batches = Batches(net.as_tensor(data.x_train), net.as_tensor(data.xdot_train), self)
        self._start(net)
        self.learning_curve_, self.diverged_, self.stopped_by_ = [], False, "steps"
        self.plateau_step_, self._phase_start = None, 0
        self._train_seconds, loss_value, step = 0.0, float("nan"), 0
        bar = tqdm(
            total=self.steps,
            disable=not (self.progress and sys.stderr.isatty()),
            desc=self.method,
            unit="step",
            leave=False,
        )
        initial = self._curve_point(0.0, 0, float("nan"), net, data)
        self.learning_curve_.append({**initial, **self._step_loss_field(), **task_mse(net, data)})
        synchronize(net.device)
        self._started = time.perf_counter()
        while step < self.steps:
            loss, reached = self._advance(net, step, batches)
            if self.logs_step_loss and self.learning_curve_[-1]["step"] == step:
                # the paper logs, at step s, the loss of batch s before its update: this round's
                self.learning_curve_[-1]["step_loss"] = self._curve_loss(loss)
            bar.update(reached - step)
            step = reached
            # the budget is checked after every round, so a run stops at it, not up to
            # eval_every steps later (a curve point is written there)
            spent = self.max_seconds is not None and self.elapsed() >= self.max_seconds
            if not (spent or self._due(step)):
                continue
            synchronize(net.device)
            self._train_seconds += time.perf_counter() - self._started
            loss_value = self._curve_loss(loss)
            if not math.isfinite(loss_value):
                self.diverged_, self.stopped_by_ = True, "diverged"
                break
            point = self._curve_point(self._train_seconds, step, loss_value, net, data)
            extra = {**self._step_loss_field(), **self._curve_extra(), **task_mse(net, data)}
            self.learning_curve_.append({**point, **extra})
            error = point[self.curve_metric]
            bar.set_postfix(loss=f"{loss_value:.2e}", test_err=f"{error:.2e}")
            reason = self._stop_reason(step, error)
            if reason is not None:
                self.stopped_by_ = reason
                break
            synchronize(net.device)
            self._started = time.perf_counter()
        bar.close()
        self.steps_done_ = step
        self.converged_ = bool(is_converged(self.stopped_by_))
        self.train_time_s_ = self._train_seconds
        self.status_ = "diverged" if self.diverged_ else "ok"
        self.status_message_ = f"non-finite loss at step {step}" if self.diverged_ else None
        self.fit_info_ = {
            "method": self.method,
            "solver": None,
            "steps_done": self.steps_done_,
            "stopped_by": self.stopped_by_,
            "converged": self.converged_,
            "diverged": self.diverged_,
            "plateau": self._plateau_info(data),
            "final_train_loss": loss_value,
            "grad_mode": self.grad_mode,
            "batch_size": batches.size,
            "train_dtype": self.effective_dtype,
            "model_dtype": self.dtype,
            "depth": self.depth,
            "init": self.init,
            "output_bias": self.output_bias,
            **self._info(),
        }
        return net

    def _curve_extra(self) -> dict[str, Any]:
        """Extra learning-curve fields (e.g. L-BFGS's function evaluations)."""
        return {}

    def _plateau_info(self, data: Dataset) -> dict[str, Any]:
        """``fit_info['plateau']``: the rule, what it watched and where it fired."""
        return {
            "rule": self._plateau.describe(),
            "tolerance": self.plateau_tolerance,
            "window": self.plateau_window,
            "validation_metric": None if self._validation is None else self.validation_metric,
            "validation_points": data.validation_points,
            "step": self.plateau_step_,
        }

    def _step_loss_field(self) -> dict[str, float]:
        """``step_loss`` of a new curve point: NaN until the next round computes it (it stays
        NaN at the last point, after which no round runs)."""
        return {"step_loss": float("nan")} if self.logs_step_loss else {}


def task_mse(net: TanhNet, data: Dataset) -> dict[str, float]:
    """A standard HNN task's learning-curve point also holds the published ``test_mse`` (what
    the task's matched-accuracy comparison follows); nothing for box data."""
    if data.task is None:
        return {}
    predicted = net.predict_vector_field(data.x_test)
    return {"test_mse": float(np.mean((predicted - data.xdot_test) ** 2))}


def full_or_int(batch_size: int | str | None) -> int | None:
    """A batch size: a positive int, or None for the full batch (null, 0 or 'full')."""
    if batch_size is None or batch_size == "full" or batch_size == 0:
        return None
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(
            f"batch_size={batch_size!r} must be an integer >= 1, or 0 / null / 'full'"
        )
    return batch_size


class Batches:
    """Consecutive slices of the (already random) training array, cycling through it."""

    def __init__(self, x: torch.Tensor, xdot: torch.Tensor, trainer: BackpropTrainer) -> None:
        self.x, self.xdot = x, xdot
        self.points = x.shape[0]
        self.size = self.points if trainer.batch_size is None else min(trainer.batch_size, len(x))
        self.per_epoch = math.ceil(self.points / self.size)

    def __call__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``index``-th batch (0-based); the full arrays when the batch is full."""
        if self.size == self.points:
            return self.x, self.xdot
        start = (index % self.per_epoch) * self.size
        rows = slice(start, start + self.size)
        return self.x[rows], self.xdot[rows]


def _copy_in(net: TanhNet, dtype: str) -> TanhNet:
    """The network with its weights cast to ``dtype`` (a copy; float32 → float64 is exact)."""
    copy = type(net)(
        net.input_dim, net.hidden_width, getattr(torch, dtype), net.device, depth=net.depth
    )
    copy.load_state_dict({k: v.to(getattr(torch, dtype)) for k, v in net.state_dict().items()})
    return copy
