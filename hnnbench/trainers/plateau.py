"""The plateau rule that ends a backprop run when its validation error has stopped improving.

Rule (``PlateauRule``): at a learning-curve point at step s, let E(t) be the best validation
error among the curve points at steps ≤ t. The run has *plateaued* when

    (E((1 − window)·s) − E(s)) / E((1 − window)·s) < tolerance,

i.e. the best validation error improved by less than ``tolerance`` (relative) over the last
``window`` fraction of the steps run so far, and at least ``MIN_POINTS`` curve points lie in that
window (so one early or noisy point cannot end a run). With the default window ½ that reads:
*the last doubling of the run improved the best validation error by less than 1 %*, which is
the question a skeptic asks of a budget (would a longer run change the answer?). Steps, not
seconds: the decision is the same on a busy machine as on an idle one. The best-so-far error
makes the rule immune to mini-batch noise (a worse point is not a regression); a stopped run
spent at most ``window`` of its steps after its last relative improvement of ``tolerance``.

Why ½ and not a shorter window: replayed on full 3000-iteration L-BFGS curves (claims-lite
shape), a window of ¼ stopped the double pendulum at iteration 240 (test error 0.047) on a
transient bump of its H error, and the curve went on to 0.0035 by iteration 3000; a window of ½
never fired there, and stopped the spring, whose training loss really is flat from iteration
≈ 600, at iteration 1080 (0.00073, the same as at 3000).

The validation error is the trainer's curve metric (test rel-L2 of the anchored Ĥ; of ẋ for the
MLP) on the dataset's validation points, a draw of their own that neither trainer trains on and
that is not the test set, so the test error never decides when a run ends.

What a plateau means depends on the optimiser (``BackpropTrainer._on_plateau``): the paper's
Adam and L-BFGS stop there; ``adam_tuned`` first anneals (a plateau under a high learning rate
is the noise floor of that rate, not convergence).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from hnnbench.checks import number

#: curve points the window must hold before the rule may fire
MIN_POINTS = 5
#: why a backprop run ended (``stopped_by``); the first two mean converged, the rest do not
CONVERGED_STOPS = ("plateau", "stalled")
BUDGET_STOPS = ("steps", "max_seconds")
STOPS = (*CONVERGED_STOPS, *BUDGET_STOPS, "target_error", "diverged")


@dataclass(frozen=True)
class PlateauRule:
    """``tolerance`` (relative improvement, e.g. 0.01 = 1 %; None: the rule is off) over the
    last ``window`` fraction of the steps run so far."""

    tolerance: float | None = None
    window: float = 0.5

    def __post_init__(self) -> None:
        number("plateau_tolerance", self.tolerance, above=0, below=1, null="no plateau rule")
        number("plateau_window", self.window, above=0, below=1)

    @property
    def enabled(self) -> bool:
        return self.tolerance is not None

    def reached(self, steps: Sequence[int], errors: Sequence[float]) -> bool:
        """Whether the curve (steps ascending, validation errors) has plateaued at its last
        point; never when the rule is off."""
        if self.tolerance is None or not steps:
            return False
        start = (1 - self.window) * steps[-1]
        finite = [e if math.isfinite(e) else math.inf for e in errors]
        before = [e for s, e in zip(steps, finite, strict=True) if s <= start]
        inside = sum(1 for s in steps if s > start)
        if not before or inside < MIN_POINTS:
            return False
        best_before, best_now = min(before), min(finite)
        if best_before == 0:  # nothing left to improve
            return True
        # inf before the window (no finite error yet): inf/inf is NaN, which is not a plateau
        return (best_before - best_now) / best_before < self.tolerance

    def describe(self) -> str:
        if self.tolerance is None:
            return "off"
        return (
            f"best validation error improved by < {self.tolerance:.3g} (relative) over the "
            f"last {self.window:.3g} of the steps run (≥ {MIN_POINTS} curve points)"
        )


def is_converged(stopped_by: str | None) -> bool | None:
    """The record's ``converged``: True for a plateau or stalled optimiser, False for a budget,
    target or divergence stop, None when no iterative run stopped (sampled trainers)."""
    return None if stopped_by is None else stopped_by in CONVERGED_STOPS
