"""The report's shared parts: the number parser, seed statistics and spread text, labels and
stable colours, the command builders, the analysis protocol, and matplotlib without pyplot."""

from __future__ import annotations

import builtins
import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from hnnbench.experiments import experiment_command, pipeline_command
from hnnbench.report import build
from hnnbench.report.analysis import Analysis
from hnnbench.report.document import Para, Table
from hnnbench.report.labels import colour, method_rank
from hnnbench.report.numbers import as_float, seed_spread, spread_cells, spread_text
from hnnbench.sweeps import selected
from synthetic import make_record


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, 1.0), ("2.5", 2.5), ("inf", math.inf), ("-inf", -math.inf), ("pi", math.pi),
     ("-2pi", -2 * math.pi), ("0.5 pi", 0.5 * math.pi)],
)  # fmt: skip
def test_the_number_parser_reads_records_and_published_bounds(value, expected) -> None:
    assert as_float(value) == pytest.approx(expected)


@pytest.mark.parametrize("missing", [None, True, False, "", "n/a", "nan", [1.0], {"a": 1}])
def test_a_missing_number_is_nan_never_zero(missing) -> None:
    assert math.isnan(as_float(missing))


def test_seed_statistics_leave_nan_out_and_keep_inf() -> None:
    assert seed_spread([3.0, None, 1.0, "nan", 2.0]) == (2.0, 1.0, 3.0)
    assert seed_spread([1.0, math.inf]) == (math.inf, 1.0, math.inf)
    assert all(math.isnan(v) for v in seed_spread([None, math.nan]))


def test_one_spread_text() -> None:
    assert spread_text(1.1e-8, 1e-8, 1.2e-8) == "1.10e-08 [1.00e-08–1.20e-08]"
    assert spread_text(2.0, 2.0, 2.0, "×") == "2×"
    assert spread_text(math.nan, math.nan, math.nan) == "—"
    data = pd.DataFrame({"t_median": [2.0, 5.0], "t_min": [1.0, 5.0], "t_max": [3.0, 5.0]})
    assert spread_cells(data, "t") == ["2 [1–3]", "5"]


def test_a_methods_colour_is_the_same_in_every_build(monkeypatch) -> None:
    """``hash`` of a str changes with PYTHONHASHSEED between builds: no colour may depend on it."""
    seen = set()
    for value in (0, 1, 2):
        monkeypatch.setattr(builtins, "hash", lambda _, v=value: v)
        seen.add((colour("aswim-auto"), colour("my_new_method"), colour("elm")))
    assert len(seen) == 1
    assert colour("elm") != colour("aswim") and colour("lbfgs") != colour("adam")
    assert [method_rank(m) for m in ("elm", "adam", "new_method")] == [0, 4, 10]


def test_the_report_draws_without_pyplot_or_a_backend_switch() -> None:
    code = (
        "import sys, matplotlib, hnnbench.report.build; "
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'; "
        "assert matplotlib.rcParams._get_backend_or_none() is None, 'backend chosen at import'"
    )
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_one_command_builder() -> None:
    assert " ".join(experiment_command("bench", "results")) == (
        "hnnbench -m experiment=bench results_dir=results"
    )
    assert pipeline_command("paper", True, "--report-only") == (
        "python -m hnnbench.paper --lite --report-only"
    )
    assert pipeline_command("claims") == "python -m hnnbench.claims"


def test_a_pipeline_names_bad_selections_and_returns_none(capsys) -> None:
    from types import SimpleNamespace

    def select(lite: bool, only: list[str] | None) -> tuple[str, ...]:
        if only and "nope" in only:
            raise ValueError("unknown experiment or table ['nope']; allowed: ['a']")
        return ("a",)

    assert selected(select, SimpleNamespace(lite=True, only=None)) == ("a",)
    assert selected(select, SimpleNamespace(lite=True, only=["nope"])) is None
    assert "error: unknown experiment or table ['nope']" in capsys.readouterr().err


def test_a_new_analysis_is_a_data_function_a_blocks_function_and_one_line(
    tmp_path: Path, monkeypatch
) -> None:
    """The protocol: select records → a data frame → tables → a section, placed by build.py."""

    def data(ctx) -> pd.DataFrame:
        counts = ctx.frame.groupby("method").size()
        return counts.rename("runs").reset_index()

    def blocks(ctx, data: pd.DataFrame) -> list:
        return [Para("Runs per method."), Table("runs_per_method", "Runs per method", data)]

    extra = Analysis("Runs per method", data, blocks)
    nothing = Analysis("Never shown", lambda ctx: pd.DataFrame(), blocks)
    monkeypatch.setattr(build, "BODY", (*build.BODY, extra, nothing))
    monkeypatch.setattr(build, "GROUP_FIGURES", ())
    records = [make_record("elm", seed) for seed in range(2)] + [make_record("aswim")]
    build.build_report(records, tmp_path)
    text = (tmp_path / "report.md").read_text()
    assert "## Runs per method" in text and "Never shown" not in text
    table = pd.read_csv(tmp_path / "tables" / "runs_per_method.csv")
    assert dict(zip(table["method"], table["runs"], strict=True)) == {"aswim": 1, "elm": 2}
