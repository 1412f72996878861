"""Markdown and HTML: two renderings of one document (the same sections, tables and figures).

A `Document` is a list of `Section`s; a section holds blocks: `Text` (a little markdown: bullets,
**bold**, `code`), `Table` (a DataFrame; cells may be `Link`s) and `Figure` (a PNG file).
`to_markdown` writes report.md with relative image links; `to_html` writes one self-contained
report.html (the PNGs embedded as base64, no external resources) from a jinja2 template.

Names and error texts come from users' tables, configs and exceptions: in Markdown, `md_escape`
makes a table value inert (HTML, links, images, table pipes, code spans) and `md_text` makes
prose inert (HTML, links, images); both escape only to what renders as the same character.
HTML output is escaped by `html.escape`.
"""
from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence, Union

import numpy as np
import pandas as pd

TEMPLATE = "report.html.j2"


@dataclass(frozen=True)
class Link:
    """A table cell that links somewhere (an MLflow run)."""

    text: str
    url: str


@dataclass
class Text:
    markdown: str


@dataclass
class Table:
    df: pd.DataFrame
    digits: int = 3
    caption: str = ""


@dataclass
class Figure:
    path: Path
    caption: str = ""


Block = Union[Text, Table, Figure]


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)
    level: int = 2
    anchor: str = ""
    nav: str = ""           # short label in the HTML page's navigation bar (default: the title)


@dataclass
class Document:
    title: str
    sections: list[Section] = field(default_factory=list)
    intro: list[Block] = field(default_factory=list)


def _plain(v: Any, digits: int) -> str:
    if isinstance(v, (float, np.floating)):
        return "" if not np.isfinite(v) else f"{v:.{digits}f}"
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    return str(v)


class Markdown(str):
    """Markdown that is already escaped (a rendered table): `md_text` leaves it as it is."""


_PROSE = {"<": "&lt;"}
_VALUE = {"\\": "\\\\", "`": "\\`", "|": "\\|", "\n": " ", "\r": " ", "&": "&amp;", ">": "&gt;", **_PROSE}


def _escape(text: str, table: dict[str, str]) -> str:
    out = "".join(table.get(ch, ch) for ch in text)
    return out.replace("](", "]\\(").replace("![", "!\\[")  # no link, no image


def md_escape(value: Any) -> str:
    """A value (name, error text) as inert Markdown: no HTML, link, image, code span or table pipe
    survives, and it reads the same once rendered (underscores and stars are left: at worst
    emphasis).

    Examples
    --------
    >>> print(md_escape("<img src=x onerror=alert(1)> | [a](b)"))
    &lt;img src=x onerror=alert(1)&gt; \\| [a]\\(b)
    """
    return _escape(str(value), _VALUE)


def md_text(markdown: str) -> str:
    """Prose with this module's little markdown (**bold**, `code`, bullets, headings) made inert:
    every `<` (HTML, autolinks) and link opener escaped, inside code spans too (where a name can
    end a span early, so no span is trusted; there a hostile name shows its `&lt;`). Idempotent;
    `Markdown` (already escaped) is returned as it is.

    Examples
    --------
    >>> md_text("**Use `a`** on <script> if p < 0.05")
    '**Use `a`** on &lt;script> if p &lt; 0.05'
    """
    if isinstance(markdown, Markdown):
        return markdown
    return _escape(markdown, _PROSE)


def _cell_md(v: Any, digits: int, max_chars: int) -> str:
    if isinstance(v, Link):
        return f"[{md_escape(v.text)}]({v.url.replace(' ', '%20').replace('(', '%28').replace(')', '%29')})"
    if isinstance(v, (list, tuple)) and v and all(isinstance(x, Link) for x in v):
        return ", ".join(_cell_md(x, digits, max_chars) for x in v)
    text = _plain(v, digits)
    return md_escape(text if len(text) <= max_chars else text[:max_chars - 3] + "...")


def markdown_table(df: pd.DataFrame, digits: int = 3, max_chars: int = 200) -> Markdown:
    """A GitHub markdown table (floats rounded, values escaped by `md_escape`, long text cut,
    links as [text](url))."""
    if df.empty:
        return Markdown("_(none)_")
    head = "| " + " | ".join(md_escape(c) for c in df.columns) + " |"
    sep = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(_cell_md(v, digits, max_chars) for v in row) + " |" for row in df.itertuples(index=False)]
    return Markdown("\n".join([head, sep, *body]))


def md_document(parts: Sequence[str]) -> str:
    """Lines of a Markdown file joined, each made inert by `md_text` (tables are kept as rendered)."""
    return "\n".join(md_text(p) for p in parts)


def to_markdown(doc: Document) -> str:
    """The document as markdown (figures as relative links to their PNG files); every text made
    inert by `md_text`, every table cell by `md_escape`."""
    out = [f"# {doc.title}", ""]

    def blocks(bs: Sequence[Block]) -> None:
        for b in bs:
            if isinstance(b, Text):
                out.extend([b.markdown.rstrip("\n"), ""])
            elif isinstance(b, Table):
                out.extend(([b.caption, ""] if b.caption else []) + [markdown_table(b.df, b.digits), ""])
            else:
                out.append(Markdown(f"![{md_escape(b.path.stem)}]({b.path.name})"))
    blocks(doc.intro)
    for s in doc.sections:
        out.extend(["#" * s.level + " " + s.title, ""])
        blocks(s.blocks)
        if s.blocks and isinstance(s.blocks[-1], Figure):
            out.append("")
    return md_document(out).rstrip("\n") + "\n"


# ------------------------------------------------------------------------------------ html
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_CODE = re.compile(r"`([^`]+)`")


def inline_html(text: str) -> str:
    """Escape text and turn **bold** and `code` into HTML."""
    t = html.escape(text, quote=False)
    return _CODE.sub(r"<code>\1</code>", _BOLD.sub(r"<strong>\1</strong>", t))


def text_html(markdown: str) -> str:
    """The little markdown of a `Text` block: '- ' bullets (indented lines continue them),
    '## ' headings inside the text, paragraphs."""
    parts: list[str] = []
    items: list[str] = []
    para: list[str] = []

    def flush() -> None:
        if para:
            parts.append("<p>" + " ".join(inline_html(p) for p in para) + "</p>")
            para.clear()
        if items:
            parts.append("<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>")
            items.clear()

    for line in markdown.splitlines():
        if line.startswith("- "):
            if para:
                flush()
            items.append(inline_html(line[2:]))
        elif line.startswith("  ") and items:
            items[-1] += "<br>" + inline_html(line.strip())
        elif line.startswith("#"):
            flush()
            level = min(6, len(line) - len(line.lstrip("#")) + 1)
            parts.append(f"<h{level}>{inline_html(line.lstrip('#').strip())}</h{level}>")
        elif not line.strip():
            flush()
        else:
            if items:
                flush()
            para.append(line)
    flush()
    return "\n".join(parts)


def _cell_html(v: Any, digits: int) -> tuple[str, bool]:
    """(html, numeric?) of one table cell."""
    if isinstance(v, Link):
        return f'<a href="{html.escape(v.url)}">{html.escape(v.text)}</a>', False
    if isinstance(v, (list, tuple)) and v and all(isinstance(x, Link) for x in v):
        return ", ".join(_cell_html(x, digits)[0] for x in v), False
    numeric = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
    return html.escape(_plain(v, digits)), numeric


def table_html(df: pd.DataFrame, digits: int = 3) -> str:
    if df.empty:
        return '<p class="none">(none)</p>'
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = []
    for row in df.itertuples(index=False):
        cells = [_cell_html(v, digits) for v in row]
        rows.append("<tr>" + "".join(f'<td class="num">{h}</td>' if num else f"<td>{h}</td>" for h, num in cells)
                    + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def png_data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def _block_html(b: Block) -> str:
    if isinstance(b, Text):
        return text_html(b.markdown)
    if isinstance(b, Table):
        cap = f"<p class=\"caption\">{inline_html(b.caption)}</p>" if b.caption else ""
        return cap + f'<div class="scroll">{table_html(b.df, b.digits)}</div>'
    caption = b.caption or b.path.stem
    return (f'<figure><img src="{png_data_uri(b.path)}" alt="{html.escape(b.path.stem)}">'
            f"<figcaption>{inline_html(caption)}</figcaption></figure>")


def _anchor(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def to_html(doc: Document) -> str:
    """One self-contained HTML page (inline CSS, figures as base64 PNG)."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("varbench.report", "templates"), autoescape=select_autoescape(["j2"]))
    sections = [{"title": s.title, "level": s.level, "anchor": s.anchor or _anchor(s.title), "nav": s.nav or s.title,
                 "body": "\n".join(_block_html(b) for b in s.blocks)} for s in doc.sections]
    return env.get_template(TEMPLATE).render(title=doc.title, intro="\n".join(_block_html(b) for b in doc.intro),
                                             sections=sections)
