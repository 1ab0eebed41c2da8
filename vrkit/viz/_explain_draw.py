"""Private helper of :mod:`vrkit.viz.explain`: one frame of an :class:`Explanation` as a matplotlib figure.

Layout (columns = the K reasoning steps, plus an answer column on the right)::

    title: family, question, model, frame t/T, prediction vs target
    row 0: per step, the visual attention over the frame          | the frame with the answer / points
    row 1: word attention (tokens × steps)                        | top-3 answer probabilities
    row 2: temporal-class weights (now, last, latest, none × steps)  |
    row 3: gates (image_match, memory_match, do_replace, do_add_new × steps) | legend
    row 4: memory read head (slots × steps)                       |
    row 5: memory write weight (slots × steps)                    |

Pixels: the attention over the h × w feature map, bilinearly upsampled onto the frame. State: a ring per
object at its (x, y), size and opacity growing with its attention weight, over the frame rendered from the
state (or a blank canvas with object labels). Matplotlib's Agg canvas is used directly (no pyplot state).
"""

from __future__ import annotations

import textwrap

import matplotlib.patheffects as pe
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from vrkit.models.samnet import GATES, TEMPORAL_CLASSES
from vrkit.viz._explain_data import Explanation

_OUTLINE = [pe.withStroke(linewidth=2.5, foreground="black")]
_VERDICT = {True: "#1a7f37", False: "#b3261e", None: "#666666"}
_BLANK = 200.0  # side of the blank canvas (state path without a rendered frame)
_CELL_H = 0.14  # inches per matrix row
MATRIX_PANELS = ("word attention", "temporal class", "gates", "read head", "write weight")


def panels_per_frame(expl: Explanation) -> int:
    """Data panels drawn for one frame: K attention panels, the answer panel, 5 matrices and the answer bars
    (the legend is an extra axes with its axis switched off)."""
    return expl.steps + 1 + len(MATRIX_PANELS) + 1


def _frame_size(expl: Explanation) -> tuple[float, float]:
    if expl.canvas is not None:
        return float(expl.canvas.shape[2]), float(expl.canvas.shape[1])
    return _BLANK, _BLANK


def _background(ax, expl: Explanation, t: int) -> None:
    w, h = _frame_size(expl)
    if expl.canvas is not None:
        ax.imshow(expl.canvas[min(t, len(expl.canvas) - 1)], extent=(0, w, h, 0), interpolation="nearest")
    else:
        ax.set_facecolor("#f2f2f2")
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)
    ax.set_xticks([])
    ax.set_yticks([])


def _attention_panel(ax, expl: Explanation, t: int, k: int) -> None:
    att = expl.visual_attention[t, k]
    _background(ax, expl, t)
    w, h = _frame_size(expl)
    word = expl.tokens[int(np.argmax(expl.word_attention[t, k]))] if expl.tokens else "?"
    ax.set_title(f"step {k + 1}: “{word}”", fontsize=7, pad=2)
    if expl.feature_hw is not None:  # pixels: h×w feature-map attention upsampled onto the frame
        fh, fw = expl.feature_hw
        grid = att[: fh * fw].reshape(fh, fw)
        ax.imshow(grid, extent=(0, w, h, 0), cmap="inferno", alpha=0.6, interpolation="bilinear",
                  vmin=0.0, vmax=max(float(grid.max()), 1e-6))
        ax.set_xlabel(f"max {float(att.max()):.2f}", fontsize=6, labelpad=1)
        return
    marks = expl.objects[t] if t < len(expl.objects) else []
    if not marks:
        ax.set_xlabel("(no objects)", fontsize=6, labelpad=1)
        return
    a = att[: len(marks)]
    top = max(float(a.max()), 1e-6)
    for m, v in zip(marks, a, strict=True):
        rel = float(v) / top
        if expl.canvas is None:
            ax.scatter([m.x], [m.y], s=12 + 220 * float(v), color=m.rgb, alpha=0.3 + 0.7 * rel, edgecolors="k",
                       linewidths=0.4)
            ax.text(m.x, m.y + 9, m.label, fontsize=4, ha="center", va="top", alpha=0.4 + 0.6 * rel)
        else:
            ax.scatter([m.x], [m.y], s=20 + 380 * float(v), facecolors="none", edgecolors="#ffe14d",
                       linewidths=0.6 + 1.6 * rel, alpha=0.25 + 0.75 * rel)
    best = int(np.argmax(a))
    ax.set_xlabel(f"{marks[best].label} {float(a[best]):.2f}", fontsize=6, labelpad=1)


def _answer_panel(ax, expl: Explanation, t: int) -> None:
    _background(ax, expl, t)
    w, h = _frame_size(expl)
    if expl.canvas is None and expl.feature_hw is None and t < len(expl.objects):
        for m in expl.objects[t]:
            ax.scatter([m.x], [m.y], s=25, color=m.rgb, edgecolors="k", linewidths=0.4)
            ax.text(m.x, m.y + 9, m.label, fontsize=4, ha="center", va="top")
    if expl.point_mask is not None and expl.point_mask[t] and expl.target_point is not None:
        tx, ty = expl.target_point[t]
        ax.scatter([tx * w], [ty * h], s=160, facecolors="none", edgecolors="white", linewidths=1.5,
                   path_effects=_OUTLINE, label="target")
        if expl.pred_point is not None:
            px, py = expl.pred_point[t]
            ax.scatter([px * w], [py * h], s=60, marker="x", color="#00e5ff", linewidths=2, label="predicted")
    ax.set_title(f"frame {t + 1}/{expl.frames}", fontsize=8, pad=2)
    ax.set_xlabel(f"pred {expl.pred[t]}\ntarget {expl.target[t]}", fontsize=7, labelpad=1,
                  color=_VERDICT[expl.correct[t]])


def _matrix(ax, m: np.ndarray, labels: list[str], title: str, cmap: str = "viridis", vmax: float = 1.0) -> None:
    """m (rows, K) in [0, 1], one column per reasoning step; colours span 0..vmax."""
    rows, K = m.shape
    ax.imshow(m, vmin=0.0, vmax=vmax, cmap=cmap, aspect="auto", interpolation="nearest")
    ax.set_yticks(range(rows), labels, fontsize=6)
    ax.set_xticks(range(K), [str(k + 1) for k in range(K)], fontsize=6)
    ax.tick_params(length=0, pad=1)
    ax.set_title(title, fontsize=7, pad=2, loc="left")
    if rows <= 8:
        for r in range(rows):
            for k in range(K):
                v = float(m[r, k])
                ax.text(k, r, f"{v:.2f}"[1:] if 0 <= v < 1 else f"{v:.0f}", ha="center", va="center",
                        fontsize=5, color="white" if v < 0.6 * vmax else "black")


def _top_panel(ax, expl: Explanation, t: int) -> None:
    top = expl.top[t][::-1]  # most probable at the top
    ax.barh(range(len(top)), [p for _, p in top], color="#9db4d8", height=0.8)
    for i, (word, p) in enumerate(top):
        ax.text(0.03, i, f"{word} {p:.2f}", fontsize=6, va="center", ha="left")
    ax.set_xlim(0, 1)
    ax.set_yticks([])
    ax.tick_params(axis="x", labelsize=5, length=2, pad=1)
    ax.set_title("top answers", fontsize=7, pad=2, loc="left")


def frame_figure(expl: Explanation, t: int, dpi: int = 80) -> Figure:
    """The figure of frame ``t`` (layout in the module docstring)."""
    K, S, L = expl.steps, expl.slots, max(len(expl.tokens), 1)
    col = max(1.05, 5.0 / K)  # inches per step column
    left, right_col, pad = 0.85, 1.55, 0.2
    width = left + K * col + right_col + pad
    heights = [col, max(0.9, _CELL_H * L + 0.3), _CELL_H * 4 + 0.3, _CELL_H * 4 + 0.3,
               _CELL_H * S + 0.3, _CELL_H * S + 0.3]
    top_in, bottom_in = 0.8, 0.3
    height = top_in + sum(heights) + bottom_in + 0.25 * len(heights)
    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    gs = fig.add_gridspec(len(heights), K + 1, height_ratios=heights, width_ratios=[1.0] * K + [right_col / col],
                          left=left / width, right=1 - pad / width, top=1 - top_in / height,
                          bottom=bottom_in / height, hspace=0.55, wspace=0.12)
    title = textwrap.fill(f"{expl.family}: {expl.question}", int(width * 13))
    fig.text(0.5, 1 - 0.06 / height, title, ha="center", va="top", fontsize=9, fontweight="bold")
    verdict = {True: "correct", False: "wrong", None: "no target"}[expl.correct[t]]
    fig.text(0.5, 1 - 0.5 / height, f"{expl.model} · {expl.world}/{expl.path} · frame {t + 1}/{expl.frames} · "
             f"predicted {expl.pred[t]} · target {expl.target[t]} ({verdict})", ha="center", va="top",
             fontsize=8, color=_VERDICT[expl.correct[t]])
    for k in range(K):
        _attention_panel(fig.add_subplot(gs[0, k]), expl, t, k)
    _answer_panel(fig.add_subplot(gs[0, K]), expl, t)
    words = expl.word_attention[t].T  # (L, K)
    labels = expl.tokens or ["?"]
    if expl.pad_attention is not None:  # the reference question padding: attention on it as one more row
        words, labels = np.vstack([words, expl.pad_attention[t][None]]), [*labels, "(padding)"]
    word_max = max(float(words.max()), min(1.0, 3.0 / L))  # uniform attention (1/L) stays dim
    word_title = f"word attention (colours 0–{word_max:.2f})" + (
        "; question reversed, as the model reads it" if expl.reversed_question else "")
    slots = [f"slot {s}" for s in range(S)]
    _matrix(fig.add_subplot(gs[1, :K]), words, labels, word_title, vmax=word_max)
    _matrix(fig.add_subplot(gs[2, :K]), expl.temporal[t].T, list(TEMPORAL_CLASSES), "temporal class")
    _matrix(fig.add_subplot(gs[3, :K]), expl.gates[t].T, list(GATES), "gates", cmap="magma")
    _matrix(fig.add_subplot(gs[4, :K]), expl.read_head[t].T, slots, "memory read head", cmap="cividis")
    _matrix(fig.add_subplot(gs[5, :K]), expl.write_weight[t].T, slots, "memory write weight", cmap="cividis")
    _top_panel(fig.add_subplot(gs[1, K]), expl, t)
    legend = ("columns: reasoning steps\n\n"
              "visual attention: " + ("heat map over the\nfeature map" if expl.feature_hw else
                                      "rings sized by\nweight") +
              "\n\ngates: image_match,\nmemory_match pick the\nobject; do_replace,\ndo_add_new write memory")
    note = fig.add_subplot(gs[2:, K])
    note.axis("off")
    note.text(0.08, 1.0, legend, fontsize=6, va="top", ha="left", color="#444444", transform=note.transAxes)
    return fig


def figure_rgb(fig: Figure) -> np.ndarray:
    """Rasterise ``fig``: (H, W, 3) uint8."""
    canvas = fig.canvas
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()
