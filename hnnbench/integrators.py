"""Fixed-step integrators used for BOTH the learned and the true vector field.

``rk4``: classical Runge–Kutta, order 4 (not symplectic, but accurate for short horizons).
``implicit_midpoint``: x_{k+1} = x_k + h f((x_k + x_{k+1})/2), symplectic and order 2, valid for
non-separable H; the implicit equation is solved by fixed-point iteration to ``tol``.
``symplectic_euler``: the paper's explicit first-order method (its energy study),
q⁺ = q + h f_q(q, p), p⁺ = p + h f_p(q⁺, p), with f = (∂H/∂p, −∂H/∂q) for an HNN or the learned
field of an MLP; for a separable H (f_q depends on p only) it is exactly the symplectic Euler
variant q⁺ = q + h ∂H/∂p(q⁺, p), p⁺ = p − h ∂H/∂q(q⁺, p): bounded energy error over long times,
where explicit Euler's grows. For a non-separable field it stays explicit (order 1), not
exactly symplectic.
All three are vectorised over a batch of states (R, 2n) and take any callable f: (R, 2n) → (R, 2n).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from hnnbench.checks import choice

VectorField = Callable[[np.ndarray], np.ndarray]


def rk4_step(f: VectorField, x: np.ndarray, h: float) -> np.ndarray:
    k1 = f(x)
    k2 = f(x + 0.5 * h * k1)
    k3 = f(x + 0.5 * h * k2)
    k4 = f(x + h * k3)
    return x + (h / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4)


def implicit_midpoint_step(
    f: VectorField, x: np.ndarray, h: float, tol: float = 1e-12, max_iter: int = 50
) -> np.ndarray:
    nxt = x + h * f(x)  # explicit Euler guess
    for _ in range(max_iter):
        new = x + h * f(0.5 * (x + nxt))
        if np.max(np.abs(new - nxt)) <= tol * (1 + np.max(np.abs(new))):
            return new
        nxt = new
    return nxt


def symplectic_euler_step(f: VectorField, x: np.ndarray, h: float) -> np.ndarray:
    dof = x.shape[-1] // 2
    q = x[..., :dof] + h * f(x)[..., :dof]
    moved = np.concatenate([q, x[..., dof:]], axis=-1)  # (q⁺, p)
    moved[..., dof:] += h * f(moved)[..., dof:]
    return moved


STEPPERS = {
    "rk4": rk4_step,
    "implicit_midpoint": implicit_midpoint_step,
    "symplectic_euler": symplectic_euler_step,
}
ORDERS = {"rk4": 4, "implicit_midpoint": 2, "symplectic_euler": 1}


def check_integrator(name: str) -> str:
    return choice("integrator", name, STEPPERS)


def integrate(
    f: VectorField, x0: np.ndarray, horizon: float, dt: float, method: str = "rk4"
) -> tuple[np.ndarray, np.ndarray]:
    """States at times 0, dt, …, horizon (the step count is rounded up so dt·steps = horizon).

    Returns (times (K+1,), states (K+1, R, 2n)). Non-finite states stop nothing: they propagate,
    and the metrics treat them as failed predictions.
    """
    if horizon <= 0:
        raise ValueError(f"horizon={horizon} must be > 0")
    if dt <= 0:
        raise ValueError(f"dt={dt} must be > 0")
    step = STEPPERS[check_integrator(method)]
    n_steps = max(1, int(np.ceil(horizon / dt - 1e-9)))
    h = horizon / n_steps
    states = np.empty((n_steps + 1, *np.shape(x0)))
    states[0] = x0
    with np.errstate(all="ignore"):
        for k in range(n_steps):
            states[k + 1] = step(f, states[k], h)
    return np.linspace(0.0, horizon, n_steps + 1), states
