"""A trainer that always fails, for the runner's failure tests (``trainer._target_=...``)."""


class ExplodingTrainer:
    def __init__(self, hidden_width: int, model_seed: int, device: str, dtype: str, **_: object):
        self.hidden_width = hidden_width
        self.fit_info_: dict = {}

    def fit(self, data):
        raise RuntimeError("injected failure")
