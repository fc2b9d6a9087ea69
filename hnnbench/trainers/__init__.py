"""Trainers: each takes a Dataset in ``fit`` and returns a ``HamiltonianNet``.

A trainer never evaluates, times or writes; the runner times, the evaluator measures and the
record writes.
"""

from hnnbench.trainers.adam import AdamTrainer
from hnnbench.trainers.sampled import SampledTrainer

__all__ = ["AdamTrainer", "SampledTrainer"]
