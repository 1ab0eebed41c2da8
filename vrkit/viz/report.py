"""``vrkit report``: one self-contained HTML page with every table and figure of some result directories.

Each argument (a directory, or a single file) becomes a section holding what :mod:`vrkit.viz._report_scan`
recognises in it: transfer results (tables, paper-style figures), training runs (loss/accuracy curves, final
val/test tables, config), evaluation summaries, ``bench/results``-style JSON, Markdown and CSV tables, and
PNG/GIF figures. With an explain checkpoint, a last section shows SAMNet's reasoning on the first few
examples of a data source (:mod:`vrkit.viz.explain`).

The page is self-contained: CSS inline, images as base64 ``data:`` URIs, no external resource, no
JavaScript; all text is HTML-escaped. It holds no timestamp, so the same inputs give the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from vrkit.errors import InputError
from vrkit.utils.atomic import atomic_write_text
from vrkit.viz import _report_html as H
from vrkit.viz._report_scan import Block, scan

__all__ = ["Block", "ReportResult", "build_report", "explain_blocks", "write_report"]


@dataclass
class ReportResult:
    path: Path
    sections: int
    blocks: int
    images: int  # inlined images
    tables: int


def explain_blocks(ckpt: str | Path, data: Sequence[str], n: int = 3, frames: str | None = "last",
                   log: Callable[[str], None] | None = None) -> list[Block]:
    """Explain panels of the first ``n`` examples of ``data`` under ``ckpt`` (fewer if the data is shorter):
    per example the figure of its last frame with a target (``frames``: see
    :func:`vrkit.viz.explain.select_frames`), captioned with every frame's prediction and target."""
    from vrkit.engine.evaluate import load_task, parse_data_spec
    from vrkit.viz.explain import explain_example, frame_images, png_bytes, select_frames

    task = load_task(ckpt)
    source = parse_data_spec(list(data), None)
    label = " ".join(map(str, data))
    blocks = []
    for i in range(n):
        try:
            expl = explain_example(task, source, i, label, ckpt)
        except InputError as err:
            if i > 0 and "out of range" in err.message:
                break
            raise
        shown = select_frames(expl, frames)
        png = png_bytes(frame_images(expl, shown))
        answers = "; ".join(f"frame {t + 1}: predicted {expl.pred[t]}, target {expl.target[t]}"
                            for t in range(expl.frames))
        caption = f"{expl.family}: {expl.question} — {answers}"
        blocks.append(Block(f"example {i}: {expl.family}", H.image(png, "image/png", f"explain example {i}", caption),
                            "figure"))
        if log:
            log(f"explained example {i} ({expl.family})")
    return blocks


def build_report(paths: Sequence[str | Path], explain: dict | None = None, title: str = "vrkit report",
                 log: Callable[[str], None] | None = None) -> tuple[str, list[tuple[str, list[Block]]]]:
    """The HTML page and its sections [(heading, blocks)]. ``explain``: keyword arguments of
    :func:`explain_blocks` (``ckpt``, ``data``, ``n``), or None. InputError names an argument that does
    not exist or holds nothing recognisable."""
    if not paths:
        raise InputError("give at least one results directory")
    sections: list[tuple[str, list[Block]]] = []
    for p in paths:
        p = Path(p)
        blocks = scan(p)
        if not blocks:
            raise InputError("nothing to report here (no transfer results, training runs, eval/bench JSON, "
                             "Markdown/CSV tables or figures)", p)
        sections.append((str(p), blocks))
        if log:
            log(f"{p}: {len(blocks)} item(s)")
    if explain:
        sections.append((f"explain: {explain['ckpt']}", explain_blocks(log=log, **explain)))
    rendered = []
    for heading, blocks in sections:
        body = "\n".join(f'<h3>{H.esc(b.title)}</h3>\n{b.html}' for b in blocks)
        rendered.append((heading, body))
    intro = ('<p class="note">Sources: ' + ", ".join(f'<span class="path">{H.esc(p)}</span>' for p in paths)
             + ". Accuracy cells give the number of test examples they rest on (n).</p>")
    return H.page(title, intro, rendered), sections


def write_report(paths: Sequence[str | Path], out: str | Path, explain_ckpt: str | Path | None = None,
                 explain_data: Sequence[str] | None = None, explain_n: int = 3, title: str = "vrkit report",
                 log: Callable[[str], None] | None = None) -> ReportResult:
    """Build the page (:func:`build_report`) and write it to ``out`` atomically."""
    explain = None
    if explain_ckpt is not None:
        if not explain_data:
            raise InputError("--explain-ckpt needs --explain-data (paths or gen:VARIANT:N[:SEED])")
        explain = {"ckpt": explain_ckpt, "data": list(explain_data), "n": int(explain_n)}
    elif explain_data:
        raise InputError("--explain-data needs --explain-ckpt")
    html, sections = build_report(paths, explain, title, log)
    out = Path(out)
    atomic_write_text(out, html)
    blocks = [b for _, bs in sections for b in bs]
    return ReportResult(out, len(sections), len(blocks), html.count('<img src="data:'), html.count("<table>"))
