"""Sampled (backprop-free) training: hidden layer drawn from data, last layer by least squares.

Hidden layer (method):
* ``elm``    W_kj ~ N(0, 1), b_j ~ U(a, b) with a, b the smallest and largest domain limits.
* ``uswim``  pairs of training points (x_from, x_to) chosen uniformly among candidates.
* ``swim``   pairs chosen with probability ∝ |H(x_to) − H(x_from)| / d using the TRUE H at the
             training points (an oracle, kept as a reference).
* ``aswim``  U-SWIM fit → Ĥ at the training points → SWIM probabilities from Ĥ over the same
             candidate pairs → new hidden layer → second fit.

A-SWIM's first fit only ranks the candidate pairs, so it may be cheaper than the final one:
``first_pass_solver`` (default ``'normal'``; None: the trainer's solver) and ``first_pass_points``
(default ``'auto'``: min(N, 2M); None: all N; or an int P) choose its solver and rows: the first P
training points, a uniform subset since the points are i.i.d. Ĥ is still evaluated at every
training point, and the random stream is the same either way. The defaults were chosen by
``benchmarks/perf.py`` (evidence in ``benchmarks/README.md``): test errors of the same class as an
exact first pass, at a fraction of its cost.

``rcond='auto'`` (solver ``qr_ridge``): the final solve's λ = rcond·σ_max is chosen by
generalised cross-validation on the reduced system (``lstsq/solvers.py``); ``fit_info_`` and the
record hold the chosen rcond, with ``rcond_mode='auto'``.

``SMLPTrainer`` (``trainer=smlp``) is the paper's sampled ODE-net: the same hidden layer (the
same samplers and random stream; A-SWIM excluded, it needs a learned Ĥ) and one least-squares
solve for a linear head that predicts ẋ directly, [φ(X) 1]·[C; c] = Ẋ (``FeatureLeastSquares``,
the same solvers and rcond), returning a ``VectorFieldNet``: no Hamiltonian.

For a pair, d = ‖x_to − x_from‖ (clipped at 1e-10), s2 = artanh(½) = ½ ln 3, s1 = 2 s2,
w = s1 (x_to − x_from) / d², b = −w·x_from − s2, so tanh(w·x_from + b) = −½ and
tanh(w·x_to + b) = +½. N·max(1, ⌈M/N⌉) candidate pairs are drawn; M distinct ones are chosen.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from hnnbench.checks import ConfigError, choice, integer, number
from hnnbench.data import Dataset
from hnnbench.network import HamiltonianNet, TanhNet, VectorFieldNet
from hnnbench.trainers.base import Trainer
from hnnbench.trainers.lstsq import (
    CHUNK_BYTES,
    FeatureLeastSquares,
    GradientLeastSquares,
    check_solver,
    solve,
)
from hnnbench.trainers.lstsq.solvers import check_auto

METHODS = ("elm", "uswim", "swim", "aswim")
SCALE_OFFSET = 0.5 * math.log(3.0)  # s2 = artanh(1/2)
SCALE_SLOPE = 2 * SCALE_OFFSET  # s1


def candidate_pairs(n_points: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """N·max(1, ⌈M/N⌉) index pairs (from, to) with to ≠ from, shape (K, 2)."""
    count = n_points * max(1, math.ceil(width / n_points))
    start = rng.integers(0, n_points, size=count)
    # an offset in 1..N-1 makes x_to ≠ x_from without rejection
    end = (start + rng.integers(1, n_points, size=count)) % n_points
    return np.column_stack([start, end])


def pair_probabilities(x: np.ndarray, values: np.ndarray | None, pairs: np.ndarray) -> np.ndarray:
    """SWIM probabilities |ΔH| / d over candidate pairs; uniform when values is None or all 0."""
    if values is None:
        return np.full(len(pairs), 1.0 / len(pairs))
    dist = np.maximum(np.linalg.norm(x[pairs[:, 1]] - x[pairs[:, 0]], axis=1), 1e-10)
    weight = np.abs(values[pairs[:, 1]] - values[pairs[:, 0]]) / dist
    total = weight.sum()
    if not np.isfinite(total) or total <= 0:
        return np.full(len(pairs), 1.0 / len(pairs))
    return weight / total


def choose_pairs(
    pairs: np.ndarray, probabilities: np.ndarray, width: int, rng: np.random.Generator
) -> np.ndarray:
    """``width`` distinct candidates, drawn by probability with duplicates redrawn."""
    available = int(np.count_nonzero(probabilities))
    if available < width:
        raise ValueError(
            f"only {available} candidate pairs have non-zero probability but hidden_width={width}; "
            f"use more training points or a smaller width"
        )
    chosen = rng.choice(len(pairs), size=width, replace=False, p=probabilities)
    return pairs[chosen]


def pair_weights(x: np.ndarray, pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hidden weights and biases that map x_from to tanh = −½ and x_to to tanh = +½."""
    x_from, x_to = x[pairs[:, 0]], x[pairs[:, 1]]
    delta = x_to - x_from
    dist_sq = np.maximum(np.sum(delta**2, axis=1), 1e-20)  # d clipped at 1e-10
    weight = SCALE_SLOPE * delta / dist_sq[:, None]
    bias = -np.sum(weight * x_from, axis=1) - SCALE_OFFSET
    return weight, bias


def elm_weights(
    domain: np.ndarray, dim: int, width: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Data-agnostic ELM layer: W ~ N(0, 1), b ~ U(min limit, max limit)."""
    weight = rng.standard_normal((width, dim))
    bias = rng.uniform(domain.min(), domain.max(), size=width)
    return weight, bias


@torch.no_grad()
def predict_in_chunks(net: HamiltonianNet, x: torch.Tensor) -> np.ndarray:
    """Ĥ at many points without an (N, M) hidden activation at once (≤ ``CHUNK_BYTES`` each)."""
    step = max(1, CHUNK_BYTES // (net.hidden_width * x.element_size()))
    return (
        torch.cat([net(x[start : start + step]) for start in range(0, len(x), step)]).cpu().numpy()
    )


class SampledTrainer(Trainer):
    """Sample the hidden layer, solve the last layer; ``fit(dataset)`` returns the network.

    After ``fit``, ``fit_info_`` holds what ran: method, solver, effective rank(s) and, for
    A-SWIM, the first pass's solver and number of points. The training time is the runner's
    wall clock of ``fit`` (``train_time_s_`` stays None).
    """

    kind = "sampled"
    #: the samplers this trainer accepts as ``method``
    methods: tuple[str, ...] = METHODS
    #: the network it returns
    network: type[TanhNet] = HamiltonianNet
    #: the last layer's least-squares problem: ∇Ĥ's coefficients (HNN) or ẋ's (S-MLP)
    problem: type[GradientLeastSquares] | type[FeatureLeastSquares] = GradientLeastSquares

    def __init__(
        self,
        hidden_width: int,
        method: str = "aswim",
        solver: str = "qr_ridge",
        rcond: float | str = 1e-13,
        model_seed: int = 992472,
        device: str = "cpu",
        dtype: str = "float64",
        first_pass_solver: str | None = "normal",
        first_pass_points: int | str | None = "auto",
    ) -> None:
        super().__init__(hidden_width, model_seed, device, dtype)
        choice("method", method, self.methods)
        if rcond != "auto":
            try:
                number("rcond", rcond, above=0, below=1)
            except ConfigError as err:
                raise ConfigError(f"{err} or 'auto'") from None
        if first_pass_points not in (None, "auto"):
            integer("first_pass_points", first_pass_points, 2, null="all points; or 'auto'")
        self.sampler = method  # the hidden-layer sampler
        self.method = self.record_method(method)
        self.solver = check_solver(solver)
        self.rcond = rcond if rcond == "auto" else float(rcond)
        self.first_pass_solver = check_solver(first_pass_solver or solver)
        check_auto(self.solver, rcond)
        if self.sampler == "aswim":
            check_auto(self.first_pass_solver, rcond, key="first_pass_solver")
        self.first_pass_points = first_pass_points

    @staticmethod
    def record_method(sampler: str) -> str:
        """The record's ``method``: the sampler's name."""
        return sampler

    def record_fields(self) -> dict[str, Any]:
        mode = "auto" if self.rcond == "auto" else "fixed"
        return {
            **super().record_fields(),
            "solver": self.solver,
            "rcond": self.rcond,
            "rcond_mode": mode,
        }

    def fitted_fields(self) -> dict[str, Any]:
        fields = {**super().fitted_fields(), "effective_rank": self.fit_info_["effective_rank"]}
        if self.rcond == "auto":  # the record holds the value GCV chose
            fields["rcond"] = self.fit_info_["rcond"]
        return fields

    def fit(self, data: Dataset) -> TanhNet:
        if self.sampler == "swim" and data.H_train is None:
            raise ValueError(
                "method 'swim' is an oracle: it needs the true H at the training points "
                "(dataset.H_train), which this dataset does not have; use 'aswim' or 'uswim'"
            )
        rng = np.random.default_rng(self.model_seed)
        net = self.network(
            data.x_train.shape[1], self.hidden_width, getattr(torch, self.dtype), self.device
        )
        x = net.as_tensor(data.x_train)
        xdot = net.as_tensor(data.xdot_train)
        ranks: list[int] = []
        self.chosen_rcond_: float | None = None
        first_pass: dict[str, Any] = {}
        if self.sampler == "elm":
            weights = elm_weights(data.domain, x.shape[1], self.hidden_width, rng)
        else:
            pairs = candidate_pairs(len(data.x_train), self.hidden_width, rng)
            values = data.H_train if self.sampler == "swim" else None
            probabilities = pair_probabilities(data.x_train, values, pairs)
            weights = pair_weights(
                data.x_train, choose_pairs(pairs, probabilities, self.hidden_width, rng)
            )
            if self.sampler == "aswim":
                points = self.first_pass_points
                rows = slice(2 * self.hidden_width if points == "auto" else points)
                first_pass = {"solver": self.first_pass_solver, "points": len(x[rows])}
                ranks.append(
                    self._solve_last_layer(
                        net, weights, x[rows], xdot[rows], data, self.first_pass_solver
                    )
                )
                estimate = predict_in_chunks(net, x)
                probabilities = pair_probabilities(data.x_train, estimate, pairs)
                weights = pair_weights(
                    data.x_train, choose_pairs(pairs, probabilities, self.hidden_width, rng)
                )
        ranks.append(self._solve_last_layer(net, weights, x, xdot, data, self.solver))
        auto = self.rcond == "auto"
        self.fit_info_ = {
            "method": self.method,
            "sampler": self.sampler,
            "solver": self.solver,
            # 'auto': the value GCV chose for the final solve (``lstsq/solvers.py``)
            "rcond": self.chosen_rcond_ if auto else self.rcond,
            "rcond_mode": "auto" if auto else "fixed",
            "effective_rank": ranks[-1],
            "effective_ranks": ranks,
        }
        if first_pass:
            self.fit_info_["first_pass_solver"] = first_pass["solver"]
            self.fit_info_["first_pass_points"] = first_pass["points"]
        return net

    def _solve_last_layer(
        self,
        net: TanhNet,
        weights: tuple[np.ndarray, np.ndarray],
        x: torch.Tensor,
        xdot: torch.Tensor,
        data: Dataset,
        solver: str,
    ) -> int:
        """Set hidden weights, solve the last layer's least squares; return the effective rank."""
        hidden_weight, hidden_bias = net.as_tensor(weights[0]), net.as_tensor(weights[1])
        problem = self.problem(x, xdot, hidden_weight, hidden_bias)
        solution = solve(solver, problem, self.rcond)
        if solution.rcond is not None:
            self.chosen_rcond_ = solution.rcond
        self._set_last_layer(net, hidden_weight, hidden_bias, solution.coef, data)
        return solution.effective_rank

    def _set_last_layer(
        self,
        net: TanhNet,
        hidden_weight: torch.Tensor,
        hidden_bias: torch.Tensor,
        coef: torch.Tensor,
        data: Dataset,
    ) -> None:
        """The HNN: c from the solve, then c_0 from the anchor (Ĥ(x0) = H0)."""
        net.set_weights(hidden_weight, hidden_bias, coef, 0.0)
        net.shift_to_anchor(data.anchor, data.anchor_H)


class SMLPTrainer(SampledTrainer):
    """S-MLP: a sampled hidden layer and a least-squares head for ẋ (``VectorFieldNet``).

    ``method``: the sampler, ``elm`` (the paper's), ``uswim`` or ``swim`` (the oracle); the
    record's method is ``smlp_<sampler>``, so S-MLP runs are never pooled with the HNN's.
    """

    learns_hamiltonian = False

    methods = ("elm", "uswim", "swim")
    network = VectorFieldNet
    problem = FeatureLeastSquares

    def __init__(self, hidden_width: int, method: str = "elm", **kwargs: Any) -> None:
        if method == "aswim":
            raise ConfigError(
                f"method 'aswim' ranks pairs by a learned Ĥ, which an S-MLP has not; "
                f"allowed for smlp: {sorted(self.methods)}"
            )
        super().__init__(hidden_width, method, **kwargs)

    @staticmethod
    def record_method(sampler: str) -> str:
        return f"smlp_{sampler}"

    def _set_last_layer(
        self,
        net: TanhNet,
        hidden_weight: torch.Tensor,
        hidden_bias: torch.Tensor,
        coef: torch.Tensor,
        data: Dataset,
    ) -> None:
        """[φ(X) 1]·[C; c] = Ẋ solved for all 2n outputs: the weights, then the bias row."""
        net.set_weights(hidden_weight, hidden_bias, coef[:-1].T, coef[-1])
