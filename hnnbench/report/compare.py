"""Our regenerated values beside the published ones (``hnnbench/data/paper_tables.csv``).

Our value of a cell is the median over seeds (complete runs) of test rel-L2(H) and of training
time; the published value is the paper's mean (10 runs for sampled methods, 1 for Adam). A cell is
matched to the published cell of the same table, system, parameters, domain and method with the
nearest width and training points (|log ratio| summed); the table says when the match is not
exact. Ratios are ours / published; a ratio above 10 or below 1/10 is flagged.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hnnbench.report.document import Code, Para, Section, Table, fmt
from hnnbench.report.experiments import TABLE_TITLES, paper_experiment
from hnnbench.report.tables import ratio, spread

PUBLISHED_CSV = Path(__file__).resolve().parents[1] / "data" / "paper_tables.csv"
FLAG_FACTOR = 10.0
_INTERVAL = re.compile(r"\[([^,\]]+),([^\]]+)\](?:\^(\d+))?")


def load_published(path: Path = PUBLISHED_CSV) -> pd.DataFrame:
    """The published numbers, one row per (table, system, params, domain, method, width, points)."""
    return pd.read_csv(path, comment=None)


def parse_number(text: str) -> float:
    """'-2pi' → -2π, 'pi' → π, '0.5' → 0.5."""
    text = text.strip().replace(" ", "")
    if text.endswith("pi"):
        factor = text[:-2]
        scale = {"": 1.0, "-": -1.0, "+": 1.0}.get(factor)
        return math.pi * (float(factor) if scale is None else scale)
    return float(text)


def parse_domain(text: str) -> list[list[float]]:
    """'[-2pi,2pi]x[-1,1]', '[-5,5]^4', 'q in [-pi,pi]^2, p in [-1,1]^2' → a list of boxes."""
    box = []
    for low, high, power in _INTERVAL.findall(text):
        box += [[parse_number(low), parse_number(high)]] * int(power or 1)
    return box


def parse_params(text: str) -> dict[str, float | str]:
    """'alpha=-2,beta=-1' → dict; chained 'm1=m2=g=1' gives every name the value; parts may be
    separated by ';' too, and a value that is not a number stays text ('data=snapshots')."""
    params: dict[str, float | str] = {}
    for part in re.split(r"[,;]", str(text)):
        names = part.strip().split("=")
        if len(names) < 2:
            continue
        value = names[-1].strip()
        try:
            parsed: float | str = float(value)
        except ValueError:
            parsed = value
        params.update({name.strip(): parsed for name in names[:-1]})
    return params


def same_value(ours: Any, published: float | str) -> bool:
    if isinstance(published, str) or ours is None or isinstance(ours, str):
        return str(ours) == str(published)
    return math.isclose(float(ours), published, rel_tol=1e-9, abs_tol=1e-12)


def same_params(ours: Mapping[str, Any], published: Mapping[str, float | str]) -> bool:
    return all(key in ours and same_value(ours[key], value) for key, value in published.items())


def match_params(record: Mapping[str, Any]) -> dict[str, Any]:
    """The system's parameters plus, for records that have them, the data source, the
    observation step and the correction (the published cells of snapshot tables name them)."""
    params = dict(record.get("system_params") or {})
    if record.get("data_source") is not None:
        params.update(
            data=record["data_source"],
            dt_obs=record.get("dt_obs"),
            correction=record.get("correction"),
        )
    return params


def same_domain(ours: Sequence[Sequence[float]] | None, published: list[list[float]]) -> bool:
    if not ours or len(ours) != len(published):
        return False
    return bool(np.allclose(np.asarray(ours, float), np.asarray(published, float), atol=1e-3))


def closest(cell: Mapping[str, Any], published: pd.DataFrame) -> pd.Series | None:
    """The published row for ``cell``: same table/system/params/domain/method, nearest size."""
    rows = published[
        (published["table"] == cell["table"])
        & (published["system"] == cell["system"])
        & (published["method"] == cell["method"])
    ]
    rows = rows[
        [
            same_params(cell["system_params"], parse_params(p))
            and same_domain(cell["domain"], parse_domain(d))
            for p, d in zip(rows["params"], rows["domain"], strict=True)
        ]
    ]
    if rows.empty:
        return None
    distance = np.abs(np.log(rows["hidden_width"] / cell["hidden_width"])) + np.abs(
        np.log(rows["train_points"] / cell["train_points"])
    )
    return rows.loc[distance.idxmin()]


def our_cells(frame: pd.DataFrame, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Median error and time per paper cell (table, system, case, method, width, points)."""
    paper = frame[frame["name"].map(lambda n: paper_experiment(n) is not None)]
    cells = []
    keys = ["group", "system", "case", "method", "hidden_width", "train_points"]
    for _, runs in paper.groupby(keys, sort=False, dropna=False):
        first = runs.iloc[0]
        experiment = paper_experiment(first["name"])
        complete = runs[runs["status"] == "ok"]
        cells.append(
            {
                "table": experiment.table,
                "lite": experiment.lite,
                "group": first["group"],
                "system": first["system"],
                "case": first["case"],
                "system_params": match_params(records[first["idx"]]),
                "domain": first["domain"],
                "method": first["method"],
                "hidden_width": int(first["hidden_width"]),
                "train_points": int(first["train_points"]),
                "test_points": int(first["test_points"]),
                "experiments": sorted(set(runs["name"])),
                "seeds": int(complete["seed"].nunique()),
                "runs": len(runs),
                "error": spread(complete["test_H_rel_l2"].tolist())[0],
                "time_s": spread(complete["train_time_s"].tolist())[0],
            }
        )
    return cells


def flag(error_ratio: float, time_ratio: float) -> str:
    """'error', 'time' or both when ours and the paper differ by more than FLAG_FACTOR."""
    off = [
        name
        for name, value in (("error", error_ratio), ("time", time_ratio))
        if not math.isnan(value) and (value > FLAG_FACTOR or value < 1 / FLAG_FACTOR)
    ]
    return f"> {FLAG_FACTOR:g}× off: {', '.join(off)}" if off else ""


def match_note(cell: Mapping[str, Any], row: pd.Series | None) -> str:
    if row is None:
        return "no published cell"
    if row["hidden_width"] == cell["hidden_width"] and row["train_points"] == cell["train_points"]:
        return "exact"
    return f"closest: width {row['hidden_width']}, points {row['train_points']}"


def compare(frame: pd.DataFrame, records: Sequence[Mapping[str, Any]], published: pd.DataFrame):
    """One row per our cell with the published cell beside it (numbers, not strings)."""
    rows = []
    for cell in our_cells(frame, records):
        row = closest(cell, published)
        paper_error = float(row["test_H_rel_l2"]) if row is not None else math.nan
        paper_time = float(row["train_time_s"]) if row is not None else math.nan
        error_ratio, time_ratio = (
            ratio(cell["error"], paper_error),
            ratio(cell["time_s"], paper_time),
        )
        rows.append(
            {
                **{k: cell[k] for k in ("table", "lite", "group", "system", "case", "method")},
                **{k: cell[k] for k in ("hidden_width", "train_points", "seeds", "runs")},
                "ours_test_H_rel_l2": cell["error"],
                "paper_test_H_rel_l2": paper_error,
                "error_ratio": error_ratio,
                "ours_train_time_s": cell["time_s"],
                "paper_train_time_s": paper_time,
                "time_ratio": time_ratio,
                "flag": flag(error_ratio, time_ratio),
                "published_cell": match_note(cell, row),
                "paper_seeds": int(row["seeds"]) if row is not None else None,
                "paper_hardware": row["hardware"] if row is not None else None,
                "experiments": " ".join(cell["experiments"]),
            }
        )
    return pd.DataFrame(rows)


def display(data: pd.DataFrame) -> pd.DataFrame:
    cases = data["case"].nunique() > 1
    table = pd.DataFrame({"system": data["system"]})
    if cases:
        table["parameters; domain"] = data["case"]
    table["method"] = data["method"]
    table["width"] = data["hidden_width"].map(fmt)
    table["points"] = data["train_points"].map(fmt)
    table["seeds"] = [f"{s}/{r}" for s, r in zip(data["seeds"], data["runs"], strict=True)]
    table["ours rel-L2(H)"] = data["ours_test_H_rel_l2"].map(fmt)
    table["paper rel-L2(H)"] = data["paper_test_H_rel_l2"].map(fmt)
    table["ratio"] = data["error_ratio"].map(lambda v: fmt(v, suffix="×"))
    table["ours time [s]"] = data["ours_train_time_s"].map(fmt)
    table["paper time [s]"] = data["paper_train_time_s"].map(fmt)
    table["time ratio"] = data["time_ratio"].map(lambda v: fmt(v, suffix="×"))
    table["flag"] = data["flag"]
    table["published cell"] = data["published_cell"]
    return table


def uncovered(data: pd.DataFrame, published: pd.DataFrame, table: str) -> int:
    """Published cells of ``table`` that no cell of ours matched exactly."""
    exact = data[(data["table"] == table) & (data["published_cell"] == "exact")]
    return max(0, int((published["table"] == table).sum()) - len(exact))


def regenerate(table: str, lite: bool, names: Sequence[str], results_dir: str) -> Code:
    """The commands that regenerate one paper table (runs, then the report)."""
    flag_lite = " --lite" if lite else ""
    lines = [f"hnnbench -m experiment={name} results_dir={results_dir}" for name in names]
    lines.append(
        f"python -m hnnbench.paper{flag_lite} --results-dir {results_dir} --only {table}"
        " --report-only"
    )
    return Code(lines)


def paper_sections(
    frame: pd.DataFrame,
    records: Sequence[Mapping[str, Any]],
    cuts: Mapping[str, str],
    results_dir: str = "results",
) -> list[Section]:
    """One section per paper table that has runs: ours, published, ratio, flag side by side."""
    published = load_published()
    data = compare(frame, records, published)
    if data.empty:
        return []
    sections = [Section("Paper comparison", [Para(intro())])]
    for (table, lite), rows in data.groupby(["table", "lite"], sort=False):
        title = TABLE_TITLES.get(table, table) + (" — lite" if lite else "")
        blocks: list[Any] = [Para(table_summary(rows, published, table))]
        names = sorted({n for e in rows["experiments"] for n in e.split()})
        blocks += [Para(f"`{name}`: {cuts[name]}.") for name in names if cuts.get(name)]
        blocks.append(regenerate(table, bool(lite), names, results_dir))
        stem = f"paper_{table}{'_lite' if lite else ''}"
        blocks.append(Table(stem, title, display(rows), rows.reset_index(drop=True)))
        sections.append(Section(title, blocks, level=3))
    return sections


def intro() -> str:
    return (
        "Ours: median over seeds of test rel-L2(H) and of training time (fit only) on this "
        "machine; paper: the published mean (10 runs for sampled methods, 1 for Adam) on the "
        f"paper's hardware. Ratio = ours / paper; cells more than {FLAG_FACTOR:g}× off are "
        "flagged. Times are not comparable across hardware (the paper used a 64-thread node or "
        "a GPU). `published cell` says whether the published cell has the same width and "
        "training points (`exact`) or is the nearest one (lite runs use smaller sizes)."
    )


def table_summary(rows: pd.DataFrame, published: pd.DataFrame, table: str) -> str:
    flagged = int((rows["flag"] != "").sum())
    hardware = sorted({h for h in rows["paper_hardware"].dropna()})
    missing = uncovered(rows, published, table)
    names = sorted(set(" ".join(rows["experiments"]).split()))
    return (
        f"{len(rows)} cells, {flagged} flagged (> {FLAG_FACTOR:g}× off in error or time); "
        f"{missing} published cells of `{table}` have no exactly matching cell here. "
        f"Experiments: {', '.join(f'`{n}`' for n in names)}. "
        f"Published hardware: {'; '.join(hardware) or '—'}."
    )
