import numpy as np

from hnnbench.trainers import Trainer


class LinearFieldModel:
    def __init__(self, coef: np.ndarray) -> None:
        self.coef = coef  # (2n + 1, 2n)

    def predict_vector_field(self, x: np.ndarray) -> np.ndarray:
        return np.column_stack([x, np.ones(len(x))]) @ self.coef

    def save(self, path, metadata=None) -> None:
        np.savez(f"{path}.npz", coef=self.coef)


class LinearFieldTrainer(Trainer):
    kind = "sampled"  # no backprop: one least-squares solve
    method = "linear"

    def fit(self, data):
        features = np.column_stack([data.x_train, np.ones(len(data.x_train))])
        coef, *_ = np.linalg.lstsq(features, data.xdot_train, rcond=None)
        self.fit_info_ = {"method": self.method}
        return LinearFieldModel(coef)
