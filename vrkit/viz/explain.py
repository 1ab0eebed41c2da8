"""``vrkit explain``: pictures of SAMNet's reasoning on one example.

For example ``index`` of a data source (``vrkit eval``'s ``--data`` syntax), the checkpoint's model is run
once with ``trace=True`` (vrkit/models/samnet.py: per frame t and step k the visual attention, word attention,
temporal-class weights, gates, memory read head and write weight). Each frame becomes one figure
(:mod:`vrkit.viz._explain_draw`): the visual attention of every step over the frame, the word attention over
the question tokens, the temporal classes (now, last, latest, none), the four gates, the memory read head and
write weight over the slots, and the predicted answer against the target (and the pointing target).

Outputs (atomic writes), for a prefix P:

* ``P.png``: the figures of the selected frames stacked vertically (default: the frames with a target, i.e.
  whose answer is not ``invalid``, else the last frame; ``frames="all"`` or a list of indices);
* ``P.gif``: every frame in order, one GIF frame each (sequences only, T > 1);
* ``P.json``: the digest of :meth:`Explanation.summary` (predictions, per-step argmaxes, gate values).

Models without SAMNet's trace (e.g. ``cog_baseline``) raise :class:`InputError`.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vrkit.errors import InputError
from vrkit.utils.atomic import atomic_write_bytes, atomic_write_text
from vrkit.viz._explain_data import Explanation, ObjectMark, build_explanation, load_example
from vrkit.viz._explain_draw import figure_rgb, frame_figure, panels_per_frame

__all__ = ["ExplainResult", "Explanation", "ObjectMark", "default_prefix", "explain", "explain_example",
           "frame_images", "gif_bytes", "panels_per_frame", "png_bytes", "select_frames"]

GIF_FRAME_MS = 1500


@dataclass
class ExplainResult:
    png: Path
    gif: Path | None  # None for single-frame examples (CLEVR)
    json: Path
    frames_shown: list[int]  # frames stacked in the PNG
    panels: int  # data panels in the PNG (panels_per_frame × frames shown)
    explanation: Explanation


def explain_example(task: Any, source: Any, index: int, data_label: str = "data",
                    where: str | Path | None = None) -> Explanation:
    """The :class:`Explanation` of example ``index`` of ``source`` (a :class:`SourceConfig`) under ``task``
    (a loaded :class:`ReasoningTask`). ``data_label`` names the data in an out-of-range error, ``where`` (the
    checkpoint) locates the no-trace error."""
    batch, dm_cls = load_example(task, source, int(index), data_label)
    return build_explanation(task, batch, list(dm_cls.ANSWER_VOCAB), str(where) if where else None)


def select_frames(expl: Explanation, frames: str | Sequence[int] | None = None) -> list[int]:
    """Frame indices for the PNG: ``"all"``, a list / comma-separated string of indices, None or
    ``"answered"`` (the frames with a target; the last frame if none has one), ``"last"`` (the last of those).
    InputError on an index outside 0..T-1."""
    T = expl.frames
    if frames is None or frames in ("answered", "last"):
        chosen = [t for t in range(T) if expl.correct[t] is not None] or [T - 1]
        return chosen[-1:] if frames == "last" else chosen
    if frames == "all":
        return list(range(T))
    if isinstance(frames, str):
        try:
            frames = [int(s) for s in frames.split(",") if s.strip()]
        except ValueError:
            raise InputError(f"--frames: expected 'all' or comma-separated frame indices, got {frames!r}") from None
    bad = [f for f in frames if not 0 <= f < T]
    if bad or not frames:
        raise InputError(f"--frames: frame(s) {bad or '(none)'} outside 0..{T - 1} (the example has {T} frames)")
    return list(dict.fromkeys(frames))


def frame_images(expl: Explanation, frames: Sequence[int] | None = None, dpi: int = 80) -> list[np.ndarray]:
    """One rasterised figure per frame (all frames when ``frames`` is None): (H, W, 3) uint8 each, same size."""
    out = []
    for t in (range(expl.frames) if frames is None else frames):
        out.append(figure_rgb(frame_figure(expl, t, dpi)))
    return out


def png_bytes(images: Sequence[np.ndarray]) -> bytes:
    """The images stacked vertically (padded to the widest with white) as PNG bytes."""
    from PIL import Image

    width = max(im.shape[1] for im in images)
    rows = [np.pad(im, ((0, 0), (0, width - im.shape[1]), (0, 0)), constant_values=255) for im in images]
    buf = io.BytesIO()
    Image.fromarray(np.concatenate(rows, axis=0)).save(buf, format="PNG")
    return buf.getvalue()


def gif_bytes(images: Sequence[np.ndarray], frame_ms: int = GIF_FRAME_MS) -> bytes:
    """An animated GIF (looping) of the images, one per frame."""
    from PIL import Image

    pics = [Image.fromarray(im).convert("P", palette=Image.Palette.ADAPTIVE, colors=255) for im in images]
    buf = io.BytesIO()
    pics[0].save(buf, format="GIF", save_all=True, append_images=pics[1:], duration=frame_ms, loop=0,
                 disposal=1)
    return buf.getvalue()


def default_prefix(ckpt: str | Path, data: Sequence[str], index: int) -> Path:
    """``<run>/explain/<ckpt stem>_<data name>_<index>`` (run = the checkpoint's run directory)."""
    ckpt = Path(ckpt).resolve()
    run = ckpt.parent.parent if ckpt.parent.name == "checkpoints" else ckpt.parent
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", data[0].rstrip("/").split("/")[-1] if data else "data")
    return run / "explain" / f"{ckpt.stem}_{name}_{index}"


def explain(ckpt: str | Path, data: Sequence[str], index: int, out_prefix: str | Path | None = None,
            frames: str | Sequence[int] | None = None, families: str | list[str] | None = None,
            dpi: int = 80) -> ExplainResult:
    """Explain example ``index`` of ``data`` (``--data`` values) under checkpoint ``ckpt``; write
    ``<prefix>.png``, ``<prefix>.gif`` (T > 1) and ``<prefix>.json`` (module docstring)."""
    from vrkit.engine.evaluate import load_task, parse_data_spec

    task = load_task(ckpt)
    source = parse_data_spec(list(data), families)
    expl = explain_example(task, source, index, " ".join(map(str, data)), ckpt)
    shown = select_frames(expl, frames)
    images = frame_images(expl, None, dpi)
    prefix = Path(out_prefix) if out_prefix is not None else default_prefix(ckpt, data, index)
    png = prefix.with_name(prefix.name + ".png")
    atomic_write_bytes(png, png_bytes([images[t] for t in shown]))
    gif = None
    if expl.frames > 1:
        gif = prefix.with_name(prefix.name + ".gif")
        atomic_write_bytes(gif, gif_bytes(images))
    js = prefix.with_name(prefix.name + ".json")
    digest = {"checkpoint": str(ckpt), "data": list(map(str, data)), "index": int(index), "frames_shown": shown,
              **expl.summary()}
    atomic_write_text(js, json.dumps(digest, indent=1, sort_keys=True))
    return ExplainResult(png, gif, js, shown, panels_per_frame(expl) * len(shown), expl)
