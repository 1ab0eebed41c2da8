"""A CLEVR scene rendered with its questions and answers beside it (``vrkit show clevr``).

``show_image(scene, questions)`` returns an (H, W, 3) uint8 picture: the rendered scene on the left, a
panel on the right listing each question of that image with its answer (and reporting type when the program
is present). ``write_show_png(...)`` writes it atomically as PNG.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import cv2
import numpy as np

from vrkit.errors import InputError
from vrkit.utils.atomic import atomic_write_bytes
from vrkit.worlds.clevr.render import render_scene

_BG = (250, 250, 250)
_INK = (30, 30, 30)
_ANS = (20, 90, 170)
_DIM = (120, 120, 120)
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def questions_for(scene: dict, questions: list[dict]) -> list[dict]:
    """The questions whose ``image_index`` (or ``image_filename``) matches the scene, in file order."""
    idx, name = scene.get("image_index"), scene.get("image_filename")
    out = [q for q in questions if idx is not None and q.get("image_index") == idx]
    if not out and name is not None:
        out = [q for q in questions if q.get("image_filename") == name]
    return out


def _qtype(q: dict) -> str:
    prog = q.get("program") or []
    if not prog:
        return ""
    last = prog[-1].get("function", prog[-1].get("type", ""))
    if last in ("exist", "count"):
        return last
    if last in ("equal_integer", "less_than", "greater_than"):
        return "compare_integer"
    if last.startswith("query_"):
        return "query_attribute"
    if last.startswith("equal_"):
        return "compare_attribute"
    return last


def _line_height(text: str, scale: float) -> int:
    (_, th), base = cv2.getTextSize(text or " ", _FONT, scale, 1)
    return th + base + 3


def _text_panel(lines: list[tuple[str, tuple[int, int, int], float]], width: int, height: int) -> np.ndarray:
    panel = np.full((height, width, 3), _BG, dtype=np.uint8)
    y = 8
    for text, color, scale in lines:
        base = cv2.getTextSize(text or " ", _FONT, scale, 1)[1]
        y += _line_height(text, scale)
        if y > height - 4:
            cv2.putText(panel, "...", (8, height - 6), _FONT, 0.45, _DIM, 1, cv2.LINE_AA)
            break
        cv2.putText(panel, text, (8, y - base), _FONT, scale, color, 1, cv2.LINE_AA)
    return panel


def show_image(scene: dict, questions: list[dict] | None = None, width: int = 480, height: int = 320,
               panel_width: int = 520, max_questions: int = 12) -> np.ndarray:
    """Rendered scene (``width`` x ``height``) with a question/answer panel on its right.

    Returns (max(height, panel height), width + panel_width, 3) uint8 RGB. ``questions`` may hold questions
    of any images: only those of this scene are listed."""
    img = render_scene(scene, width, height, antialias=True, quality=2)
    qs = questions_for(scene, questions or [])
    name = scene.get("image_filename", f"image {scene.get('image_index', '?')}")
    lines: list[tuple[str, tuple[int, int, int], float]] = [
        (f"{name}: {len(scene['objects'])} objects, {len(qs)} questions", _INK, 0.5), ("", _INK, 0.3)]
    chars = max(20, panel_width // 8)
    for i, q in enumerate(qs[:max_questions]):
        wrapped = textwrap.wrap(f"Q{i + 1}. {q.get('question', '?')}", chars) or [""]
        lines += [(t, _INK, 0.42) for t in wrapped]
        kind = _qtype(q)
        ans = q.get("answer", "(no answer)")
        lines.append((f"    -> {ans}" + (f"   [{kind}]" if kind else ""), _ANS, 0.42))
    if len(qs) > max_questions:
        lines.append((f"... {len(qs) - max_questions} more", _DIM, 0.42))
    needed = 16 + sum(_line_height(t, s) for t, _, s in lines)
    ph = max(height, min(needed, 4 * height))
    panel = _text_panel(lines, panel_width, ph)
    canvas = np.full((ph, width + panel_width, 3), _BG, dtype=np.uint8)
    canvas[:height, :width] = img
    canvas[:, width:] = panel
    return canvas


def write_show_png(path: str | Path, scene: dict, questions: list[dict] | None = None, width: int = 480,
                   height: int = 320) -> Path:
    """Write ``show_image`` as PNG (atomic). Returns the path."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise InputError(f"output must be a .png file, got {path.name!r}")
    rgb = show_image(scene, questions, width, height)
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(rgb[:, :, ::-1]))
    if not ok:  # pragma: no cover - OpenCV failure
        raise RuntimeError("PNG encoding failed")
    atomic_write_bytes(path, buf.tobytes())
    return path
