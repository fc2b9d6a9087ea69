"""A trainer that always fails, for the runner's failure tests (``trainer._target_=...``)."""

from hnnbench.trainers import Trainer


class ExplodingTrainer(Trainer):
    kind = "sampled"
    method = "exploding"

    def __init__(self, hidden_width: int, model_seed: int, device: str, dtype: str, **_: object):
        super().__init__(hidden_width, model_seed, device, dtype)

    def fit(self, data):
        raise RuntimeError("injected failure")
