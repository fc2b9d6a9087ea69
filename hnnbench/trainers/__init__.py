"""Trainers: each implements ``base.Trainer`` — ``fit(dataset)`` returns a model.

A trainer never evaluates, times or writes; the runner times, the evaluator measures and the
record writes.
"""

from hnnbench.trainers.adam import AdamTrainer
from hnnbench.trainers.base import Trainer
from hnnbench.trainers.sampled import SampledTrainer

__all__ = ["AdamTrainer", "SampledTrainer", "Trainer"]
