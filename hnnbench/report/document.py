"""A tiny document model (sections of paragraphs, tables, figures, code) and its writers.

The same sections render to Markdown and to a self-contained HTML page (figures inlined as base64
PNG); every table is also written as CSV (the numbers) and, when it fits an A4 page, as LaTeX
(booktabs; a table may bring its own LaTeX, as the paper-shaped tables do).
``tables/all_tables.tex`` is a standalone A4 document that inputs every ``.tex`` written
(landscape pages where a table asks for one): compile it to see them all. Tables are written
by pandas: ``DataFrame.to_markdown`` (tabulate) and ``Styler.to_html`` / ``Styler.to_latex``
(jinja2); every cell goes through ``fmt``, the one number formatter of the report.
"""

from __future__ import annotations

import base64
import html
import math
import numbers
import unicodedata
from contextlib import AbstractContextManager
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
class Items:
    """A bulleted list (Markdown ``-`` items, HTML ``<ul>``)."""

    items: list[str]


@dataclass
class Table:
    stem: str  # file name of the CSV / LaTeX versions
    caption: str
    display: pd.DataFrame  # formatted strings, as shown
    data: pd.DataFrame | None = None  # the numbers, for the CSV (display when None)
    latex: str | None = None  # its own LaTeX table (else booktabs of display, if it fits)
    landscape: bool = False  # its LaTeX needs a landscape page


@dataclass
class Figure:
    caption: str
    png: Path
    pdf: Path | None = None


Block = Para | Note | Code | Items | Table | Figure


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)
    level: int = 2


def fmt(value: object, digits: int = 3, suffix: str = "") -> str:
    """A table cell: '—' for missing, 'inf' kept, 3 significant digits; text passes through.

    ``suffix`` (e.g. '×' for ratios) follows a shown number, never the '—' of a missing one.
    """
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return f"{int(value)}{suffix}"
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        number = float(value)
        if math.isinf(number):
            text = "inf" if number > 0 else "-inf"
        elif number != 0 and (abs(number) < 1e-2 or abs(number) >= 1e5):
            text = f"{number:.{digits - 1}e}"
        elif abs(number) >= 10**digits:
            text = f"{number:.0f}"
        else:
            text = f"{number:.{digits}g}"
        return text + suffix
    return str(value)


def _untrimmed(frame: pd.DataFrame) -> AbstractContextManager[None]:
    # Styler silently drops rows and columns beyond styler.render.max_elements; a table must not
    return pd.option_context("styler.render.max_elements", max(frame.size, 1))


# ---------------------------------------------------------------- Markdown


def _md_cell(value: object) -> str:
    # a pipe or a newline inside a cell would end the cell or the row
    return fmt(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(frame: pd.DataFrame) -> str:
    cells = frame.map(_md_cell).set_axis([_md_cell(c) for c in frame.columns], axis=1)
    # cells are already display strings: tabulate must not re-parse '1.10e-08' as a number
    return cells.to_markdown(index=False, disable_numparse=True)


def _md_block(block: Block, base: Path) -> str:
    if isinstance(block, Para):
        return block.text
    if isinstance(block, Note):
        return "> **Note.** " + block.text
    if isinstance(block, Code):
        return "```\n" + "\n".join(block.lines) + "\n```"
    if isinstance(block, Items):
        return "\n".join(f"- {item}" for item in block.items)
    if isinstance(block, Table):
        tex = f", LaTeX: `tables/{block.stem}.tex`" if table_latex(block) else ""
        files = f"(CSV: `tables/{block.stem}.csv`{tex})"
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
caption { font-weight: bold; text-align: left; padding: 0.3em 0; }
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


def html_table(frame: pd.DataFrame, caption: str = "") -> str:
    styler = frame.style.hide(axis="index").format(fmt, escape="html")
    styler = styler.format_index(escape="html", axis=1)
    if caption:
        styler = styler.set_caption(html.escape(caption))  # Styler does not escape captions
    with _untrimmed(frame):
        # exclude_styles: no <style> block and no random per-table ids, so output is reproducible
        return styler.to_html(exclude_styles=True)


def _html_block(block: Block) -> str:
    if isinstance(block, Para):
        return f"<p>{_inline(block.text)}</p>"
    if isinstance(block, Note):
        return f'<p class="note"><b>Note.</b> {_inline(block.text)}</p>'
    if isinstance(block, Code):
        return "<pre>" + html.escape("\n".join(block.lines)) + "</pre>"
    if isinstance(block, Items):
        return "<ul>" + "".join(f"<li>{_inline(item)}</li>" for item in block.items) + "</ul>"
    if isinstance(block, Table):
        return html_table(block.display, block.caption)
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

#: TeX's special characters, the ASCII ones that the default OT1 text font misprints ('<' as '¡',
#: '>' as '¿', '|' as '—'), and the non-ASCII ones our tables use, as commands pdflatex knows
#: without extra packages or font encodings
LATEX_REPLACEMENTS = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "\n": " ",  # a blank line inside a cell would end the paragraph, i.e. break the table
    "[": "{[}",  # a row starting with '[' would be read as the optional argument of '\\'
    "<": r"$<$", ">": r"$>$", "|": r"$|$", "×": r"$\times$", "–": "--", "—": "---", "−": "$-$",
    "…": r"\dots{}", "→": r"$\to$", "≤": r"$\le$", "≥": r"$\ge$", "≈": r"$\approx$",
    "±": r"$\pm$", "·": r"$\cdot$", "π": r"$\pi$", "α": r"$\alpha$", "β": r"$\beta$",
    "γ": r"$\gamma$", "δ": r"$\delta$", "Δ": r"$\Delta$", "∂": r"$\partial$", "∇": r"$\nabla$",
    "²": r"$^2$", "³": r"$^3$", "⁴": r"$^4$", "₂": r"$_2$", "Ĥ": r"$\hat{H}$", "ẋ": r"$\dot{x}$",
    "ṗ": r"$\dot{p}$", "é": r"\'e", "†": r"$^\dagger$",
}  # fmt: skip


def _latex_char(ch: str) -> str:
    if ch in LATEX_REPLACEMENTS:
        return LATEX_REPLACEMENTS[ch]
    if ch.isascii():
        return ch
    # anything else: its ASCII base letters when it has them ('ü' → 'u'), else its code point,
    # so an unexpected character never stops pdflatex
    plain = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
    return "".join(LATEX_REPLACEMENTS.get(c, c) for c in plain) if plain else f"[U+{ord(ch):04X}]"


def latex_escape(text: object) -> str:
    return "".join(map(_latex_char, str(text)))


def booktabs(frame: pd.DataFrame, caption: str) -> str:
    """A booktabs ``table`` environment by ``Styler.to_latex`` (needs ``\\usepackage{booktabs}``),
    in ``\\small`` type.

    Every cell, header and the caption go through ``latex_escape`` (Styler escapes neither the
    caption nor non-ASCII characters), so the file compiles with a bare ``article`` preamble.
    """
    styler = frame.style.hide(axis="index").format(lambda v: latex_escape(fmt(v)))
    styler = styler.format_index(latex_escape, axis=1)
    with _untrimmed(frame):
        tex = styler.to_latex(
            column_format="l" * max(len(frame.columns), 1),
            position="htbp",
            position_float="centering",
            hrules=True,
            caption=latex_escape(caption),
            environment="table",
        )
    return tex.replace("\\centering\n", "\\centering\n\\small\n", 1)


#: A4 with 2 cm margins, in TeX points: text width portrait / landscape, and text height
PAGE_WIDTH_PT = {False: 483.0, True: 729.0}
PAGE_HEIGHT_PT = {False: 729.0, True: 483.0}
#: what a booktabs table at \small takes: an upper bound of a character's width (Computer
#: Modern at 9 pt: digits 4.6 pt, capitals up to 8.5 pt), the padding of a column, a row's height
CHAR_PT, COLUMN_PAD_PT, ROW_PT, TABLE_EXTRA_PT = 5.6, 12.0, 11.0, 60.0


def booktabs_size(frame: pd.DataFrame) -> tuple[float, float]:
    """An upper estimate of (width, height) in pt of ``booktabs(frame)`` as typeset."""
    widths = [
        max([len(fmt(c)), *(len(fmt(v)) for v in frame[c])]) * CHAR_PT + COLUMN_PAD_PT
        for c in frame.columns
    ]
    return sum(widths), (len(frame) + 1) * ROW_PT + TABLE_EXTRA_PT


def fits(frame: pd.DataFrame, landscape: bool) -> bool:
    width, height = booktabs_size(frame)
    return width <= PAGE_WIDTH_PT[landscape] and height <= PAGE_HEIGHT_PT[landscape]


def table_latex(block: Table) -> tuple[str, bool] | None:
    """(the table's LaTeX, whether it needs a landscape page): its own, or booktabs of its
    display when that fits an A4 page, else None: no ``.tex`` (a long-form dump: CSV only)."""
    if block.latex is not None:
        return block.latex, block.landscape
    for landscape in (False, True):
        if fits(block.display, landscape):
            return booktabs(block.display, block.caption), landscape
    return None


#: the preamble the written tables need (``all_tables.tex``); no font encoding: every special
#: character is escaped to commands the default OT1 fonts have
PREAMBLE = (
    "\\documentclass[a4paper]{article}\n"
    "\\usepackage[margin=2cm]{geometry}\n"
    "\\usepackage{booktabs}\n"
    "\\usepackage{pdflscape}\n"
)
WRAPPER = "all_tables"


def wrapper_document(written: list[tuple[str, bool]]) -> str:
    """A standalone A4 document that inputs every written table, one per page."""
    pages = []
    for stem, landscape in written:
        page = f"\\input{{{stem}}}"
        pages.append(f"\\begin{{landscape}}\n{page}\n\\end{{landscape}}" if landscape else page)
    body = "\n\\clearpage\n".join(pages)
    return f"{PREAMBLE}\\begin{{document}}\n{body}\n\\end{{document}}\n"


# ---------------------------------------------------------------- files


def write_tables(sections: list[Section], folder: Path) -> list[Path]:
    """Every table as ``<stem>.csv`` (numbers) and, where it has LaTeX (``table_latex``), as
    ``<stem>.tex`` in ``folder``; and ``all_tables.tex``, which inputs them all."""
    folder.mkdir(parents=True, exist_ok=True)
    written, tex_stems = [], []
    for block in (b for s in sections for b in s.blocks if isinstance(b, Table)):
        if block.stem == WRAPPER:
            raise ValueError(f"table stem {WRAPPER!r} is reserved for the LaTeX wrapper")
        csv_path = folder / f"{block.stem}.csv"
        (block.data if block.data is not None else block.display).to_csv(csv_path, index=False)
        written.append(csv_path)
        latex = table_latex(block)
        if latex is not None:
            (folder / f"{block.stem}.tex").write_text(latex[0])
            written.append(folder / f"{block.stem}.tex")
            tex_stems.append((block.stem, latex[1]))
    if tex_stems:
        wrapper = folder / f"{WRAPPER}.tex"
        wrapper.write_text(wrapper_document(list(dict.fromkeys(tex_stems))))
        written.append(wrapper)
    return written


def write_document(title: str, sections: list[Section], folder: Path, stem: str) -> list[Path]:
    """``<stem>.md`` and ``<stem>.html`` in ``folder`` (figure paths relative to it)."""
    folder.mkdir(parents=True, exist_ok=True)
    md_path, html_path = folder / f"{stem}.md", folder / f"{stem}.html"
    md_path.write_text(to_markdown(title, sections, folder))
    html_path.write_text(to_html(title, sections))
    return [md_path, html_path]
