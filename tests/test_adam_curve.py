"""The Adam check: the paper's log quantity (step_loss), the comparison with the authors' log,
and the projection of the full protocol's time."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from hnnbench import systems
from hnnbench.data import make_dataset
from hnnbench.network import HamiltonianNet
from hnnbench.report import adam_curve
from hnnbench.report.analysis import Context
from hnnbench.report.build import build_report
from hnnbench.report.document import Figure, Table
from hnnbench.report.frame import to_frame
from hnnbench.trainers import AdamTrainer
from hnnbench.trainers.backprop import hnn_loss
from synthetic import make_record


@pytest.fixture(scope="module")
def spring_data():
    return make_dataset(systems.get("spring"), 600, 100, data_seed=3943)


def test_step_loss_is_the_loss_of_the_steps_batch_before_its_update(spring_data) -> None:
    trainer = AdamTrainer(30, steps=5, batch_size=256, eval_every=1, progress=False)
    initial = trainer._init_network(2)
    trainer.fit(spring_data)
    curve = trainer.learning_curve_
    # round s computes batch s's loss before update s + 1: the next point's train_loss
    for point, following in zip(curve, curve[1:], strict=False):
        assert point["step_loss"] == following["train_loss"]
    assert math.isnan(curve[-1]["step_loss"])  # no round after the last step
    x, xdot = initial.as_tensor(spring_data.x_train), initial.as_tensor(spring_data.xdot_train)
    first = hnn_loss(initial, x[:256], xdot[:256], "autograd").detach()
    assert curve[0]["step_loss"] == float(first)


def test_step_loss_only_at_curve_points(spring_data) -> None:
    trainer = AdamTrainer(30, steps=7, batch_size=256, eval_every=3, progress=False)
    trainer.fit(spring_data)
    steps = [(p["step"], math.isfinite(p["step_loss"])) for p in trainer.learning_curve_]
    assert steps == [(0, True), (3, True), (6, True), (7, False)]


def authors_training_array(name: str, points: int, data_seed: int) -> np.ndarray:
    """The authors' layout of the training array: per degree of freedom d, N uniforms for q_d
    then N for p_d from one generator, stacked as columns (q_1..q_n, p_1..p_n)."""
    system = systems.get(name)
    rng, dof = np.random.default_rng(data_seed), system.domain.shape[0] // 2
    columns: dict[int, np.ndarray] = {}
    for d in range(dof):
        for column in (d, dof + d):
            low, high = system.domain[column]
            columns[column] = rng.uniform(low, high, points)
    return np.column_stack([columns[c] for c in range(2 * dof)])


def test_step0_loss_equals_the_published_log_with_the_authors_data_layout() -> None:
    """Same init (model seed 992472), loss and system as the authors': to the last digit."""
    published = adam_curve.load_published_curves()
    logged = published[(published["system"] == "henon_heiles") & (published["step"] == 0)]
    x = authors_training_array("henon_heiles", 20000, 3943)[:2048]
    torch.manual_seed(992472)
    net = HamiltonianNet(4, 5000, torch.float64)
    xdot = systems.get("henon_heiles").vector_field(x)
    loss = float(hnn_loss(net, net.as_tensor(x), net.as_tensor(xdot), "autograd").detach())
    assert loss == pytest.approx(float(logged["train_loss"].iloc[0]), rel=1e-14)


def preset_record(system: str, losses: dict[int, float], seconds: float, **extra) -> dict:
    steps = sorted(losses) + [max(losses) + 1]
    curve = [
        {"seconds": seconds * s / steps[-1], "step": s, "train_loss": 0.0,
         "test_H_rel_l2": 0.5, "step_loss": losses.get(s, math.nan)}
        for s in steps
    ]  # fmt: skip
    trainer = {"batch_size": 2048, "lr": 1e-4, "weight_decay": 1e-13, "grad_mode": "autograd"}
    seeds = {"data_seed": 3943, "model_seed": 992472}
    record = make_record(
        "adam", 0, 5000, system=system, points=20000, learning_curve=curve, threads=1, **seeds
    )
    record["config"]["trainer"] = trainer
    return {**record, **extra}


PUBLISHED = pd.DataFrame(
    {
        "system": ["henon_heiles"] * 4 + ["double_pendulum"] * 3,
        "step": [0, 1000, 2000, 3000, 0, 1000, 2000],
        "train_loss": [100.0, 20.0, 10.0, 5.0, 1.0, 0.1, 0.05],
    }
)


def test_ratios_missing_steps_and_ranges() -> None:
    ours = {
        "henon_heiles": {0: 110.0, 1000: 30.0, 2000: 9.0},
        "double_pendulum": {0: 0.5, 2000: 0.1},
    }
    table = adam_curve.curve_table(ours, PUBLISHED)
    hh = table[table["system"] == "henon_heiles"]
    assert list(hh["step"]) == [0, 1000, 2000]  # published steps beyond our last are left out
    assert list(hh["ratio"]) == pytest.approx([1.1, 1.5, 0.9])
    assert adam_curve.missing_steps(table) == {"double_pendulum": [1000]}
    ranges = adam_curve.ratio_ranges(table)
    assert ranges["henon_heiles"] == pytest.approx((0.9, 1.5))
    assert ranges["double_pendulum"] == pytest.approx((0.5, 2.0))
    line = adam_curve.summary_line(table)
    assert "henon_heiles 0.9–1.5×" in line and "double_pendulum 0.5–2×" in line
    verdict = adam_curve.verdict(table)
    assert "at every logged step: henon_heiles, double_pendulum" in verdict
    assert "no loss of ours at double_pendulum step(s) [1000]" in verdict


def test_verdict_names_a_system_beyond_the_factor() -> None:
    table = adam_curve.curve_table({"henon_heiles": {0: 100.0, 1000: 50.0}}, PUBLISHED)
    assert adam_curve.ratio_ranges(table) == {"henon_heiles": (1.0, 2.5)}
    assert "not within 2×: henon_heiles" in adam_curve.verdict(table)


def test_projection_arithmetic() -> None:
    record = preset_record("henon_heiles", {0: 1.0, 1000: 0.5}, seconds=230.23)
    item = adam_curve.projection(record)
    assert item["steps_measured"] == 1001
    assert item["ms_per_step"] == pytest.approx(230.0)
    assert item["projected_s"] == pytest.approx(0.23 * 180_000)
    assert item["published_s"] == 13140.6
    line = adam_curve.projection_line(item)
    assert "≈ 11.5 h here (projection from 1001 steps at 230 ms/step, 1 thread(s)" in line
    assert "published: 13 141 s on CPU, 64 threads (cluster node))" in line


def test_only_the_papers_preset_is_checked(tmp_path: Path, monkeypatch) -> None:
    good = preset_record("henon_heiles", {0: 100.0, 1000: 20.0}, 200.0)
    other_lr = preset_record("double_pendulum", {0: 1.0}, 200.0)
    other_lr["config"]["trainer"]["lr"] = 5e-4
    small = preset_record("double_pendulum", {0: 1.0}, 200.0, hidden_width=1000)
    assert adam_curve.runs_paper_preset(good)
    assert not adam_curve.runs_paper_preset(other_lr) and not adam_curve.runs_paper_preset(small)
    assert set(adam_curve.checked_records([good, other_lr, small])) == {"henon_heiles"}
    monkeypatch.setattr(adam_curve, "load_published_curves", lambda: PUBLISHED)

    def sections(records: list[dict]) -> list:
        context = Context(to_frame(records), records, tmp_path)
        return adam_curve.ADAM_CHECK.sections(context)

    (section,) = sections([good, other_lr, small])
    tables = [b for b in section.blocks if isinstance(b, Table)]
    assert list(tables[0].data["ratio"]) == pytest.approx([1.0, 1.0])
    assert any(isinstance(b, Figure) and b.png.exists() for b in section.blocks)
    assert sections([other_lr]) == []
    line = adam_curve.fidelity_line([good, other_lr], PUBLISHED)
    assert line == "Adam training loss, ours / published, steps 0–1000: henon_heiles 1–1×"
    assert adam_curve.fidelity_line([other_lr], PUBLISHED) is None


def test_the_paper_report_has_the_adam_check(tmp_path: Path) -> None:
    record = preset_record("henon_heiles", {0: 104.0, 1000: 30.0}, 230.0)
    record["name"] = record["config"]["name"] = "paper_headline_adam_lite"
    build_report([record], tmp_path)
    text = (tmp_path / "paper.md").read_text()
    cells = [[c.strip() for c in line.split("|")[1:-1]] for line in text.splitlines()]
    assert "Adam check" in text and ["henon_heiles", "1000", "23.3", "30", "1.29×"] in cells
    assert "would take ≈ 11.5 h here (projection from 1001 steps" in text
    assert (tmp_path / "tables" / "paper_adam_curve.csv").exists()
    assert (tmp_path / "figures" / "paper_adam_curve.png").exists()
