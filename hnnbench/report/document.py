"""A tiny document model (sections of paragraphs, tables, figures, code) and its writers.

The same sections render to Markdown and to a self-contained HTML page (figures inlined as base64
PNG); every table is also written as CSV (the numbers) and LaTeX (booktabs, our own writer, no
jinja2 needed).
"""

from __future__ import annotations

import base64
import html
import math
import numbers
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd


@dataclass
class Para:
    text: str


@dataclass
class Note:
    """A visible caveat (a warning box in HTML, a quote in Markdown)."""

    text: str


@dataclass
class Code:
    lines: list[str]


@dataclass
class Table:
    stem: str  # file name of the CSV / LaTeX versions
    caption: str
    display: pd.DataFrame  # formatted strings, as shown
    data: pd.DataFrame | None = None  # the numbers, for the CSV (display when None)


@dataclass
class Figure:
    caption: str
    png: Path
    pdf: Path | None = None


Block = Para | Note | Code | Table | Figure


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)
    level: int = 2


def fmt(value: object, digits: int = 3) -> str:
    """A number for a table cell: '—' for missing, 'inf' kept, 3 significant digits."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return str(int(value))
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        number = float(value)
        if math.isinf(number):
            return "inf" if number > 0 else "-inf"
        if number != 0 and (abs(number) < 1e-2 or abs(number) >= 1e5):
            return f"{number:.{digits - 1}e}"
        if abs(number) >= 10**digits:
            return f"{number:.0f}"
        return f"{number:.{digits}g}"
    return str(value)


# ---------------------------------------------------------------- Markdown


def _md_cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(frame: pd.DataFrame) -> str:
    header = "| " + " | ".join(_md_cell(c) for c in frame.columns) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    rows = ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in frame.to_numpy()]
    return "\n".join([header, rule, *rows])


def _md_block(block: Block, base: Path) -> str:
    if isinstance(block, Para):
        return block.text
    if isinstance(block, Note):
        return "> **Note.** " + block.text
    if isinstance(block, Code):
        return "```\n" + "\n".join(block.lines) + "\n```"
    if isinstance(block, Table):
        files = f"(CSV: `tables/{block.stem}.csv`, LaTeX: `tables/{block.stem}.tex`)"
        return f"**{block.caption}** {files}\n\n{markdown_table(block.display)}"
    return f"![{block.caption}]({block.png.relative_to(base).as_posix()})\n\n*{block.caption}*"


def to_markdown(title: str, sections: list[Section], base: Path) -> str:
    parts = [f"# {title}"]
    for section in sections:
        parts.append("#" * section.level + " " + section.title)
        parts.extend(_md_block(b, base) for b in section.blocks)
    return "\n\n".join(parts) + "\n"


# ---------------------------------------------------------------- HTML

CSS = """
body { font-family: sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.85em; }
th, td { border-bottom: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; }
th { border-bottom: 2px solid #333; }
.note { background: #fff4d6; border-left: 4px solid #e0a800; padding: 0.5em 1em; }
pre { background: #f4f4f4; padding: 0.6em; overflow-x: auto; }
img { max-width: 100%; }
figcaption { font-style: italic; margin-bottom: 1.5em; }
"""


def _inline(text: str) -> str:
    """Escaped text with `code` spans and **bold** turned into tags."""
    escaped = html.escape(text)
    pieces = escaped.split("`")
    for i in range(1, len(pieces), 2):
        pieces[i] = f"<code>{pieces[i]}</code>"
    joined = "".join(pieces)
    bold = joined.split("**")
    for i in range(1, len(bold), 2):
        bold[i] = f"<b>{bold[i]}</b>"
    return "".join(bold)


def html_table(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
        for row in frame.to_numpy()
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _html_block(block: Block) -> str:
    if isinstance(block, Para):
        return f"<p>{_inline(block.text)}</p>"
    if isinstance(block, Note):
        return f'<p class="note"><b>Note.</b> {_inline(block.text)}</p>'
    if isinstance(block, Code):
        return "<pre>" + html.escape("\n".join(block.lines)) + "</pre>"
    if isinstance(block, Table):
        return f"<p><b>{html.escape(block.caption)}</b></p>{html_table(block.display)}"
    data = base64.b64encode(block.png.read_bytes()).decode("ascii")
    caption = html.escape(block.caption)
    return (
        f'<figure><img alt="{caption}" src="data:image/png;base64,{data}">'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def to_html(title: str, sections: list[Section]) -> str:
    body = [f"<h1>{html.escape(title)}</h1>"]
    for section in sections:
        tag = f"h{min(section.level, 6)}"
        body.append(f"<{tag}>{html.escape(section.title)}</{tag}>")
        body.extend(_html_block(b) for b in section.blocks)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


# ---------------------------------------------------------------- LaTeX

_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_LATEX_UNICODE = {
    "×": r"$\times$",
    "–": "--",
    "—": "---",
    "≤": r"$\le$",
    "≥": r"$\ge$",
    "π": r"$\pi$",
    "α": r"$\alpha$",
    "²": r"$^2$",
    "⁴": r"$^4$",
    "Ĥ": r"$\hat{H}$",
    "é": r"\'e",
    "±": r"$\pm$",
}


def latex_escape(text: str) -> str:
    out = "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))
    return "".join(_LATEX_UNICODE.get(ch, ch) for ch in out)


def booktabs(frame: pd.DataFrame, caption: str) -> str:
    """A booktabs ``table`` environment (needs ``\\usepackage{booktabs}``)."""
    lines = [
        r"\begin{table}[htbp]",
        r"\centering",
        rf"\caption{{{latex_escape(caption)}}}",
        r"\begin{tabular}{" + "l" * max(len(frame.columns), 1) + "}",
        r"\toprule",
        " & ".join(latex_escape(c) for c in frame.columns) + r" \\",
        r"\midrule",
    ]
    lines += [" & ".join(latex_escape(v) for v in row) + r" \\" for row in frame.to_numpy()]
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- files


def write_tables(sections: list[Section], folder: Path) -> list[Path]:
    """Every table as ``<stem>.csv`` (numbers) and ``<stem>.tex`` (booktabs) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for block in (b for s in sections for b in s.blocks if isinstance(b, Table)):
        csv_path, tex_path = folder / f"{block.stem}.csv", folder / f"{block.stem}.tex"
        (block.data if block.data is not None else block.display).to_csv(csv_path, index=False)
        tex_path.write_text(booktabs(block.display, block.caption))
        written += [csv_path, tex_path]
    return written


def write_document(title: str, sections: list[Section], folder: Path, stem: str) -> list[Path]:
    """``<stem>.md`` and ``<stem>.html`` in ``folder`` (figure paths relative to it)."""
    folder.mkdir(parents=True, exist_ok=True)
    md_path, html_path = folder / f"{stem}.md", folder / f"{stem}.html"
    md_path.write_text(to_markdown(title, sections, folder))
    html_path.write_text(to_html(title, sections))
    return [md_path, html_path]
