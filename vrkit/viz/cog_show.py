"""A COG example as one picture: its frames side by side, the question above, each frame's answer below.

Point answers are drawn on their frame as a ring around the point (white with a black outline, visible on
any colour, wide enough not to hide the object) and written as (x, y); ``invalid`` answers are written in
grey italics; true / false in green / red. Matplotlib's Agg canvas is used directly (no pyplot, no global
backend state).
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import matplotlib.patheffects as pe
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from vrkit.utils.atomic import atomic_open
from vrkit.worlds.cog.render import DEFAULT_SIZE, render_example

__all__ = ["answer_text", "cog_strip_figure", "save_cog_strip"]

_FRAME_IN = 1.7  # inches per frame (at least; larger frames get more)
_OUTLINE = [pe.withStroke(linewidth=3.5, foreground="black")]
_WORD_COLOURS = {"true": "#1a7f37", "false": "#b3261e"}


def answer_text(answer: Any) -> str:
    """The answer as shown under its frame: a word, or a point as "(x, y)"."""
    if isinstance(answer, list | tuple):
        return f"({answer[0]:.3g}, {answer[1]:.3g})"
    return str(answer)


def cog_strip_figure(example: dict, size: int = DEFAULT_SIZE, frames: np.ndarray | None = None) -> Figure:
    """Build the figure for one example (official dict format).

    ``frames``: optional pre-rendered (E, H, W, 3) uint8 frames; rendered at ``size`` when omitted.
    """
    if frames is None:
        frames = render_example(example, size)
    E, H = len(frames), frames.shape[1]
    frame_in = max(_FRAME_IN, H / 100 + 0.1)  # at 100 dpi, never shrink a frame below its pixel size
    width = max(E * frame_in + 0.4, 5.0)
    chars = max(int(width * 11), 40)
    question = "\n".join(textwrap.wrap(example.get("question", ""), chars)) or "(no question)"
    n_lines = question.count("\n") + 1
    wspace = 0.08
    ax_in = (width - 0.4) / (E + (E - 1) * wspace)  # square axes: width = height (inches)
    top_in, bottom_in = 0.62 + 0.2 * n_lines, 0.34
    height = top_in + ax_in + bottom_in
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    fig.text(0.5, 1 - 0.08 / height, example.get("family", "?"), ha="center", va="top", fontsize=12,
             fontweight="bold")
    fig.text(0.5, 1 - 0.34 / height, question, ha="center", va="top", fontsize=10, family="monospace")
    answers = list(example.get("answers", [])) + [None] * max(0, E - len(example.get("answers", [])))
    axes = fig.subplots(1, E, squeeze=False)[0]
    fig.subplots_adjust(left=0.2 / width, right=1 - 0.2 / width, top=1 - top_in / height,
                        bottom=bottom_in / height, wspace=wspace)
    for t, (ax, img, ans) in enumerate(zip(axes, frames, answers)):
        ax.imshow(img, interpolation="nearest", extent=(0, 1, 1, 0))
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"t = {t}", fontsize=9, color="#444444", pad=3)
        style: dict[str, Any] = {"fontsize": 10, "ha": "center", "va": "top", "transform": ax.transAxes}
        if ans is None:
            label, style["color"] = "—", "#999999"
        elif isinstance(ans, list | tuple):
            x, y = float(ans[0]), float(ans[1])
            ax.plot([x], [y], marker="o", markersize=24, markerfacecolor="none", markeredgecolor="white",
                    markeredgewidth=2.2, path_effects=_OUTLINE)
            ax.set_xlim(0, 1)
            ax.set_ylim(1, 0)
            label, style["color"] = answer_text(ans), "#0b57d0"
        elif ans == "invalid":
            label, style["color"], style["fontstyle"] = "invalid", "#9a9a9a", "italic"
            for spine in ax.spines.values():
                spine.set_color("#bbbbbb")
        else:
            label = str(ans)
            style["color"] = _WORD_COLOURS.get(label, "black")
            style["fontweight"] = "bold"
        ax.text(0.5, -0.05, label, **style)
    return fig


def save_cog_strip(example: dict, path: str | Path, size: int = DEFAULT_SIZE) -> Path:
    """Write the strip of ``example`` as a PNG at ``path`` (atomically). Returns the path."""
    fig = cog_strip_figure(example, size)
    path = Path(path)
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format="png", metadata={"Software": None})
    return path
