"""Trainers: each implements ``base.Trainer`` — ``fit(dataset)`` returns a model.

A trainer never evaluates, times or writes; the runner times, the evaluator measures and the
record writes. Sampled: ``SampledTrainer`` (elm, uswim, aswim, swim). Backprop
(``backprop.BackpropTrainer``: one loss, initialisation and training loop): ``AdamTrainer``
(adam, the paper's), ``AdamTunedTrainer`` (adam_tuned), ``LBFGSTrainer`` (lbfgs).
"""

from hnnbench.trainers.adam import AdamTrainer, AdamTunedTrainer
from hnnbench.trainers.backprop import BackpropTrainer
from hnnbench.trainers.base import Trainer
from hnnbench.trainers.lbfgs import LBFGSTrainer
from hnnbench.trainers.sampled import SampledTrainer

__all__ = [
    "AdamTrainer",
    "AdamTunedTrainer",
    "BackpropTrainer",
    "LBFGSTrainer",
    "SampledTrainer",
    "Trainer",
]
