"""Property: any command line is either rejected before any work, with one line naming a bad
value, or it runs to a complete, schema-valid record.

Hypothesis draws override combinations at tiny sizes, each value from a pool of good ones or of
bad ones (non-numeric, out of range, unknown names, wrong shapes). A draw with a bad value must be
rejected by ``runner.check`` (what the command line runs before Hydra starts) with a ConfigError
naming one of the bad keys, and leave no record; a draw with none must not be rejected, and
``runner.run`` must write a complete record. 200 examples, each composed by Hydra; the good ones
(about 40 %, some of them repeats of an earlier run, which the runner skips) run in-process at
width ≤ 20, ≤ 50 points, one rollout over ≤ 0.2 time units, no energy tracking, no warm-up.
Each fit is timed once (``timing.min_total_s=0``: the repeat rule has its own tests).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from conftest import CONF
from hnnbench.checks import ConfigError
from hnnbench.hardware import apply_threads
from hnnbench.record import (
    COMPLETE,
    FIELDS,
    RECORD_NAME,
    SCHEMA_VERSION,
    find_records,
    read_record,
    run_id_of,
)
from hnnbench.runner import check, run

SYSTEMS = ["spring", "pendulum", "henon_heiles", "double_pendulum", "lotka_volterra"]
SAMPLED = ["elm", "uswim", "aswim", "swim"]
#: always set: tiny, quiet runs
FIXED = [
    "name=prop", "evaluation.rollouts=1", "energy.enabled=false", "warmup=false",
    "save_model=false", "progress=false",
    "timing.min_total_s=0",  # time each fit once: the repeat rule has its own tests
]  # fmt: skip


def knob(key: str, good: st.SearchStrategy, bad: list[str]) -> st.SearchStrategy:
    """(override, is_bad): a bad value one time in five, so that a good share of the draws,
    with a few knobs each, has no bad value at all and runs."""
    return st.integers(0, 4).flatmap(
        lambda pick: (
            st.sampled_from(bad).map(lambda value: (f"{key}={value}", True))
            if pick == 0
            else good.map(lambda value: (f"{key}={value}", False))
        )
    )


def floats(low: float, high: float) -> st.SearchStrategy:
    return st.floats(low, high, allow_nan=False).map(lambda x: f"{x:.6g}")


COMMON = {
    "hidden_width": (st.integers(1, 20), ["0", "-1", "abc", "1.5", "true", "null"]),
    "train_points": (st.integers(2, 50), ["1", "0", "x", "2.5"]),
    "test_points": (st.integers(1, 20), ["0", "-3"]),
    "noise_std": (floats(0, 0.1), ["-0.1", "inf", "nan", "abc"]),
    "noise_relative": (st.sampled_from(["true", "false"]), ["maybe", "2"]),
    "seed": (st.integers(0, 3), ["-1", "one"]),
    "hardware.dtype": (st.sampled_from(["float32", "float64"]), ["float16", "int"]),
    # 1 only: a run applies its thread count to the whole test process
    "hardware.threads": (st.just("1"), ["0", "-2", "abc", "1.5"]),
    "evaluation.integrator": (
        st.sampled_from(["rk4", "implicit_midpoint", "symplectic_euler"]),
        ["euler"],
    ),
    "evaluation.horizon": (floats(0.05, 0.2), ["0", "-1"]),
    "evaluation.dt": (floats(0.02, 0.1), ["0", "x"]),
    "evaluation.threshold": (floats(0.01, 1), ["0", "-0.5"]),
    # shells only where the system has an escape energy: a bad value elsewhere, so not drawn
    "evaluation.initial_states": (st.sampled_from(["auto", "box"]), ["sphere", "1"]),
    "evaluation.shell_fractions": (st.sampled_from(["[0.5]", "[0.2,0.9]"]), ["[1.5]", "[]", "0.5"]),
    "evaluation.divergence_scale": (floats(1.5, 4), ["1", "0.5", "abc"]),
}
SAMPLED_KNOBS = {
    "trainer.solver": (st.sampled_from(["qr_ridge", "qr_svd", "gelsd", "normal"]), ["magic"]),
    "trainer.rcond": (st.sampled_from(["1e-13", "1e-8"]), ["0", "2", "abc"]),
}
ADAM_KNOBS = {
    "adam_steps": (st.integers(1, 8), ["0", "many"]),
    "trainer.lr": (st.sampled_from(["1e-3", "1e-2"]), ["0", "-1e-3"]),
    "trainer.batch_size": (st.integers(1, 64), ["-1", "all"]),  # 0 / full: the full batch
    "trainer.eval_every": (st.integers(1, 4), ["0"]),
}
SYSTEM_EXTRAS = ["+system.nope=1", "system.domain=[[0,1]]", "system.domain=[[1,0],[0,1]]"]


@st.composite
def command_lines(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    """(overrides, the bad ones among them)."""
    system = draw(st.sampled_from(SYSTEMS))
    trainer = draw(st.sampled_from([*SAMPLED, "adam"]))
    knobs = {**COMMON, **(ADAM_KNOBS if trainer == "adam" else SAMPLED_KNOBS)}
    # each knob set with probability 1/4 (a unique list of keys would waste draws on repeats)
    chosen = [key for key in sorted(knobs) if draw(st.integers(0, 3)) == 0]
    drawn = [draw(knob(key, *knobs[key])) for key in chosen]
    if "train_points" not in chosen:  # the default 2000 points: too slow here
        drawn.append((f"train_points={draw(st.integers(2, 50))}", False))
    if "test_points" not in chosen:
        drawn.append(("test_points=10", False))
    if "evaluation.horizon" not in chosen:
        drawn.append(("evaluation.horizon=0.1", False))
    if "hidden_width" not in chosen:
        drawn.append((f"hidden_width={draw(st.integers(1, 20))}", False))
    if trainer == "adam" and "adam_steps" not in chosen:
        drawn.append(("adam_steps=3", False))
    if draw(st.integers(0, 9)) == 0:
        drawn.append((draw(st.sampled_from(SYSTEM_EXTRAS)), True))
    overrides = [f"system={system}", f"trainer={trainer}", *(o for o, _ in drawn)]
    return overrides, [o for o, bad in drawn if bad]


def named(message: str, bad: list[str]) -> bool:
    """Does the message name one of the bad overrides (by the last part of its key)?"""
    keys = [o.lstrip("+").partition("=")[0].rsplit(".", 1)[-1] for o in bad]
    return any(key in message for key in keys)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory):
    threads = torch.get_num_threads()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        yield tmp_path_factory.mktemp("properties")
    apply_threads(threads)  # the runs set one thread for torch and BLAS


@settings(
    max_examples=200,
    deadline=None,
    # CI replays one fixed set of 200 draws (a failure there is reproducible); a developer's run
    # explores new ones each time and keeps failures in .hypothesis/ to replay
    derandomize=os.environ.get("CI") == "true",
    suppress_health_check=[HealthCheck.too_slow],
)
@given(drawn=command_lines())
def test_rejected_before_any_work_or_a_complete_record(
    results: Path, drawn: tuple[list[str], list[str]]
) -> None:
    overrides, bad = drawn
    cfg = compose("config", [*FIXED, f"results_dir={results}", *overrides])
    records_before = len(find_records(results))
    try:
        check(cfg)
    except ConfigError as err:
        message = str(err)
        assert bad, f"good input rejected: {overrides}: {message}"
        assert "\n" not in message and named(message, bad), (message, bad)
        assert len(find_records(results)) == records_before  # nothing written
        event("rejected before any work")
        return
    assert not bad, f"bad input accepted: {bad}"
    status = run(cfg)
    assert status in (*COMPLETE, "skipped")
    event(f"ran: {status}")
    run_id = run_id_of(OmegaConf.to_container(cfg, resolve=True))
    record = read_record(results / "prop" / run_id / RECORD_NAME)
    assert record is not None and set(FIELDS) <= set(record), overrides
    assert record["schema_version"] == SCHEMA_VERSION and record["status"] in COMPLETE
    if record["status"] == "ok":
        for metric in ("test_xdot_rel_l2", "valid_prediction_time", "rollout_diverged"):
            assert record[metric] is not None, (metric, overrides)
        # the rollout error is a number unless every rollout diverged
        all_diverged = record["rollout_diverged"] == record["rollout"]["rollout_count"]
        assert (record["rollout_rel_error_final"] is None) == all_diverged, overrides
