"""Rollout metrics in the report: valid time leads the rollout columns, diverged rollouts are
counted beside the error summaries, records written before schema 4 still read, and a run whose
valid time is at another threshold is never pooled with one at the default."""

from __future__ import annotations

import math

from hnnbench.record import FIELDS
from hnnbench.report.frame import to_frame
from hnnbench.report.synthetic import make_record
from hnnbench.report.tables import summary_data, summary_display


def v4(seed: int, diverged: int, final: float | None, threshold: float = 0.1) -> dict:
    """A schema-4 record: ``diverged`` of 8 rollouts diverged, the error over the others."""
    record = make_record("aswim", seed, schema_version=4, rollout_diverged=diverged)
    record.update(rollout_rel_error_final=final, valid_prediction_time=2.0 + seed)
    record["config"]["evaluation"] = {"threshold": threshold, "horizon": 10.0}
    return record


def test_valid_time_leads_and_the_diverged_count_stands_beside_the_errors() -> None:
    columns = list(summary_display(summary_data(to_frame([v4(0, 0, 1e-3), v4(1, 3, 2e-3)]))))
    rollout = [c for c in columns if "valid time" in c or "rollout" in c or "drift" in c]
    assert rollout == ["valid time", "diverged rollouts", "rollout error (final)", "energy drift"]
    assert FIELDS.index("valid_prediction_time") < FIELDS.index("rollout_rel_error_final")


def test_an_all_diverged_run_has_no_error_and_the_summary_is_over_the_others() -> None:
    records = [v4(0, 0, 1e-3), v4(1, 8, None), v4(2, 2, 3e-3)]
    row = summary_data(to_frame(records)).iloc[0]
    assert row["rollout_rel_error_final_median"] == 2e-3  # median of the two with a number
    assert (row["rollout_diverged_min"], row["rollout_diverged_max"]) == (0, 8)
    assert row["valid_prediction_time_median"] == 3.0  # every run has one


def test_records_before_schema_4_still_read() -> None:
    old = make_record("aswim", 0)  # schema 1: no rollout_diverged field
    del old["rollout_diverged"]
    frame = to_frame([old, v4(1, 1, 2e-3)])
    assert math.isnan(frame["rollout_diverged"].iloc[0]) and frame["rollout_diverged"].iloc[1] == 1
    assert frame["case"].nunique() == 1  # no threshold known: the default, pooled


def test_another_threshold_is_named_in_the_case_and_not_pooled() -> None:
    frame = to_frame([v4(0, 0, 1e-3), v4(1, 0, 1e-3, threshold=1e-8)])
    cases = sorted(frame["case"])
    assert cases[0].endswith("[-2π,2π]×[-1,1]") and cases[1].endswith("; valid time at τ=1e-08")
    assert len(summary_data(frame)) == 2
