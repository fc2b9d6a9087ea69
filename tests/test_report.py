"""The report generator on synthetic records: files, tables, figures, failed runs, edge cases."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from conftest import markdown_rows
from hnnbench.record import RECORD_NAME, find_records
from hnnbench.report import build_report
from hnnbench.report.cli import main
from hnnbench.report.compare import flag
from hnnbench.report.document import LATEX_REPLACEMENTS, booktabs, fmt, html_table, markdown_table
from hnnbench.report.frame import to_frame
from hnnbench.report.matched import at_best_table, problems_of
from hnnbench.report.summary import summary_data
from synthetic import (
    NOISES,
    RCONDS,
    make_record,
    synthetic_records,
    write_synthetic,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
#: a learning curve without an H error (a model of measured data has no true H)
NO_H_CURVE = [
    {"seconds": t, "step": 10 * t, "train_loss": 1 / t, "test_H_rel_l2": None} for t in (1, 2)
]


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
    # LaTeX only for the tables that fit an A4 page: the 20-column summary does not
    tex = (report_dir / "tables" / "environment.tex").read_text()
    assert r"\toprule" in tex and r"\bottomrule" in tex and "\\small" in tex
    assert not (report_dir / "tables" / "summary.tex").exists()
    markdown = (report_dir / "report.md").read_text()
    assert "(CSV: `tables/summary.csv`)" in markdown
    assert "LaTeX: `tables/environment.tex`" in markdown
    wrapper = (report_dir / "tables" / "all_tables.tex").read_text()
    written = {p.stem for p in (report_dir / "tables").glob("*.tex")} - {"all_tables"}
    assert written and {s for s in written if f"\\input{{{s}}}" in wrapper} == written
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
    rows = markdown_rows((report_dir / "report.md").read_text())
    assert ["failed", "RuntimeError: synthetic failure in the solver"] in [r[-2:] for r in rows]
    assert ["diverged", "non-finite loss at step 40"] in [r[-2:] for r in rows]
    failed = pd.read_csv(report_dir / "tables" / "failed_runs.csv")
    assert sorted(failed["status"]) == ["diverged", "failed"]


def test_matched_accuracy_on_the_standard_set() -> None:
    records = synthetic_records()
    (problem,) = problems_of(to_frame(records), records)
    (adam,) = problem.baselines
    # widths 100 (one seed diverged: median final error inf-weighted) and 200 are a search
    assert adam.config["hidden_width"] == 200 and adam.tuning_runs == 3
    assert adam.tuning_seconds == pytest.approx(50 + 50 + 3)
    row = at_best_table([problem])[1].iloc[0]
    # both elm widths reach Adam's best error in 0.2 s: the tie goes to the smaller width
    assert row["sampled_config"].startswith("elm w=100:")
    assert row["speedup_median"] == pytest.approx(50 / 0.2)
    # no cheaper rung failed to reach it: only a lower bound
    assert row["speedup_kind"] == "at_least" and row["speedup_median_high"] == float("inf")


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
        # a model of measured data (the real pendulum): no true H, so no H error
        [
            make_record(
                m, seed=s, test_H_rel_l2=None, learning_curve=NO_H_CURVE if m == "adam" else None
            )
            for m in ("aswim", "adam")
            for s in (0, 1)
        ],  # fmt: skip
    ],
    ids=["single", "only-adam", "only-sampled", "only-failed", "nan-inf", "no-true-H"],
)
def test_report_is_robust(tmp_path: Path, records: list) -> None:
    report = build_report(records, tmp_path / "out")
    assert (tmp_path / "out" / "report.md").exists()
    assert (tmp_path / "out" / "report.html").exists()
    assert any(p.suffix == ".csv" for p in report.files)


def test_formatting() -> None:
    assert fmt(float("nan")) == "—" and fmt(float("inf")) == "inf" and fmt(1000) == "1000"
    assert fmt(1.234e-7) == "1.23e-07" and fmt(None) == "—" and fmt("text") == "text"
    assert fmt(125.0, suffix="×") == "125×" and fmt(math.nan, suffix="×") == "—"
    assert fmt(math.inf, suffix="×") == "inf×" and fmt(pd.NA, suffix="×") == "—"


#: every character TeX treats specially, and ones our tables show (flags, domains, dashes)
AWKWARD = pd.DataFrame(
    {
        "a_b|c": ["50%", "[-π,π]×[0,1]", flag(100.0), "x<y & #1", "1–2 — ≥3"],
        "d": ["~^\\{}$", "line\nbreak", None, 1.5e-9, "ü ☃"],
    }
)


def test_latex_escaping() -> None:
    tex = booktabs(AWKWARD, "x & y_1 > 2")
    assert r"\caption{x \& y\_1 $>$ 2}" in tex
    assert r"a\_b$|$c" in tex and r"50\%" in tex and r"{[}-$\pi$,$\pi$]$\times${[}0,1]" in tex
    assert r"$>$ 10$\times$ off" in tex and r"x$<$y \& \#1" in tex
    assert r"1--2 --- $\ge$3" in tex and "line break" in tex and "1.50e-09" in tex
    assert r"\textasciitilde{}\textasciicircum{}\textbackslash{}\{\}\$" in tex
    assert "u [U+2603]" in tex  # unknown characters: ASCII base letter, else the code point
    assert r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex
    # in the default OT1 text font '<' and '>' print as '¡' and '¿': only math-mode ones allowed
    assert not re.search(r"[<>]", tex.replace("$<$", "").replace("$>$", ""))
    assert tex.isascii()


def test_markdown_and_html_tables() -> None:
    markdown = markdown_table(AWKWARD)
    assert markdown_rows(markdown)[0] == ["a_b|c", "d"]
    assert markdown_rows(markdown)[2:] == [
        ["50%", "~^\\{}$"],
        ["[-π,π]×[0,1]", "line break"],
        ["> 10× off", "—"],
        ["x<y & #1", "1.50e-09"],  # as formatted by fmt, not re-parsed by tabulate
        ["1–2 — ≥3", "ü ☃"],
    ]
    page = html_table(AWKWARD, "x < y")
    assert "<caption>x &lt; y</caption>" in page and "<th >a_b|c</th>" in page
    assert "<td >x&lt;y &amp; #1</td>" in page and "<td >&gt; 10× off</td>" in page
    assert "id=" not in page and "<style" not in page  # reproducible: no random Styler ids


def test_long_tables_are_not_trimmed() -> None:
    frame = pd.DataFrame({"n": range(30), "m": range(30)})
    # Styler cuts a table beyond this many cells (default 262144); ours must keep every row
    with pd.option_context("styler.render.max_elements", 10):
        assert booktabs(frame, "big").count(r"\\") == 31
        assert html_table(frame).count("<tr>") == 31


ENGINES = [e for e in ("pdflatex", "lualatex") if shutil.which(e)]
#: what the log of a table that does not fit its page says
OVERFLOWS = ("Overfull \\hbox", "Overfull \\vbox", "Float too large for page")


def compile_latex(folder: Path, stem: str) -> str:
    """Compile ``folder/stem.tex`` (stop at the first error); its log."""
    result = subprocess.run(
        [ENGINES[0], "-interaction=nonstopmode", "-halt-on-error", f"{stem}.tex"],
        cwd=folder, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    log = (folder / f"{stem}.log").read_text(errors="replace")
    assert result.returncode == 0, result.stdout[-3000:]
    assert (folder / f"{stem}.pdf").read_bytes().startswith(b"%PDF")
    return log


def paper_tables_folder(folder: Path, monkeypatch) -> Path:
    """The paper sections' tables with every published cell filled (the widest cells: spreads,
    flags, daggers), the error-correction rows constructed, written as the report writes them."""
    from hnnbench.report import compare
    from hnnbench.report.analysis import Context
    from hnnbench.report.document import write_tables
    from synthetic import error_correction_published, paper_records

    published = compare.load_published()
    published = published[published["table"] != "error_correction"]
    published = pd.concat([published, error_correction_published()], ignore_index=True)
    monkeypatch.setattr(compare, "load_published", lambda: published)
    records = paper_records(published)
    records += [{**r, "hidden_width": 1000, "run_id": f"cut-{r['run_id']}"} for r in records[:4]]
    sections = compare.paper_sections(Context(to_frame(records), records, folder))
    write_tables(sections, folder)
    return folder


@pytest.mark.skipif(not ENGINES, reason="no LaTeX engine (pdflatex or lualatex) installed")
def test_every_written_tex_compiles_and_fits_a4(report_dir: Path, tmp_path: Path, monkeypatch):
    folders = [report_dir / "tables", paper_tables_folder(tmp_path / "paper", monkeypatch)]
    shaped = {p.stem for p in folders[1].glob("paper_table_*.tex")}
    assert len(shaped) == 6  # every published table, error_correction included
    for folder in folders:
        wrapper = (folder / "all_tables.tex").read_text()
        written = {p.stem for p in folder.glob("*.tex")} - {"all_tables"}
        assert {s for s in written if f"\\input{{{s}}}" in wrapper} == written
        log = compile_latex(folder, "all_tables")
        assert "Missing character" not in log and "not set up for use with LaTeX" not in log
        assert not [line for line in log.splitlines() if line.startswith(OVERFLOWS)]
    every_char = "".join(LATEX_REPLACEMENTS) + "üß☃"
    (tmp_path / "awkward.tex").write_text(booktabs(AWKWARD.assign(all=every_char), every_char))
    (tmp_path / "doc.tex").write_text(
        "\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n"
        "\\input{awkward}\n\\end{document}\n"
    )
    log = compile_latex(tmp_path, "doc")
    assert "Missing character" not in log and "not set up for use with LaTeX" not in log


def truncate(path: Path) -> None:
    """Cut a record in half, as a full disk or an interrupted copy would."""
    text = path.read_text()
    path.write_text(text[: len(text) // 2])


def test_unreadable_records_are_listed_not_dropped(tmp_path: Path, capsys) -> None:
    results = write_synthetic(tmp_path / "results")
    good = find_records(results)
    truncate(good[0])
    garbage = results / "stray" / RECORD_NAME
    garbage.parent.mkdir()
    garbage.write_bytes(b"\x89PNG\x00\xff")
    out = tmp_path / "report"
    assert main([str(results), "--out", str(out)]) == 0
    warnings = sorted(line for line in capsys.readouterr().err.splitlines() if "warning" in line)
    assert len(warnings) == 2
    prefix = "warning: skipped unreadable run record"
    assert warnings[0] == f"{prefix} {garbage}: not UTF-8 text (byte 0)"
    assert warnings[1].startswith(f"{prefix} {good[0]}: invalid JSON")
    assert warnings[1].endswith("(the file looks truncated)")
    markdown = (out / "report.md").read_text()
    overview = markdown.split("## Summary")[0]
    assert f"{len(good) - 1} run records" in overview
    assert "2 record file(s) could not be read" in overview
    assert f"`{good[0]}` (invalid JSON:" in overview and f"`{garbage}` (not UTF-8" in overview
    assert str(garbage) in (out / "report.html").read_text()


def test_folder_of_only_unreadable_records_exits_2(tmp_path: Path, capsys) -> None:
    (record,) = find_records(write_synthetic(tmp_path, [make_record("elm")]))
    truncate(record)
    assert main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"warning: skipped unreadable run record {record}: invalid JSON" in err
    assert "error: no readable run records" in err and "all 1 record.json file(s) are" in err
    assert not (tmp_path / "report").exists()


def test_dimension_sweep_exponents_table_and_figure(tmp_path: Path, monkeypatch) -> None:
    from hnnbench.report import build, run_figures
    from hnnbench.report.analysis import Context
    from hnnbench.report.sweep import DIMENSION, dimension_data, growth_exponent
    from synthetic import dimension_records

    records = dimension_records()
    frame = to_frame(records)
    data = dimension_data(DIMENSION.points(frame)).set_index("method")
    assert set(data.index) == {"aswim", "adam"}  # the lone pendulum run is no sweep
    assert data.loc["aswim", "dofs"] == "1, 2, 4, 8"
    # the seeds scale both by the same factor, so the medians keep the exact power laws
    assert data.loc["aswim", "train_time_s_exponent"] == pytest.approx(1.0)
    assert data.loc["aswim", "test_H_rel_l2_exponent"] == pytest.approx(0.5)
    assert data.loc["adam", "train_time_s_exponent"] == pytest.approx(0.0, abs=1e-9)
    assert data.loc["adam", "test_H_rel_l2_exponent"] == pytest.approx(2.0)
    assert math.isnan(growth_exponent([4, 4], [1.0, 2.0]))  # one n: no slope
    assert growth_exponent([1, 2, 4], [1.0, math.inf, 4.0]) == pytest.approx(1.0)  # inf skipped
    ctx = Context(frame, records, tmp_path)
    for draw in (DIMENSION.figure, run_figures.inside_vs_outside):
        made = draw(frame, ctx, "figure")
        assert made is not None and made.png.read_bytes().startswith(PNG_MAGIC)
    # the report's section and tables (the per-group figures, tested above and elsewhere, off)
    monkeypatch.setattr(build, "GROUP_FIGURES", ())
    build_report(records, tmp_path / "out")
    exponents = pd.read_csv(tmp_path / "out" / "tables" / "dimension_exponents.csv")
    assert len(exponents) == 2
    medians = pd.read_csv(tmp_path / "out" / "tables" / "dimension_medians.csv")
    assert sorted(medians["dof"].unique()) == [1, 2, 4, 8] and set(medians["runs"]) == {2}
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "## Dimension sweep" in markdown and "[-1,1]^16" in markdown  # dof 8, compressed


def test_no_dimension_section_without_a_sweep(report_dir: Path) -> None:
    assert "Dimension sweep" not in (report_dir / "report.md").read_text()
    assert not (report_dir / "tables" / "dimension_exponents.csv").exists()
    assert (report_dir / "figures" / "synthetic_outside.png").exists()  # every run has outside


def test_domain_and_dof_in_the_frame() -> None:
    from hnnbench.report.frame import format_domain
    from synthetic import dimension_records

    assert format_domain([[-1, 1], [-1, 1]]) == "[-1,1]×[-1,1]"  # short runs stay as they were
    assert format_domain([[-1, 1]] * 64 + [[0, 2]]) == "[-1,1]^64×[0,2]"
    frame = to_frame([make_record("aswim"), make_record("aswim", system_params={"dof": 5})])
    assert frame["dof"].tolist() == [1, 5]  # pendulum: half its 2-d domain; else the record's
    cases = to_frame(dimension_records((16, 2)))
    assert cases[cases["system"] == "fput"]["dof"].unique().tolist() == [2, 16]  # not as text


def test_outside_figure_is_skipped_for_records_without_outside_metrics(tmp_path: Path) -> None:
    """Records written before the outside metrics existed (the fields absent) still report."""
    records = [make_record("aswim", seed=s) for s in range(2)]
    for record in records:
        del record["test_outside_H_rel_l2"], record["test_outside_grad_rel_l2"]
    build_report(records, tmp_path / "out")
    stems = {p.stem for p in (tmp_path / "out" / "figures").glob("*.png")}
    assert "synthetic_error_vs_time" in stems and "synthetic_outside" not in stems


def test_rcond_sweep_table_flags_auto_and_the_figure_marks_it(tmp_path: Path, monkeypatch) -> None:
    from hnnbench.report import build, claims_check
    from hnnbench.report.analysis import Context
    from hnnbench.report.sweep import RCOND, rcond_data, rcond_medians
    from synthetic import rcond_records

    records = rcond_records()
    frame = to_frame(records)
    data = rcond_data(rcond_medians(frame)).set_index("system")
    assert set(data.index) == {"pendulum", "spring"}  # the lone ELM run is no sweep
    pendulum, spring = data.loc["pendulum"], data.loc["spring"]
    assert pendulum["best_rcond"] == 1e-16 and pendulum["auto_rcond"] == 1e-14
    assert pendulum["auto_over_best"] == pytest.approx(1.5) and pendulum["flag"] == ""
    assert spring["auto_over_best"] == pytest.approx(5.0) and spring["flag"] == "> 3×"
    assert pendulum["paper_error"] == pytest.approx(1e-13**0.5 * 1e2 * 1.05)  # median of 2 seeds
    made = RCOND.figure(frame, Context(frame, records, tmp_path), "rcond")
    assert made is not None and made.png.read_bytes().startswith(PNG_MAGIC)
    monkeypatch.setattr(build, "GROUP_FIGURES", ())  # tested elsewhere
    monkeypatch.setattr(claims_check, "FIGURES", ())
    build_report(records, tmp_path / "out")
    grid = pd.read_csv(tmp_path / "out" / "tables" / "rcond_errors.csv")
    assert len(grid) == 2 * (len(RCONDS) + 1)  # a row per system × (fixed rcond, auto)
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "## Regularisation (rcond) sweep" in markdown and "flagged: 1 of 2" in markdown
    assert "aswim-auto" in to_frame(records)["method"].tolist()  # never pooled with fixed


def test_noise_sweep_table_and_figure(tmp_path: Path, monkeypatch) -> None:
    from hnnbench.report import build, claims_check
    from hnnbench.report.analysis import Context
    from hnnbench.report.sweep import NOISE, noise_medians, noise_table
    from synthetic import noise_records

    records = noise_records()
    frame = to_frame(records)
    assert frame["case"].nunique() == len(NOISES)  # noise levels are never pooled
    medians = noise_medians(frame)
    assert len(medians) == 3 * len(NOISES) and set(medians["runs"]) == {1}
    display = noise_table(medians)
    assert list(display.columns)[-4:] == ["0 rel.", "1e-06 rel.", "0.0001 rel.", "0.01 rel."]
    made = NOISE.figure(frame, Context(frame, records, tmp_path), "noise")
    assert made is not None and made.png.read_bytes().startswith(PNG_MAGIC)
    monkeypatch.setattr(build, "GROUP_FIGURES", ())  # tested elsewhere
    monkeypatch.setattr(claims_check, "FIGURES", ())
    build_report(records, tmp_path / "out")
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "## Noise sweep" in markdown and "Regularisation (rcond) sweep" not in markdown
