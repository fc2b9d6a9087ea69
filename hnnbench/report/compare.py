"""Our regenerated values beside the published ones (``hnnbench/data/paper_tables.csv``).

A cell is every run of a paper experiment that differs only in its seed, pooled across experiment
folders (a run two experiments share counts once); it is matched by content, not by folder, to
every published cell of any table with its system, parameters, domain, method, width and
train/test points. Such a cell is *comparable* unless it is a backprop run stopped before the
published step budget or trained on noisy data; a cell at no published size is shown beside the
nearest published cell, not comparable. Only errors of comparable cells are flagged
(``FLAG_FACTOR``) and judged (``FIDELITY_FACTOR``); times are ratios, never flagged: this machine
is not the paper's (its threads and DGEMM rate are printed beside the paper's hardware).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from hnnbench.experiments import EXPERIMENTS, TABLE_TITLES, experiment_command, paper_experiment
from hnnbench.experiments import pipeline_command as pipeline
from hnnbench.record import OUTPUT_KEYS
from hnnbench.report import papertables
from hnnbench.report.analysis import Context
from hnnbench.report.document import Block, Code, Items, Para, Section, Table, fmt
from hnnbench.report.numbers import as_float, ratio, seed_spread
from hnnbench.report.published import load_published, parse_domain, parse_params

#: errors of comparable cells further than this factor from the published mean are flagged
FLAG_FACTOR = 10.0
#: the fidelity verdict: a comparable cell within this factor of the published mean
FIDELITY_FACTOR = 3.0
_STEPS = re.compile(r"(\d+) steps")
#: config keys that only pick a seed: runs that differ in them are one cell
SEED_KEYS = ("seed", "data_seed", "model_seed", "eval_seed")
#: a config group given as a dict (``data: {source: snapshots, …}``) is named by one of these
NAME_KEYS = ("name", "source", "kind", "type", "_name_")
#: published parameters that records hold under another field name
RECORD_FIELDS = {"data": "data_source"}
#: record fields of noise on the training data: the published cells are all noise-free
NOISE_FIELDS = ("noise_std", "state_noise_std")
#: what identifies a published cell (``published_*`` columns of the comparison)
PUBLISHED_KEYS = ("params", "domain", "hidden_width", "train_points", "test_points")
OURS_ERROR = ("ours_test_H_rel_l2", "ours_test_H_rel_l2_min", "ours_test_H_rel_l2_max")
OURS_TIME = ("ours_train_time_s", "ours_train_time_s_min", "ours_train_time_s_max")


def _leaves(tree: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    if isinstance(tree, Mapping):
        return [leaf for key, value in tree.items() for leaf in _leaves(value, (*path, str(key)))]
    return [(path, tree)]


def record_value(record: Mapping[str, Any], key: str) -> Any:
    """The value of a published parameter in a record: the system's parameter, else a record
    field, else the shallowest config entry of that name (a config group given as a dict by its
    name, e.g. ``data: {source: snapshots}`` for ``data=snapshots``); None when absent."""
    params = record.get("system_params") or {}
    if key in params:
        return params[key]
    field = RECORD_FIELDS.get(key, key)
    if record.get(field) is not None and not isinstance(record.get(field), (Mapping, list)):
        return record[field]
    found = [(len(path), value) for path, value in _leaves(record.get("config") or {})
             if path and path[-1] == key]  # fmt: skip
    if found:
        return min(found, key=lambda item: item[0])[1]
    group = (record.get("config") or {}).get(key)
    if isinstance(group, Mapping):
        return next((group[n] for n in NAME_KEYS if group.get(n) is not None), None)
    return None


def same_value(ours: Any, published: float | str) -> bool:
    if ours is None:
        return False
    if isinstance(published, str):
        return str(ours).strip().lower() == published.lower()
    return math.isclose(as_float(ours), published, rel_tol=1e-9, abs_tol=1e-12)


def same_params(record: Mapping[str, Any], published: Mapping[str, float | str]) -> bool:
    return all(same_value(record_value(record, k), v) for k, v in published.items())


def same_domain(ours: Sequence[Sequence[float]] | None, published: list[list[float]]) -> bool:
    if not ours or len(ours) != len(published):
        return False
    return bool(np.allclose(np.asarray(ours, float), np.asarray(published, float), atol=1e-3))


def published_steps(row: pd.Series) -> int | None:
    """A backprop row's step budget, from its note ('… 180000 steps, …')."""
    found = _STEPS.search(str(row.get("note", "")))
    return int(found.group(1)) if found else None


# ---------------------------------------------------------------- our cells


def cell_identity(record: Mapping[str, Any]) -> str:
    """The resolved config without seeds and output paths: runs equal in it form one cell."""
    config = {
        k: v for k, v in (record.get("config") or {}).items() if k not in (*OUTPUT_KEYS, *SEED_KEYS)
    }
    return json.dumps(config, sort_keys=True, default=str)


def steps_done(record: Mapping[str, Any]) -> float:
    """The steps a backprop run trained (``fit_info``, else its learning curve); NaN if unknown."""
    info = record.get("fit_info") or {}
    if info.get("steps_done") is not None:
        return float(info["steps_done"])
    curve = record.get("learning_curve") or []
    return float(curve[-1]["step"]) if curve and "step" in curve[-1] else math.nan


def our_cells(frame: pd.DataFrame, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Median, min and max of error and time per cell of the paper experiments' runs."""
    paper = frame[frame["name"].map(lambda n: paper_experiment(n) is not None)].copy()
    if paper.empty:
        return []
    paper["lite"] = paper["name"].map(lambda n: paper_experiment(n).lite)
    paper["identity"] = paper["idx"].map(lambda i: cell_identity(records[i]))
    keys = ["lite", "system", "case", "method", "hidden_width", "train_points", "test_points"]
    cells = []
    for _, runs in paper.groupby([*keys, "identity"], sort=False, dropna=False):
        names = sorted(set(runs["name"]))
        runs = runs.drop_duplicates("run_id")  # one run shared by two experiments counts once
        first = runs.iloc[0]
        complete = runs[runs["status"] == "ok"]
        env = [records[i].get("environment") or {} for i in runs["idx"]]
        cells.append(
            {
                **{k: first[k] for k in ("lite", "system", "case", "method", "trainer")},
                **{k: int(first[k]) for k in ("hidden_width", "train_points", "test_points")},
                "record": records[first["idx"]],
                "domain": first["domain"],
                "experiments": names,
                "seeds": int(complete["seed"].nunique()),
                "runs": len(runs),
                "error": seed_spread(complete["test_H_rel_l2"]),
                "time": seed_spread(complete["train_time_s"]),
                "steps": seed_spread(steps_done(records[i]) for i in complete["idx"])[0],
                "threads": sorted(
                    {int(records[i]["threads"]) for i in runs["idx"] if records[i].get("threads")}
                ),  # fmt: skip
                "dgemm": [float(e["dgemm_gflops"]) for e in env if e.get("dgemm_gflops")],
            }
        )
    return cells


# ---------------------------------------------------------------- matching


def size_text(width: Any, train: Any, test: Any) -> str:
    return f"width {width}, {train}/{test} train/test points"


def parsed(published: pd.DataFrame) -> pd.DataFrame:
    """``published`` with its parameters and domain parsed once (``_params``, ``_domain``)."""
    if "_params" in published:
        return published
    return published.assign(
        _params=published["params"].map(parse_params),
        _domain=published["domain"].map(parse_domain),
    )


def candidates(cell: Mapping[str, Any], published: pd.DataFrame) -> pd.DataFrame:
    """Published rows of any table with the cell's system, method, parameters and domain."""
    published = parsed(published)
    rows = published[
        (published["system"] == cell["system"]) & (published["method"] == cell["method"])
    ]
    keep = [
        same_params(cell["record"], params) and same_domain(cell["domain"], domain)
        for params, domain in zip(rows["_params"], rows["_domain"], strict=True)
    ]
    return rows[keep]


def distance(rows: pd.DataFrame, cell: Mapping[str, Any]) -> pd.Series:
    """|log ratio| of width, train and test points, summed (0: the same size)."""
    return sum(
        np.abs(np.log(rows[key].astype(float) / float(cell[key])))
        for key in ("hidden_width", "train_points", "test_points")
    )


def matches(cell: Mapping[str, Any], published: pd.DataFrame) -> list[tuple[pd.Series, bool, str]]:
    """(published row, comparable, note) for every published cell the cell fills: all rows of the
    same size, else the nearest rows (ties kept), marked not comparable; a cell with noise on its
    training data is never comparable (the published cells are noise-free)."""
    rows = candidates(cell, published)
    if rows.empty:
        return []
    found = sized(cell, rows)
    record = cell["record"]
    noise = [f"{k} {as_float(record[k]):g}" for k in NOISE_FIELDS if as_float(record.get(k)) > 0]
    if noise:
        note = f"not comparable: {', '.join(noise)}; published without noise"
        return [(row, False, note) for row, _, _ in found]
    return found


def sized(cell: Mapping[str, Any], rows: pd.DataFrame) -> list[tuple[pd.Series, bool, str]]:
    """The candidate rows of the cell's size (comparable unless a backprop cell stopped before
    the published step budget), else the nearest ones (not comparable)."""
    gap = distance(rows, cell)
    if (gap < 1e-12).any():
        out = []
        for _, row in rows[gap < 1e-12].iterrows():
            budget = published_steps(row) if cell["trainer"] == "backprop" else None
            if budget is not None and cell["steps"] < budget:
                steps = f"{cell['steps']:.0f}"
                out.append(
                    (row, False, f"not comparable: run for {steps} steps, published {budget}")
                )
            else:
                out.append((row, True, "exact"))
        return out
    ours = size_text(cell["hidden_width"], cell["train_points"], cell["test_points"])
    out = []
    for _, row in rows[np.isclose(gap, gap.min())].iterrows():
        theirs = size_text(row["hidden_width"], row["train_points"], row["test_points"])
        out.append((row, False, f"not comparable: run at {ours}; published at {theirs}"))
    return out


def flag(error_ratio: float, comparable: bool = True) -> str:
    """'> 10× off' when a comparable cell's error is further than FLAG_FACTOR from the paper's."""
    off = not math.isnan(error_ratio) and not (1 / FLAG_FACTOR <= error_ratio <= FLAG_FACTOR)
    return f"> {FLAG_FACTOR:g}× off" if comparable and off else ""


def compare(
    frame: pd.DataFrame, records: Sequence[Mapping[str, Any]], published: pd.DataFrame
) -> pd.DataFrame:
    """One row per (our cell, published cell it fills); a cell without any published counterpart
    gets one row under its experiment's table. Numbers, not strings."""
    rows, published = [], parsed(published)
    for cell_id, cell in enumerate(our_cells(frame, records)):
        found = matches(cell, published)
        if not found:
            table = paper_experiment(cell["experiments"][0]).table
            found = [(pd.Series({"table": table}), False, "no published cell")]
        for row, comparable, note in found:
            paper_error = float(row.get("test_H_rel_l2", math.nan))
            paper_time = float(row.get("train_time_s", math.nan))
            error, time = cell["error"], cell["time"]
            error_ratio = ratio(error[0], paper_error)
            rows.append({
                "cell": cell_id, "table": row["table"],
                **{k: cell[k] for k in ("lite", "system", "case", "method", "trainer")},
                **{k: cell[k] for k in ("hidden_width", "train_points", "test_points")},
                **{f"published_{k}": row.get(k) for k in PUBLISHED_KEYS},
                "seeds": cell["seeds"], "runs": cell["runs"],
                **dict(zip(OURS_ERROR, error, strict=True)), "paper_test_H_rel_l2": paper_error,
                "error_ratio": error_ratio,
                **dict(zip(OURS_TIME, time, strict=True)), "paper_train_time_s": paper_time,
                "time_ratio": ratio(time[0], paper_time),
                "comparable": comparable, "flag": flag(error_ratio, comparable),
                "published_cell": note, "steps": cell["steps"],
                "paper_seeds": row.get("seeds"), "paper_hardware": row.get("hardware"),
                "threads": " ".join(map(str, cell["threads"])),
                "dgemm_gflops": float(np.median(cell["dgemm"])) if cell["dgemm"] else math.nan,
                "dgemm_values": cell["dgemm"], "experiments": " ".join(cell["experiments"]),
            })  # fmt: skip
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- fidelity summary


def cell_label(row: Mapping[str, Any]) -> str:
    return (
        f"{row['system']} ({row['case']}), {row['method']}, "
        f"{size_text(row['hidden_width'], row['train_points'], row['test_points'])}"
    )


def fidelity(data: pd.DataFrame) -> dict[str, Any]:
    """Counts of the verdict over distinct cells: comparable ones (their worst ratio over the
    published cells they fill), within FIDELITY_FACTOR or not, and the excluded ones."""
    if data.empty:
        return {"comparable": 0, "within": 0, "outside": [], "excluded": 0, "unpublished": 0}
    same = data[data["comparable"]].copy()
    same["off"] = np.abs(np.log(same["error_ratio"].astype(float)))
    worst = same.sort_values("off", ascending=False, na_position="first").drop_duplicates("cell")
    tables = same.groupby("cell")["table"].agg(lambda t: sorted(set(t)))
    worst = worst.assign(tables=worst["cell"].map(tables))
    inside = worst["error_ratio"].between(1 / FIDELITY_FACTOR, FIDELITY_FACTOR)
    others = data[~data["cell"].isin(same["cell"])].drop_duplicates("cell")
    return {
        "comparable": len(worst),
        "within": int(inside.sum()),
        "outside": [row for _, row in worst[~inside].sort_values("cell").iterrows()],
        "excluded": int((others["published_cell"] != "no published cell").sum()),
        "unpublished": int((others["published_cell"] == "no published cell").sum()),
    }


#: a cell whose seeds spread over this factor (max / min) gets the heavy-tail note
HEAVY_TAIL_SPREAD = 5.0


def outside_line(row: Mapping[str, Any]) -> str:
    """A cell outside the fidelity band: its ratio and the seed spread as ratios."""
    paper = row["paper_test_H_rel_l2"]
    low, high = (
        ratio(row["ours_test_H_rel_l2_min"], paper),
        ratio(row["ours_test_H_rel_l2_max"], paper),
    )
    tables = ", ".join(f"`{t}`" for t in row["tables"]) + (" (lite)" if row["lite"] else "")
    line = (
        f"{cell_label(row)} [{tables}]: {fmt(row['error_ratio'], suffix='×')} the published "
        f"{fmt(paper)} (ours {fmt(row['ours_test_H_rel_l2'])}; seeds {fmt(low)}–"
        f"{fmt(high, suffix='×')}, {row['seeds']} seed(s))"
    )
    return line + heavy_tail_note(row, low, high)


def heavy_tail_note(row: Mapping[str, Any], low: float, high: float) -> str:
    """What weakens the comparison of a cell outside the band: our median of few seeds is set
    beside a published *mean*, which one bad seed of ten can dominate (README: "Fidelity
    outliers" has two such cells rerun with ten seeds)."""
    runs = as_float(row.get("paper_seeds"))
    notes = []
    if np.isfinite(runs) and row["seeds"] < runs:
        notes.append(f"our median of {row['seeds']} seed(s) against a mean of {int(runs)} runs")
    if np.isfinite(low) and np.isfinite(high) and low > 0 and high / low >= HEAVY_TAIL_SPREAD:
        notes.append(
            f"our seeds span {fmt(high / low, suffix='×')}: a heavy tail moves a mean far from "
            "a median"
        )
    return "; " + ", and ".join(notes) if notes else ""


def machine_text(data: pd.DataFrame) -> str:
    """This machine beside the paper's: threads and the median DGEMM rate over the records."""
    threads = sorted({int(t) for text in data["threads"] for t in str(text).split()})
    rates = [r for values in data.drop_duplicates("cell")["dgemm_values"] for r in values]
    thread_text = "/".join(map(str, threads)) or "?"
    if not rates:
        rate = "DGEMM rate not measured (records written before hnnbench measured it)"
    else:
        rate = (
            f"float64 DGEMM {np.median(rates):.0f} GFLOP/s (n = 2000, median over "
            f"{len(rates)} records)"
        )
    hardware = sorted({str(h) for h in data.get("paper_hardware", pd.Series()).dropna()})
    plural = "" if thread_text == "1" else "s"
    return (
        f"this machine: {thread_text} thread{plural}, {rate}; paper: {'; '.join(hardware) or '—'}"
    )


def fidelity_summary(data: pd.DataFrame, extra_lines: Sequence[str] = ()) -> Section:
    """The verdict at the top of paper.md; ``extra_lines`` (e.g. the Adam training-curve check)
    are added as further items, and nothing is said of what is not given."""
    counts = fidelity(data)
    n, within = counts["comparable"], counts["within"]
    items = []
    if n:
        items.append(
            f"**{n} cell(s) at their published size** (same system, parameters, domain, method, "
            "width and train/test points; Adam also its step budget): "
            f"{within} within {FIDELITY_FACTOR:g}× of the published mean test rel-L2(H)."
        )
    else:
        items.append("**No cell ran at its published size**: there is no fidelity verdict.")
    items += [f"Not within {FIDELITY_FACTOR:g}×: {outside_line(r)}." for r in counts["outside"]]
    if counts["excluded"]:
        items.append(
            f"{counts['excluded']} cell(s) ran at a size (or budget) no published cell has: not "
            "comparable, excluded from the verdict (marked † in the paper-shaped tables)."
        )
    if counts["unpublished"]:
        items.append(f"{counts['unpublished']} cell(s) have no published counterpart.")
    items += list(extra_lines)
    items.append(
        f"Flags mark errors of same-size cells more than {FLAG_FACTOR:g}× off the published "
        f"mean. Times are ratios, never flagged: {machine_text(data)}."
    )
    return Section("Fidelity summary", [Items(items)])


# ---------------------------------------------------------------- sections


def display(data: pd.DataFrame) -> pd.DataFrame:
    """The long-form comparison: one row per (our cell, published cell)."""
    table = pd.DataFrame({"system": data["system"]})
    if data["case"].nunique() > 1:
        table["parameters; domain"] = data["case"]
    table["method"] = data["method"]
    table["width"] = data["hidden_width"].map(fmt)
    table["points"] = [
        f"{a}/{b}" for a, b in zip(data["train_points"], data["test_points"], strict=True)
    ]
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
    """Published cells of ``table`` that no comparable cell of ours fills."""
    filled = data[(data["table"] == table) & data["comparable"]]
    keys = [f"published_{k}" for k in PUBLISHED_KEYS[:4]] + ["method"]
    return max(0, int((published["table"] == table).sum()) - len(filled.drop_duplicates(keys)))


def regenerate(table: str, lite: bool, names: Sequence[str], results_dir: str) -> Code:
    """The commands that regenerate one paper table (runs, then the report)."""
    lines = [" ".join(experiment_command(name, results_dir)) for name in names]
    only = ("--results-dir", results_dir, "--only", table, "--report-only")
    return Code([*lines, pipeline("paper", lite, *only)])


def paper_sections(ctx: Context, fidelity_lines: Sequence[str] = ()) -> list[Section]:
    """The fidelity summary, then one section per paper table that has cells: the paper-shaped
    table (Markdown + LaTeX) and the long-form comparison (CSV). ``fidelity_lines``: further
    items of the summary (the Adam curve check)."""
    published = load_published()
    data = compare(ctx.frame, ctx.records, published)
    if data.empty:
        return []
    sections = [
        fidelity_summary(data, fidelity_lines),
        Section("Paper comparison", [Para(intro())]),
    ]
    for (table, lite), rows in data.groupby(["table", "lite"], sort=False):
        title = TABLE_TITLES.get(table, table) + (" — lite" if lite else "")
        names = sorted({n for e in rows["experiments"] for n in e.split()})
        cuts = {n: EXPERIMENTS[n].cuts for n in names if n in EXPERIMENTS}
        blocks: list[Block] = [Para(table_summary(rows, published, table))]
        blocks += [Para(f"`{name}`: {cut}.") for name, cut in cuts.items() if cut]
        blocks.append(regenerate(table, bool(lite), names, ctx.results_dir))
        suffix = "_lite" if lite else ""
        shaped = papertables.paper_table(table, rows, published, title, machine_text(rows))
        blocks.append(papertables.as_block(shaped, f"paper_table_{table}{suffix}"))
        blocks += [Para(line) for line in shaped.notes]
        long_form = f"paper_{table}{suffix}"
        blocks.append(
            Table(long_form, f"{title}: every cell", display(rows), rows.reset_index(drop=True))
        )
        sections.append(Section(title, blocks, level=3))
    return sections


def intro() -> str:
    return (
        "Ours: median over seeds of test rel-L2(H) and of training time (fit only) on this "
        "machine, with the min–max over seeds in brackets; paper: the published mean (10 runs "
        "for sampled methods, 1 for Adam) on the paper's hardware. Ratio = ours / paper. "
        "Each cell is matched by content (system, parameters, domain, method, width, train/test "
        "points) to every published cell of that size, in any table; a cell at another size is "
        "shown beside the nearest published cell as not comparable (†) and takes no part in "
        f"the verdict. Errors of same-size cells more than {FLAG_FACTOR:g}× off are flagged; "
        "times are never flagged (other hardware). Each table comes paper-shaped (Markdown "
        "here, LaTeX in `tables/paper_table_*.tex`) and long-form (every cell, CSV)."
    )


def table_summary(rows: pd.DataFrame, published: pd.DataFrame, table: str) -> str:
    cells = rows.drop_duplicates("cell")
    same = int(cells["comparable"].sum())
    flagged = int((cells["flag"] != "").sum())
    missing = uncovered(rows, published, table)
    names = sorted(set(" ".join(rows["experiments"]).split()))
    return (
        f"{len(cells)} cells, {same} at a published size, {flagged} flagged (error > "
        f"{FLAG_FACTOR:g}× off); {missing} published cells of `{table}` have no same-size cell "
        f"here. Experiments: {', '.join(f'`{n}`' for n in names)}. Times: "
        f"{machine_text(rows)}."
    )
