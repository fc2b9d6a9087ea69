"""Tight-tolerance reference trajectories of the true vector field (scipy DOP853)."""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

from hnnbench.systems import HamiltonianSystem

#: tolerance of the reference integration (both rtol and atol)
REFERENCE_TOL = 1e-11


def true_trajectories(
    system: HamiltonianSystem,
    initial_states: np.ndarray,
    times: np.ndarray,
    tol: float = REFERENCE_TOL,
) -> np.ndarray:
    """Integrate ẋ = J∇H(x) from each initial state and return states at ``times``.

    All initial conditions are integrated as one stacked ODE (shape R·2n), so one call of
    ``solve_ivp`` serves the whole batch; error control covers every component.

    Returns an array of shape (len(times), R, 2n).
    """
    x0 = np.atleast_2d(np.asarray(initial_states, dtype=float))
    times = np.asarray(times, dtype=float)
    n_states, dim = x0.shape

    def rhs(_t: float, flat: np.ndarray) -> np.ndarray:
        return system.vector_field(flat.reshape(n_states, dim)).ravel()

    solution = solve_ivp(
        rhs,
        (float(times[0]), float(times[-1])),
        x0.ravel(),
        method="DOP853",
        t_eval=times,
        rtol=tol,
        atol=tol,
    )
    if not solution.success:
        raise RuntimeError(f"reference integration failed: {solution.message}")
    return solution.y.T.reshape(len(times), n_states, dim)


def stays_inside(
    system: HamiltonianSystem, initial_state: np.ndarray, domain: np.ndarray, horizon: float
) -> bool:
    """Whether the true trajectory from one state stays inside the box over [0, horizon].

    Integration stops at the first exit (a terminal event), so escaping orbits that blow up in
    finite time (Hénon–Heiles above the escape energy) cost little and never raise.
    """

    def margin(_t: float, x: np.ndarray) -> float:
        return float(np.min(np.minimum(x - domain[:, 0], domain[:, 1] - x)))

    margin.terminal = True  # type: ignore[attr-defined]
    margin.direction = -1  # type: ignore[attr-defined]
    solution = solve_ivp(
        lambda _t, x: system.vector_field(x[None, :])[0],
        (0.0, horizon),
        np.asarray(initial_state, dtype=float),
        method="DOP853",
        rtol=1e-9,
        atol=1e-9,
        events=margin,
    )
    return bool(solution.status == 0 and margin(0.0, solution.y[:, -1]) >= 0)
