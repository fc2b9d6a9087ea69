"""The standard HNN tasks: data protocols, the measured pendulum's file and split, the published
metrics, the checks before work, the grid sweeper, the experiments and the report section."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser

from conftest import CONF, ROOT, run_hnnbench
from hnnbench import real_pendulum, systems, tasks
from hnnbench.checks import ConfigError
from hnnbench.data import DataSource, make_dataset
from hnnbench.jobs import sweep_jobs
from hnnbench.report import standard_tasks
from hnnbench.report.analysis import Context
from hnnbench.report.build import build_report
from hnnbench.report.frame import to_frame
from hnnbench.runner import check
from hnnbench.task_evaluation import evaluate_task, group_se
from hydra_plugins.hnnbench_sweeper import grid_jobs
from synthetic import make_record
from test_config import composed

#: the measured file beside the checkout (CI and this machine have ../shared)
SHARED_FILE = ROOT.parent / "shared" / "data" / real_pendulum.FILE_NAME
needs_shared = pytest.mark.skipif(
    not SHARED_FILE.is_file(),
    reason=f"the measured real-pendulum file is not at {SHARED_FILE} (../shared beside the "
    "checkout) and tests never download it",
)
PRESETS = {
    "spring": systems.get("spring", m=0.5, k=2.0),
    "pendulum": systems.get("pendulum", m=0.5, l=1.0, g=6.0),
    "real": systems.get("pendulum", m=0.5, l=1.0, g=4.8),
}


def published(system, seed=3943):
    return make_dataset(system, 2, 1, seed, source=DataSource("published"))


# ---------------------------------------------------------------- data protocols


@pytest.mark.parametrize(
    ("task", "train", "test"), [("spring", 750, 750), ("pendulum", 1125, 1125)]
)
def test_spring_and_pendulum_counts_split_and_noise_floor(task, train, test):
    data = published(PRESETS[task])
    assert data.x_train.shape == (train, 2) and data.x_test.shape == (test, 2)
    assert tasks.point_counts(task) == (train, test)
    assert (data.task.train_trajectories, data.task.test_trajectories) == (25, 25)
    # noise N(0, 0.1²) on the inputs after exact targets: the exact field at the inputs misses
    # the targets by about (0.1·|∂f/∂x|)², ≈ 0.04 on both tasks (hnn-tasks.md: 0.038 / 0.036)
    floor = np.mean((PRESETS[task].vector_field(data.x_test) - data.xdot_test) ** 2)
    assert 0.03 < floor < 0.045


def test_without_noise_the_targets_are_the_exact_field_and_the_first_half_trains(monkeypatch):
    quiet = dataclasses.replace(tasks.PROTOCOLS["spring"], noise_std=0.0)
    monkeypatch.setitem(tasks.PROTOCOLS, "spring", quiet)
    tasks._task_arrays.cache_clear()
    try:
        arrays = tasks.task_arrays(PRESETS["spring"], "spring", 11)
    finally:
        tasks._task_arrays.cache_clear()
    np.testing.assert_allclose(
        arrays.xdot_train, PRESETS["spring"].vector_field(arrays.x_train), atol=1e-10
    )
    start = tasks.initial_states("spring", 1, np.random.default_rng(11))[0]
    np.testing.assert_allclose(arrays.x_train[0], start)  # trajectory 0 trains (first half)
    radius = np.hypot(*arrays.x_train[:30].T)
    np.testing.assert_allclose(radius, radius[0], rtol=1e-9)  # one orbit of q² + p²


def test_two_body_test_set_is_the_first_200_orbits_on_the_centre_of_mass_subspace():
    system = systems.get("two_body")
    data = published(system, seed=5)
    assert data.x_train.shape == (40000, 8) and data.x_test.shape == (10000, 8)
    first = tasks.initial_states("two_body", 1, np.random.default_rng(5))[0]
    np.testing.assert_allclose(data.x_test[0], first)  # the first orbit's start is a test row
    for x in (data.x_train, data.x_test):  # body 2 = −body 1 throughout
        np.testing.assert_allclose(x[:, 1::2], -x[:, 0::2], atol=1e-9)
    np.testing.assert_array_equal(data.xdot_test, system.vector_field(data.x_test))
    assert 1.0 < data.task.min_separation < 1.5  # hnn-tasks.md: ≥ 1.04 in the data
    again = published(system, seed=5)
    np.testing.assert_array_equal(again.x_train, data.x_train)  # seeded (and cached)
    assert not np.array_equal(published(system, seed=6).x_train[:5], data.x_train[:5])


def test_energy_states_follow_the_published_seeds_and_ranges():
    two = tasks.energy_states("two_body", eval_seed=123)
    # numpy's legacy seed 0 draws 0.5488135, 0.71518937 first: body 1 at those + 0.5
    np.testing.assert_allclose(two[0, [0, 2]], [1.0488135, 1.21518937], atol=1e-8)
    np.testing.assert_array_equal(two, tasks.energy_states("two_body", eval_seed=7))
    spring = tasks.energy_states("spring", eval_seed=123)
    assert spring.shape == (15, 2) and np.all((np.abs(spring) >= 0.2) & (np.abs(spring) <= 1))
    assert not np.array_equal(spring, tasks.energy_states("spring", eval_seed=124))
    three = tasks.energy_states("three_body", eval_seed=0)
    assert three.shape == (15, 12)
    radii = np.hypot(three[:, :3], three[:, 3:6])
    assert np.all((radii > 0.9 - 1e-9) & (radii < 1.2 + 1e-9))


# ---------------------------------------------------------------- the measured pendulum


def write_small_file(path: Path, rows: int = 21) -> tuple[np.ndarray, np.ndarray]:
    """A file in the published format: '%o v' header, 4 columns, CRLF line ends."""
    t = 5 + np.arange(rows) / 6
    x = np.column_stack([np.sin(t), np.cos(t)])
    lines = ["%o v"] + [
        f"  0.0  {a:.16e}  {b:.16e}  {c:.16e} " for a, (b, c) in zip(t, x, strict=True)
    ]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    return t, x


def test_parser_and_published_split_on_a_small_file(tmp_path):
    path = tmp_path / "small.txt"
    t, x = write_small_file(path)
    read_t, read_x = real_pendulum.read_measurements(path)
    np.testing.assert_allclose(read_t, t)
    np.testing.assert_allclose(read_x, x)
    split = real_pendulum.published_split(read_t, read_x)
    # 20 rows after the forward differences: int(16.0) = 16 train, int(3.9999…) = 3 test,
    # row 19 back in the training set (the published code's float arithmetic)
    assert len(split.x_test) == 3 and len(split.x_train) == 17
    np.testing.assert_allclose(split.x_test, x[16:19])
    np.testing.assert_allclose(split.x_train[-1], x[19])
    np.testing.assert_allclose(split.xdot_test[0], (x[17] - x[16]) / (t[17] - t[16]))


def test_a_malformed_file_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("%o v\n0 1 2\n0 2 3\n0 3 4\n")
    with pytest.raises(ValueError, match="expected at least 3 rows of 4"):
        real_pendulum.read_measurements(path)


def test_a_file_with_the_wrong_hash_is_refused_in_one_line(tmp_path, monkeypatch):
    path = tmp_path / real_pendulum.FILE_NAME
    write_small_file(path)
    with pytest.raises(ConfigError, match="refused") as err:
        real_pendulum.locate(str(path))
    assert "\n" not in str(err.value) and real_pendulum.FILE_SHA256 in str(err.value)
    monkeypatch.setenv(real_pendulum.PATH_ENV, str(path))
    with pytest.raises(ConfigError, match=f"{real_pendulum.PATH_ENV}=.*refused"):
        real_pendulum.locate()
    with pytest.raises(ConfigError, match="no such file"):
        real_pendulum.locate(str(tmp_path / "missing.txt"))


def test_offline_without_a_cached_copy_says_where_to_put_the_file(tmp_path, monkeypatch):
    import pooch

    monkeypatch.delenv(real_pendulum.PATH_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(pooch, "retrieve", offline)
    with pytest.raises(ConfigError) as err:
        real_pendulum.locate()
    message = str(err.value)
    target = tmp_path / "cache" / "hnnbench" / real_pendulum.FILE_NAME
    assert "\n" not in message and str(target) in message and "data.path=FILE" in message


@needs_shared
def test_the_measured_file_through_the_override_and_the_cache(tmp_path, monkeypatch):
    assert real_pendulum.locate(str(SHARED_FILE)) == SHARED_FILE
    t, x = real_pendulum.read_measurements(SHARED_FILE)
    assert x.shape == (556, 2) and t[0] == 5.0 and t[-1] == 99.5
    split = real_pendulum.published_split(t, x)
    assert (len(split.x_train), len(split.x_test)) == (445, 110)  # rows [444, 554) test
    np.testing.assert_array_equal(split.t_test[[0, -1]], t[[444, 553]])
    # a cached copy is used without any download
    monkeypatch.delenv(real_pendulum.PATH_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cached = tmp_path / "hnnbench" / real_pendulum.FILE_NAME
    cached.parent.mkdir(parents=True)
    cached.write_bytes(SHARED_FILE.read_bytes())
    assert real_pendulum.locate() == cached


# ---------------------------------------------------------------- published metrics


class FieldModel:
    """A model that is a given vector field (no Hamiltonian)."""

    def __init__(self, field):
        self.field = field

    def predict_vector_field(self, x):
        return self.field(np.asarray(x, dtype=float))

    def save(self, path, metadata=None):  # pragma: no cover - the protocol asks for it
        raise NotImplementedError


def test_the_exact_field_scores_the_noise_floor_and_zero_energy_error():
    system = PRESETS["spring"]
    data = published(system)
    fields = evaluate_task(FieldModel(system.vector_field), data, system, 1, 0.1, 1e-8)
    floor = fields["standard_task"]["exact_field_test_mse"]
    assert fields["test_mse"] == pytest.approx(floor)
    assert fields["energy_mse"] < 1e-10 and fields["energy_mse_H"] < 1e-10
    assert fields["min_pair_separation"] is None and fields["near_singularity"] is None
    damped = FieldModel(lambda x: system.vector_field(x) - 0.05 * x)
    worse = evaluate_task(damped, data, system, 1, 0.1, 1e-8)
    assert worse["energy_mse"] > 1e-3 and worse["valid_prediction_time"] < 20


def test_pendulum_scores_the_proxy_and_the_true_H_apart():
    system = PRESETS["pendulum"]
    fields = evaluate_task(
        FieldModel(lambda x: 1.02 * system.vector_field(x)), published(system), system, 1, 0.1,
        1e-8,
    )  # fmt: skip
    assert fields["standard_task"]["energy_proxy"]
    assert fields["energy_mse"] > 0 and fields["energy_mse_H"] > 0
    assert fields["energy_mse"] != pytest.approx(fields["energy_mse_H"])


def test_a_two_body_model_that_collapses_the_orbits_is_flagged_never_nan(monkeypatch):
    system = systems.get("two_body")
    data = published(system, seed=5)  # the data of the split test above (cached)
    short = dataclasses.replace(tasks.PROTOCOLS["two_body"].energy, horizon=5.0, points=50)
    monkeypatch.setitem(
        tasks.PROTOCOLS, "two_body", dataclasses.replace(tasks.PROTOCOLS["two_body"], energy=short)
    )

    def stronger_gravity(x):
        field = system.vector_field(x)
        field[:, 4:] *= 20.0  # 20× the attraction: the bodies fall into each other
        return field

    fields = evaluate_task(FieldModel(stronger_gravity), data, system, 1, 0.1, 1e-8)
    assert fields["near_singularity"] is True
    details = fields["standard_task"]
    assert details["truth_min_pair_separation"] > details["singularity_flag_below"]
    numbers = [v for v in fields.values() if isinstance(v, float)]
    assert not any(np.isnan(numbers)) and fields["energy_mse"] > 1e-3


def test_published_plus_minus_is_the_std_of_five_group_means():
    values = np.arange(15.0)
    means = [1.0, 4.0, 7.0, 10.0, 13.0]
    assert group_se(values) == pytest.approx(np.std(means) / np.sqrt(5))


# ---------------------------------------------------------------- checks, sweeps, experiments


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["task=spring", "train_points=100"], "do not match the protocol of data=published"),
        (["system=pendulum", "data=published", "train_points=1125", "test_points=1125"],
         "the published pendulum task has pendulum parameters"),
        (["system=henon_heiles", "data=published"], "system 'henon_heiles' has none"),
        (["task=spring", "noise_std=0.1"], "protocol fixes its noise"),
        (["task=real_pendulum", "data.path=/nonexistent/real.txt"], "no such file"),
        (["task=real_pendulum", "trainer=swim", f"data.path={SHARED_FILE}"],
         "measured data do not have"),
        (["task=spring", "trainer=hnn_published", "trainer.grad_mode=fused"],
         "one-hidden-layer loss"),
        (["task=spring", "evaluation.correction=first"], "with data=published use correction"),
    ],
)  # fmt: skip
def test_bad_task_values_are_refused_by_the_checks(tmp_path, overrides, message):
    if "trainer=swim" in overrides and not SHARED_FILE.is_file():
        pytest.skip(f"needs {SHARED_FILE}")
    with pytest.raises(ConfigError, match=re.escape(message)) as err:
        check(composed(*overrides, f"results_dir={tmp_path / 'r'}"))
    assert "\n" not in str(err.value)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [(["task=nope"], "task/nope"), (["task=real_pendulum", "data.path=TAMPERED"], "refused")],
)
def test_the_command_line_refuses_in_one_line_with_exit_status_2(tmp_path, overrides, message):
    tampered = tmp_path / real_pendulum.FILE_NAME
    write_small_file(tampered)
    overrides = [o.replace("TAMPERED", str(tampered)) for o in overrides]
    result = run_hnnbench([*overrides, f"results_dir={tmp_path / 'r'}"], tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_grid_jobs_are_the_union_of_the_grids_and_the_command_line_wins():
    parser = OverridesParser.create()
    grids = [{"trainer": "adam", "hidden_width": 200}, {"trainer": "aswim", "hidden_width": "5,6"}]
    jobs = grid_jobs(parser, {"task": "spring,pendulum"}, grids, [])
    assert len(jobs) == 2 + 4
    assert ["task=spring", "trainer=adam", "hidden_width=200"] in jobs
    assert ["task=pendulum", "trainer=aswim", "hidden_width=6"] in jobs
    narrowed = grid_jobs(parser, {"task": "spring,pendulum"}, grids, ["task=spring"])
    assert len(narrowed) == 3 and all("task=spring" in job for job in narrowed)
    same = grid_jobs(parser, None, grids, ["trainer=aswim", "hidden_width=5"])
    assert same == [["trainer=aswim", "hidden_width=5"]]  # both grids collapse: one job


def sweep_of(experiment: str) -> list[list[str]]:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(
            config_name="config", overrides=[f"experiment={experiment}"], return_hydra_config=True
        )
        return sweep_jobs(cfg)


def test_the_experiments_sweep_every_task_and_both_sides():
    lite = sweep_of("standard_tasks_lite")
    full = sweep_of("standard_tasks")
    for jobs in (lite, full):
        assert {j[0] for j in jobs} == {f"task={t}" for t in standard_tasks.TASKS}
    assert len(lite) == 5 * (3 * 1 + 2 * 3 * 2)
    backprop = [j for j in full if "trainer=hnn_published" in j]
    assert len(backprop) == 5 * 5 and all("hidden_width=200" in j for j in backprop)
    assert {j[2] for j in full if "trainer=aswim" in j} == {
        f"hidden_width={w}" for w in (50, 100, 200, 400, 800, 1600)
    }
    fidelity = sweep_of("standard_tasks_fidelity")  # the published models only, uncapped
    assert len(fidelity) == 4 * 2 * 3
    assert {j[1] for j in fidelity} == {"trainer=hnn_published", "trainer=mlp_published"}


# ---------------------------------------------------------------- end to end and the report


@pytest.fixture(scope="module")
def spring_records(tmp_path_factory) -> list[dict]:
    """A tiny standard_tasks sweep of spring: the published HNN and baseline (10 steps), A-SWIM
    at two widths, two seeds."""
    tmp = tmp_path_factory.mktemp("tasks")
    args = [
        "-m",
        "task=spring",
        "trainer=hnn_published,mlp_published,aswim",
        "hidden_width=20",
        "seed=0,1",
        "adam_steps=10",
        "adam_eval_every=5",
        "energy.enabled=false",
        "save_model=false",
        "progress=false",
        "hardware.threads=1",
        f"results_dir={tmp / 'r'}",
        "name=tasks",
    ]
    result = run_hnnbench(args, tmp)
    assert result.returncode == 0, result.stderr[-3000:]
    paths = sorted((tmp / "r" / "tasks").glob("*/record.json"))
    return [json.loads(p.read_text()) for p in paths]


def test_task_records_hold_the_published_metrics(spring_records):
    assert len(spring_records) == 6
    for record in spring_records:
        assert record["status"] == "ok" and record["task"] == "spring"
        assert record["data_source"] == "published"
        assert (record["train_points"], record["test_points"]) == (750, 750)
        for key in ("train_mse", "test_mse", "energy_mse", "energy_mse_H"):
            assert 0 < float(record[key]) < float("inf")
        assert record["test_outside_H_rel_l2"] is None
        assert record["standard_task"]["energy_states"] == 15
        assert record["depth"] == (2 if record["trainer"] == "backprop" else 1)
    adam = [r for r in spring_records if r["method"] == "adam"]
    assert all("test_mse" in point for point in adam[0]["learning_curve"])


def test_report_section_puts_the_published_numbers_beside_ours(spring_records, tmp_path):
    (section,) = standard_tasks.STANDARD_TASKS.sections(context(spring_records))
    assert section.title == "Standard HNN tasks"
    tables = {b.stem: b for b in section.blocks if hasattr(b, "stem")}
    comparison = tables["standard_tasks"].data
    hnn = comparison[comparison["model"] == "Adam HNN (published protocol)"].iloc[0]
    assert hnn["test_mse_published"] == pytest.approx(3.5928e-02)
    assert hnn["seeds"] == 2
    assert "sampled HNN (A-SWIM)" in set(comparison["model"])
    notes = " ".join(getattr(b, "text", "") for b in section.blocks)
    assert "noise floor" in notes and "cannot rank trainers" in notes
    claims = tables["standard_tasks_claims"].display
    assert set(claims["matched on"]) == {"test MSE", "energy MSE"}
    assert set(claims["task"]) == {"spring"}
    build_report(spring_records, tmp_path / "report")
    assert "## Standard HNN tasks" in (tmp_path / "report" / "report.md").read_text()


def test_no_task_records_no_section():
    records = [make_record("aswim")]
    assert standard_tasks.STANDARD_TASKS.sections(context(records)) == []


def context(records: list) -> Context:
    return Context(to_frame(records), records, Path("unused"))


@needs_shared
def test_real_pendulum_end_to_end(tmp_path):
    args = [
        "task=real_pendulum",
        "trainer=aswim_auto",
        "hidden_width=50",
        f"data.path={SHARED_FILE}",
        "energy.enabled=false",
        f"results_dir={tmp_path / 'r'}",
        "name=real",
    ]
    result = run_hnnbench(args, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads(next((tmp_path / "r" / "real").glob("*/record.json")).read_text())
    assert record["task"] == "real_pendulum" and record["test_H_rel_l2"] is None
    assert record["standard_task"]["exact_field_test_mse"] is None
    assert record["standard_task"]["energy_times"] == 110
    # the published HNN scores 5.96e-3 test MSE and 1.45e-2 energy MSE here
    assert 1e-3 < float(record["test_mse"]) < 3e-2
    # no true H: the report leaves the H figures out rather than failing on them
    build_report([record], tmp_path / "report")
    assert "## Standard HNN tasks" in (tmp_path / "report" / "report.md").read_text()


def test_lite_cuts_and_contended_timings_are_said(spring_records):
    marked = [dict(r, contended=False) for r in spring_records]  # the busy test machine's flags
    backprop = next(r for r in marked if r["trainer"] == "backprop")
    backprop["stopped_by"] = "max_seconds"
    backprop["contended"] = True
    (section,) = standard_tasks.STANDARD_TASKS.sections(context(marked))
    notes = " ".join(getattr(b, "text", "") for b in section.blocks)
    assert "stopped at their time budget" in notes
    assert "1 of 6 runs were timed while other processes used the cores" in notes
