"""The report generator on synthetic records: files, tables, figures, failed runs, edge cases."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from hnnbench.report import build_report
from hnnbench.report.cli import main
from hnnbench.report.document import booktabs, fmt
from hnnbench.report.frame import to_frame
from hnnbench.report.matched import at_best_data, problems_of
from hnnbench.report.synthetic import make_record, synthetic_records, write_synthetic
from hnnbench.report.tables import summary_data

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    results = write_synthetic(tmp_path_factory.mktemp("results"))
    out = results / "report"
    assert main([str(results), "--out", str(out)]) == 0
    return out


def test_report_writes_every_kind_of_file(report_dir: Path) -> None:
    assert (report_dir / "report.md").stat().st_size > 1000
    html = (report_dir / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "data:image/png;base64," in html
    for stem in ("claims_verdicts", "summary", "matched_speedup", "failed_runs", "environment"):
        assert (report_dir / "tables" / f"{stem}.csv").exists()
        tex = (report_dir / "tables" / f"{stem}.tex").read_text()
        assert r"\toprule" in tex and r"\bottomrule" in tex
    pngs = sorted((report_dir / "figures").glob("*.png"))
    kinds = {p.stem.split("_", 1)[1] for p in pngs}
    assert {"error_vs_time", "adam_curves", "rollout_error", "energy_drift", "phase"} <= kinds
    assert {"claims-check_error_vs_time", "claims-check_speedup"} <= {p.stem for p in pngs}
    assert "width" in kinds  # two widths in the synthetic set
    for png in pngs:
        data = png.read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5_000
        assert png.with_suffix(".pdf").read_bytes().startswith(b"%PDF")


def test_summary_rows_columns_and_speedup() -> None:
    data = summary_data(to_frame(synthetic_records()))
    # (elm, aswim, adam) × 2 widths + uswim at width 100 (one failed, one with inf error)
    assert len(data) == 7
    assert {"seeds_ok", "runs", "speedup_vs_adam", "energy_ratio", "test_H_rel_l2_median"} <= set(
        data.columns
    )
    aswim = data[(data["method"] == "aswim") & (data["hidden_width"] == 100)].iloc[0]
    assert aswim["seeds_ok"] == 3 and aswim["speedup_vs_adam"] == pytest.approx(50 / 0.4)
    assert aswim["test_H_rel_l2_min"] == pytest.approx(1e-8)
    adam = data[(data["method"] == "adam") & (data["hidden_width"] == 100)].iloc[0]
    assert (adam["runs"], adam["seeds_ok"], adam["not_ok"]) == (3, 2, 1)  # one diverged


def test_summary_table_shows_median_and_spread(report_dir: Path) -> None:
    table = pd.read_csv(report_dir / "tables" / "summary.csv")
    assert len(table) == 7
    markdown = (report_dir / "report.md").read_text()
    assert "1.10e-08 [1.00e-08–1.20e-08]" in markdown  # aswim: median [min–max] of 3 seeds
    assert "125×" in markdown  # speed-up of aswim vs Adam


def test_failed_and_diverged_runs_are_listed(report_dir: Path) -> None:
    markdown = (report_dir / "report.md").read_text()
    assert "| failed | RuntimeError: synthetic failure in the solver |" in markdown
    assert "| diverged | non-finite loss at step 40 |" in markdown
    failed = pd.read_csv(report_dir / "tables" / "failed_runs.csv")
    assert sorted(failed["status"]) == ["diverged", "failed"]


def test_matched_accuracy_on_the_standard_set() -> None:
    records = synthetic_records()
    (problem,) = problems_of(to_frame(records), records)
    (adam,) = problem.baselines
    # widths 100 (one seed diverged: median final error inf-weighted) and 200 are a search
    assert adam.config["hidden_width"] == 200 and adam.tuning_runs == 3
    assert adam.tuning_seconds == pytest.approx(50 + 50 + 3)
    row = at_best_data([problem]).iloc[0]
    # both elm widths reach Adam's best error in 0.2 s: the tie goes to the smaller width
    assert row["sampled_config"].startswith("elm w=100:")
    assert row["speedup_median"] == pytest.approx(50 / 0.2)
    assert row["speedup_kind"] == "exact"


def test_provenance_and_energy_caveat(report_dir: Path) -> None:
    markdown = (report_dir / "report.md").read_text()
    assert "Synthetic CPU" in markdown and "0123456789abcdef" in markdown
    assert "estimated" in markdown and "TDP" in markdown
    assert "hnnbench-report" in markdown


def test_empty_or_missing_folder_exits_non_zero(tmp_path: Path, capsys) -> None:
    assert main([str(tmp_path)]) == 2
    assert "no run records" in capsys.readouterr().err
    assert main([str(tmp_path / "missing")]) == 2
    with pytest.raises(ValueError):
        build_report([], tmp_path / "out")


@pytest.mark.parametrize(
    "records",
    [
        [make_record("aswim")],
        [make_record("adam", seconds=2.0)],
        [make_record("elm", seed=s) for s in range(2)],
        [make_record("uswim", status="failed")],
        [make_record("elm", test_H_rel_l2="nan", train_time_s="inf", rollout=None)],
    ],
    ids=["single", "only-adam", "only-sampled", "only-failed", "nan-inf"],
)
def test_report_is_robust(tmp_path: Path, records: list) -> None:
    report = build_report(records, tmp_path / "out")
    assert (tmp_path / "out" / "report.md").exists()
    assert (tmp_path / "out" / "report.html").exists()
    assert any(p.suffix == ".csv" for p in report.files)


def test_formatting_and_latex_escaping() -> None:
    assert fmt(float("nan")) == "—" and fmt(float("inf")) == "inf" and fmt(1000) == "1000"
    assert fmt(1.234e-7) == "1.23e-07"
    tex = booktabs(pd.DataFrame({"a_b": ["50%", "[-π,π]×[0,1]"]}), "x & y")
    assert r"a\_b" in tex and r"50\%" in tex and r"$\times$" in tex and r"x \& y" in tex
