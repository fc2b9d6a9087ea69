"""Trainers: each implements ``base.Trainer`` — ``fit(dataset)`` returns a model.

A trainer never evaluates, times or writes; the runner times, the evaluator measures and the
record writes. Sampled: ``SampledTrainer`` (elm, uswim, aswim, swim), ``SMLPTrainer`` (smlp,
the sampled ODE-net without a Hamiltonian). Backprop (``backprop.BackpropTrainer``: one loss,
initialisation and training loop): ``AdamTrainer`` (adam, the paper's), ``AdamTunedTrainer``
(adam_tuned), ``LBFGSTrainer`` (lbfgs), ``AdamMLPTrainer`` (adam_mlp, the MLP twin).
"""

from hnnbench.trainers.adam import AdamMLPTrainer, AdamTrainer, AdamTunedTrainer
from hnnbench.trainers.backprop import BackpropTrainer
from hnnbench.trainers.base import Trainer
from hnnbench.trainers.lbfgs import LBFGSTrainer
from hnnbench.trainers.sampled import SampledTrainer, SMLPTrainer

__all__ = [
    "AdamMLPTrainer",
    "AdamTrainer",
    "AdamTunedTrainer",
    "BackpropTrainer",
    "LBFGSTrainer",
    "SMLPTrainer",
    "SampledTrainer",
    "Trainer",
]
