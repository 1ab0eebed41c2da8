"""Private helper of :mod:`vrkit.viz.report`: HTML pieces (all text escaped, images as data URIs, CSS inline).

Nothing here references an external resource: images are ``data:`` URIs, Markdown links become plain text
(their address shown in brackets, not linked), and the page needs no JavaScript.
"""

from __future__ import annotations

import base64
import csv
import io
import re
from collections.abc import Sequence
from html import escape

MAX_ROWS = 300  # rows of a CSV table shown; the rest is counted
_NUMBER = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?%?$|^[-+]?\d+(\.\d+)? ± ")
_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*([^*]+)\*\*")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)]+)\)")
_SEP = re.compile(r"^\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1280px;color:#222;
 padding:0 16px;line-height:1.4}
h1{font-size:1.6em;border-bottom:2px solid #444;padding-bottom:4px}
h2{font-size:1.3em;margin-top:2em;border-bottom:1px solid #bbb;padding-bottom:2px}
h3{font-size:1.1em;margin-top:1.4em}h4,h5,h6{font-size:1em}
table{border-collapse:collapse;margin:8px 0 16px;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#eef1f5}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr:nth-child(even) td{background:#fafafa}
.tw{overflow-x:auto;max-width:100%}figure{margin:12px 0 20px}figure img{max-width:100%;border:1px solid #ddd}
figcaption{font-size:12px;color:#555}
.path{font-family:monospace;font-size:12px;color:#666}
.note{font-size:12px;color:#777}
pre{background:#f6f8fa;padding:8px;font-size:12px;overflow-x:auto}
nav ul{columns:2;font-size:13px}
details summary{cursor:pointer;font-size:13px;color:#444}
""".strip()


def esc(text: object) -> str:
    return escape(str(text), quote=True)


def anchor(text: str) -> str:
    """A stable id for an internal link."""
    return "s-" + (re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "x")


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    cls = ' class="num"' if _NUMBER.match(text.strip()) else ""
    return f"<td{cls}>{_inline(text)}</td>"


def table(header: Sequence[object], rows: Sequence[Sequence[object]], note: str | None = None) -> str:
    """An HTML table; numeric cells right-aligned."""
    head = "".join(f"<th>{_inline(str(h))}</th>" for h in header)
    body = "\n".join("<tr>" + "".join(_cell(v) for v in r) + "</tr>" for r in rows)
    extra = f'<p class="note">{esc(note)}</p>' if note else ""
    return f'<div class="tw"><table><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table></div>{extra}'


def csv_table(text: str) -> str:
    """A CSV document (first row = header) as an HTML table of at most ``MAX_ROWS`` rows."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return '<p class="note">(empty CSV)</p>'
    body = rows[1:]
    note = f"{len(body) - MAX_ROWS} more row(s) in the file" if len(body) > MAX_ROWS else None
    return table(rows[0], body[:MAX_ROWS], note)


def _inline(text: str) -> str:
    """Escaped text with `code`, **bold**, and [links](addr) shown as "links (addr)" without a hyperlink."""
    out = esc(text)
    out = _LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})", out)
    out = _CODE.sub(lambda m: f"<code>{m.group(1)}</code>", out)
    return _BOLD.sub(lambda m: f"<strong>{m.group(1)}</strong>", out)


def _split_row(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|"):
        line = line[:-1]
    return [c.strip() for c in line.split("|")]


def markdown(text: str, heading_shift: int = 2) -> str:
    """Simple Markdown: ``#`` headings (shifted down by ``heading_shift`` levels), pipe tables, ``-``/``*``
    bullet lists, fenced code blocks and paragraphs."""
    lines, out, i = text.splitlines(), [], 0
    para: list[str] = []

    def flush() -> None:
        if para:
            out.append("<p>" + " ".join(_inline(p) for p in para) + "</p>")
            para.clear()

    while i < len(lines):
        line = lines[i]
        s = line.strip()
        if s.startswith("```"):
            flush()
            j = i + 1
            while j < len(lines) and not lines[j].strip().startswith("```"):
                j += 1
            out.append("<pre>" + esc("\n".join(lines[i + 1: j])) + "</pre>")
            i = j + 1
            continue
        if s.startswith("|") and i + 1 < len(lines) and _SEP.match(lines[i + 1].strip()):
            flush()
            header = _split_row(s)
            j, rows = i + 2, []
            while j < len(lines) and lines[j].strip().startswith("|"):
                rows.append(_split_row(lines[j]))
                j += 1
            out.append(table(header, rows))
            i = j
            continue
        m = re.match(r"^(#{1,6})\s+(.*)$", s)
        if m:
            flush()
            level = min(6, len(m.group(1)) + heading_shift)
            out.append(f"<h{level}>{_inline(m.group(2))}</h{level}>")
        elif re.match(r"^[-*]\s+", s):
            flush()
            items = []
            while i < len(lines) and re.match(r"^\s*[-*]\s+", lines[i]):
                items.append("<li>" + _inline(re.sub(r"^\s*[-*]\s+", "", lines[i])) + "</li>")
                i += 1
            out.append("<ul>" + "".join(items) + "</ul>")
            continue
        elif not s:
            flush()
        else:
            para.append(s)
        i += 1
    flush()
    return "\n".join(out)


def image(data: bytes, mime: str, alt: str, caption: str | None = None) -> str:
    """An inline image (base64 data URI) in a figure."""
    uri = f"data:{mime};base64," + base64.b64encode(data).decode("ascii")
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="{uri}" alt="{esc(alt)}">{cap}</figure>'


def details(summary: str, body_html: str) -> str:
    return f"<details><summary>{esc(summary)}</summary>{body_html}</details>"


def pre(text: str) -> str:
    return f"<pre>{esc(text)}</pre>"


def page(title: str, intro_html: str, sections: Sequence[tuple[str, str]]) -> str:
    """The whole document: a title, an intro, a table of contents and the sections (heading, body HTML)."""
    toc = "".join(f'<li><a href="#{anchor(f"{i}-{h}")}">{esc(h)}</a></li>' for i, (h, _) in enumerate(sections))
    parts = [f'<section id="{anchor(f"{i}-{h}")}"><h2>{esc(h)}</h2>\n{body}\n</section>'
             for i, (h, body) in enumerate(sections)]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{esc(title)}</title><style>{CSS}</style></head>\n<body>\n<h1>{esc(title)}</h1>\n{intro_html}\n"
            f"<nav><ul>{toc}</ul></nav>\n" + "\n".join(parts) + "\n</body></html>\n")
