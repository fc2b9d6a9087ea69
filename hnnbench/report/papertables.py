"""Paper-shaped tables: each published table in its own layout, our values beside the paper's.

A ``Layout`` says which fields of a published row make the rows and the column groups and which
metrics (error, time) each group shows, as sub-columns or as sub-rows; the published rows of the
table give the positions (in the order of ``paper_tables.csv``) and the comparison (``compare``)
gives our cell for each. Each cell: our median with the min–max over seeds in the median's
mantissa (``1.2e-08 [0.9–1.5]``), the published mean beside it (Markdown: a ``paper`` column;
LaTeX: a second, italic line), ``†`` when our cell is not at the published size (a footnote says
the sizes) and ``(> 10×)`` when a same-size error is flagged. A position without a cell of ours
prints "—". A table not in ``LAYOUTS`` gets a generic layout: the fields its rows vary in as rows,
methods as columns.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from hnnbench.report.document import Table, fmt, latex_escape
from hnnbench.report.frame import format_domain
from hnnbench.report.labels import NAMES, method_rank
from hnnbench.report.published import parse_domain, parse_params

#: column (or row) heads; the caption says what they are
METRICS = {"error": "error", "time": "time [s]"}
METRIC_CAPTION = {"error": "error: test relative L2 error of H", "time": "time: training time"}

METRIC_COLUMNS = {
    "error": ("ours_test_H_rel_l2", "test_H_rel_l2"),
    "time": ("ours_train_time_s", "train_time_s"),
}
FIELD_NAMES = {
    "method": "Method",
    "system": "System",
    "setting": "Parameters; domain",
    "hidden_width": "Width",
    "train_points": "Train points",
    "alpha": "α",
    "frequency": "Frequency",
    "dt_obs": "h",
    "correction": "Correction",
}
GREEK = {"alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ"}


@dataclass(frozen=True)
class Layout:
    rows: tuple[str, ...]  # fields that make a row
    columns: tuple[str, ...]  # fields that make a column group
    metrics: tuple[str, ...]  # per column group (or per row when metric_rows)
    metric_rows: bool = False
    landscape: bool = False


LAYOUTS = {
    "headline_chaotic": Layout(("method",), ("system",), ("time", "error")),
    "low_dim": Layout(("system", "setting"), ("method",), ("error", "time"), True, True),
    "double_pendulum_width_sweep": Layout(
        ("hidden_width",), ("method",), ("error", "time"), landscape=True
    ),  # fmt: skip
    "henon_heiles_alpha_sweep": Layout(("alpha",), ("method",), ("error", "time"), landscape=True),
    "pendulum_frequency_sweep": Layout(
        ("frequency", "train_points"), ("method",), ("error", "time"), landscape=True
    ),  # fmt: skip
    "error_correction": Layout(("dt_obs",), ("correction",), ("error",)),
}


def metric_caption(layout: Layout) -> str:
    """What the table's metric heads mean, for its caption."""
    return "; ".join(METRIC_CAPTION[m] for m in layout.metrics)


@dataclass
class Cell:
    ours: tuple[float, float, float] | None  # median, min, max; None: no cell of ours
    paper: float
    dagger: bool = False
    flagged: bool = False
    metric: str = "error"  # errors print in scientific notation, times plain


@dataclass
class PaperTable:
    table: str
    caption: str
    layout: Layout
    row_labels: list[list[str]]  # one list of labels per body row
    groups: list[str]  # column group labels
    metrics: list[str]  # metrics per group (empty with metric_rows)
    cells: list[list[Cell]]  # per body row, per (group, metric)
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- fields and positions


def params_text(params: str) -> str:
    parts = [p.strip() for p in str(params).replace(";", ",").split(",") if p.strip()]
    out = []
    for part in parts:
        name, _, value = part.rpartition("=")
        out.append(f"{GREEK.get(name, name)}={value}" if name else part)
    return ", ".join(out)


def row_fields(row: pd.Series) -> dict[str, Any]:
    """The fields a layout can use: the row's columns and its parsed parameters."""
    fields: dict[str, Any] = {k: row[k] for k in ("method", "system", "hidden_width",
                                                   "train_points", "test_points")}  # fmt: skip
    fields.update(parse_params(row["params"]))
    domain = format_domain(parse_domain(row["domain"]))
    fields["setting"] = f"{params_text(row['params'])}; {domain}"
    return fields


def label(value: Any) -> str:
    """A row or column label: a display name, or the value (1.0 → '1')."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return NAMES.get(str(value), fmt(value))


def generic_layout(rows: pd.DataFrame) -> Layout:
    """Rows: the fields the table's rows vary in (besides the method); columns: methods."""
    fields = pd.DataFrame([row_fields(r) for _, r in rows.iterrows()]).astype(str)
    varying = tuple(c for c in fields.columns if c != "method" and fields[c].nunique() > 1)
    metrics = ("error", "time") if rows["train_time_s"].notna().any() else ("error",)
    return Layout(varying or ("system",), ("method",), metrics, landscape=True)


def ordered(keys: Sequence[tuple[Any, ...]], names: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """Distinct keys in first-appearance order (the CSV's); methods in the paper's order."""
    unique = list(dict.fromkeys(keys))
    if names == ("method",):
        unique.sort(key=lambda key: method_rank(key[0]))
    return unique


def published_key(row: Mapping[str, Any], prefix: str = "") -> tuple[Any, ...]:
    """A published row's identity; ``prefix='published_'`` reads it from a comparison row."""

    def get(key: str) -> Any:
        return row[f"{prefix}{key}"] if prefix and key != "method" else row[key]

    sizes = (int(float(get(k))) for k in ("hidden_width", "train_points", "test_points"))
    return (str(get("params")), str(get("domain")), str(row["method"]), *sizes)


def our_rows(data: pd.DataFrame) -> dict[tuple[Any, ...], pd.Series]:
    """Per published cell, the comparison row that fills it: a same-size one first, then the
    one with most seeds."""
    if data.empty:
        return {}
    best = data.assign(_rank=~data["comparable"]).sort_values(["_rank", "seeds"],
                                                              ascending=[True, False])  # fmt: skip
    out: dict[tuple[Any, ...], pd.Series] = {}
    for _, row in best.iterrows():
        if pd.isna(row.get("published_params")):
            continue
        out.setdefault(published_key(row, "published_"), row)
    return out


def make_cell(paper_row: pd.Series, ours: pd.Series | None, metric: str) -> Cell:
    column, published = METRIC_COLUMNS[metric]
    value = None
    if ours is not None:
        value = (float(ours[column]), float(ours[f"{column}_min"]), float(ours[f"{column}_max"]))
    flagged = bool(ours is not None and metric == "error" and ours["flag"])
    dagger = bool(ours is not None and not ours["comparable"])
    return Cell(value, float(paper_row[published]), dagger, flagged, metric)


def paper_table(
    table: str, data: pd.DataFrame, published: pd.DataFrame, caption: str, machine: str
) -> PaperTable:
    """The paper-shaped version of ``table`` with our cells (``data``: comparison rows)."""
    rows = published[published["table"] == table].reset_index(drop=True)
    layout = LAYOUTS.get(table) or generic_layout(rows)
    fields = [row_fields(r) for _, r in rows.iterrows()]
    row_keys = ordered([tuple(f.get(k) for k in layout.rows) for f in fields], layout.rows)
    groups = ordered([tuple(f.get(k) for k in layout.columns) for f in fields], layout.columns)
    position = {
        (tuple(f.get(k) for k in layout.rows), tuple(f.get(k) for k in layout.columns)): i
        for i, f in enumerate(fields)
    }
    ours = our_rows(data[data["table"] == table])
    metric_sets = [(m,) for m in layout.metrics] if layout.metric_rows else [layout.metrics]
    labels, body = [], []
    for key in row_keys:
        for metrics in metric_sets:
            cells = []
            for group in groups:
                index = position.get((key, group))
                for metric in metrics:
                    if index is None:
                        cells.append(Cell(None, math.nan))
                        continue
                    paper_row = rows.loc[index]
                    cells.append(make_cell(paper_row, ours.get(published_key(paper_row)), metric))
            names = [label(v) for v in key]
            labels.append(names + ([METRICS[metrics[0]]] if layout.metric_rows else []))
            body.append(cells)
    blank_repeats(labels)
    group_labels = [" ".join(label(v) for v in g) for g in groups]
    shaped = PaperTable(
        table, caption, layout, labels, group_labels,
        [] if layout.metric_rows else list(layout.metrics), body,
    )  # fmt: skip
    shaped.notes = notes(data[data["table"] == table], machine)
    return shaped


def blank_repeats(labels: list[list[str]]) -> None:
    """A leading label equal to the one above is left blank (the paper's grouped rows)."""
    for i in range(len(labels) - 1, 0, -1):
        same = 0
        while same < len(labels[i]) - 1 and labels[i][same] == labels[i - 1][same]:
            same += 1
        labels[i][:same] = [""] * same


def notes(data: pd.DataFrame, machine: str) -> list[str]:
    """The table's footnotes: what a cell shows, the † sizes, the hardware of the times."""
    out = [
        "Ours: median [min–max over seeds, in the median's mantissa]; paper: the published mean."
        f" (> 10×) / *: a same-size error more than 10× off the published one. Times: {machine}."
    ]
    cut = data[~data["comparable"] & data["published_cell"].str.startswith("not comparable")]
    if not cut.empty:
        sizes = "; ".join(
            dict.fromkeys(t.removeprefix("not comparable: ") for t in cut["published_cell"])
        )
        out.append(f"†: not comparable, excluded from the fidelity verdict: {sizes}.")
    return out


# ---------------------------------------------------------------- cell text


def _mantissa(x: float) -> str | None:
    if 1 <= x < 9.95:
        return f"{x:.1f}"
    if 9.95 <= x < 99.5:
        return f"{x:.0f}"
    if 0.0995 <= x < 1:
        return f"{x:.2f}"
    return None


def _plain(x: float) -> str:
    """A time in plain notation: two significant digits below 100 s, whole seconds above."""
    return f"{x:.0f}" if abs(x) >= 100 else f"{x:.2g}"


def value_parts(
    median: float, low: float, high: float, scientific: bool = True
) -> tuple[str, int | None, str]:
    """(median text, power of ten or None, spread text): '1.2', -8, '0.9–1.5'; without
    ``scientific`` a number in [0.01, 1e5) is plain: '43.1', None, '40.2–45'."""
    if math.isnan(median):
        return "—", None, ""
    plain = not scientific and 1e-2 <= abs(median) < 1e5
    if plain:  # times: two significant digits keep a landscape sweep of 8 columns on the page
        spread = "" if low == high or math.isnan(low) else f"{_plain(low)}–{_plain(high)}"
        return _plain(median), None, spread
    if median == 0 or math.isinf(median):
        spread = "" if low == high or math.isnan(low) else f"{fmt(low)}–{fmt(high)}"
        return fmt(median), None, spread
    power = math.floor(math.log10(abs(median)))
    scale = 10.0**power
    head = _mantissa(median / scale) or f"{median / scale:.1f}"
    if low == high or math.isnan(low):
        return head, power, ""
    low_text, high_text = _mantissa(low / scale), _mantissa(high / scale)
    if low_text is None or high_text is None:  # a spread beyond the mantissa: in full
        return head, power, f"{fmt(low)}–{fmt(high)}"
    return head, power, f"{low_text}–{high_text}"


def ours_markdown(cell: Cell) -> str:
    if cell.ours is None:
        return "—"
    head, power, spread = value_parts(*cell.ours, scientific=cell.metric == "error")
    text = head if power is None else f"{head}e{power:+03d}"
    text += f" [{spread}]" if spread else ""
    return text + (" †" if cell.dagger else "") + (" (> 10×)" if cell.flagged else "")


def ours_latex(cell: Cell) -> str:
    if cell.ours is None:
        return "---"
    head, power, spread = value_parts(*cell.ours, scientific=cell.metric == "error")
    number = f"${head}$" if power is None else f"${head}\\times10^{{{power}}}$"
    if head == "inf":
        number = "$\\infty$"
    text = number + (f" {{[}}{latex_escape(spread)}]" if spread else "")
    # marks as superscripts (a flag in words would widen its column by a third)
    return text + ("$^\\dagger$" if cell.dagger else "") + ("$^\\ast$" if cell.flagged else "")


def paper_markdown(cell: Cell) -> str:
    """The published value, to its 3 significant digits (errors in scientific notation)."""
    if cell.metric == "error" and math.isfinite(cell.paper) and cell.paper != 0:
        return f"{cell.paper:.2e}"
    return fmt(cell.paper)


def paper_latex(cell: Cell) -> str:
    value = cell.paper
    if math.isnan(value):
        return "---"
    if value == 0 or (cell.metric != "error" and 1e-2 <= abs(value) < 1e5):
        return f"${fmt(value)}$"
    power = math.floor(math.log10(abs(value)))
    return f"${value / 10.0**power:.3g}\\times10^{{{power}}}$"


# ---------------------------------------------------------------- writers


def markdown_frame(shaped: PaperTable) -> pd.DataFrame:
    """The Markdown (and CSV) version: our column and a ``paper`` column per (group, metric)."""
    label_names = [FIELD_NAMES.get(k, k) for k in shaped.layout.rows]
    label_names += ["metric"] if shaped.layout.metric_rows else []
    columns: dict[str, list[str]] = {name: [] for name in label_names}
    heads = [f"{g}: {METRICS[m]}" for g in shaped.groups for m in shaped.metrics]
    if len(shaped.metrics) <= 1:  # one metric (or metrics as rows): the groups alone
        heads = list(shaped.groups)
    for head in heads:
        columns[head], columns[f"{head}, paper"] = [], []
    for labels, cells in zip(shaped.row_labels, shaped.cells, strict=True):
        for name, text in zip(label_names, labels, strict=True):
            columns[name].append(text)
        for head, cell in zip(heads, cells, strict=True):
            columns[head].append(ours_markdown(cell))
            columns[f"{head}, paper"].append(paper_markdown(cell))
    return pd.DataFrame(columns)


def latex_table(shaped: PaperTable, stem: str) -> str:
    """A booktabs ``table`` (needs ``booktabs``): two header rows when groups have several
    metrics, each cell ours over the published value (italic), footnotes under the table."""
    n_labels = len(shaped.row_labels[0]) if shaped.row_labels else 1
    per_group = max(len(shaped.metrics), 1)
    n_data = len(shaped.groups) * per_group
    lines = [
        "\\begin{table}[htbp]",
        "\\centering",
        "\\footnotesize",
        f"\\caption{{{latex_escape(f'{shaped.caption} ({metric_caption(shaped.layout)})')}}}",
        f"\\label{{tab:{stem.replace('_', '-')}}}",
        "\\setlength{\\tabcolsep}{4pt}",
        f"\\begin{{tabular}}{{{'l' * n_labels}{'r' * n_data}}}",
        "\\toprule",
    ]
    label_names = [FIELD_NAMES.get(k, k) for k in shaped.layout.rows]
    label_names += [""] if shaped.layout.metric_rows else []
    if per_group > 1:
        tops = [f"\\multicolumn{{{per_group}}}{{c}}{{{latex_escape(g)}}}" for g in shaped.groups]
        lines.append(" & ".join([""] * n_labels + tops) + " \\\\")
        rules = [
            f"\\cmidrule(lr){{{n_labels + 1 + i * per_group}-{n_labels + (i + 1) * per_group}}}"
            for i in range(len(shaped.groups))
        ]
        lines.append(" ".join(rules))
        heads = [latex_escape(METRICS[m]) for _ in shaped.groups for m in shaped.metrics]
    else:
        heads = [latex_escape(g) for g in shaped.groups]
    lines.append(" & ".join([latex_escape(n) for n in label_names] + heads) + " \\\\")
    lines.append("\\midrule")
    for labels, cells in zip(shaped.row_labels, shaped.cells, strict=True):
        texts = [latex_escape(t) for t in labels]
        texts += [stacked(ours_latex(c), paper_latex(c)) for c in cells]
        lines.append(" & ".join(texts) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}", "", "\\smallskip"]
    note = " ".join(latex_escape(n) for n in shaped.notes)
    lines.append(f"\\parbox{{\\linewidth}}{{\\scriptsize {note} Second line, italic: published.}}")
    lines.append("\\end{table}")
    return "\n".join(lines) + "\n"


def stacked(top: str, bottom: str) -> str:
    """Two lines in one cell, right-aligned: ours over the published value (italic)."""
    return f"\\begin{{tabular}}[t]{{@{{}}r@{{}}}}{top}\\\\\\textit{{{bottom}}}\\end{{tabular}}"


def as_block(shaped: PaperTable, stem: str) -> Table:
    """The report block: Markdown from ``markdown_frame``, its own LaTeX."""
    caption = f"{shaped.caption}: paper-shaped ({metric_caption(shaped.layout)})"
    return Table(stem, caption, markdown_frame(shaped), latex=latex_table(shaped, stem),
                 landscape=shaped.layout.landscape)  # fmt: skip
