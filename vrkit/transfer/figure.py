"""Bar figures laid out like those of Jayram et al., 2019 (matplotlib, Agg backend, PNG written atomically).

* temporal (Fig. 4): one panel; x = condition (canonical→canonical, zero-shot, fine-tuned, hard→hard),
  one bar per model.
* feature (Fig. 3): one panel per model, side by side; x = test set (A, B), one bar per condition
  (train A; train A + fine-tune B per mode).
* reasoning (Figs. 5, 6): one panel per model, side by side; x = task, one bar per condition.
Error bars are the std over seeds; a black tick on a bar marks the paper's figure for the same cell, where a
paper reports one (:mod:`vrkit.transfer.paper_figures`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from vrkit.transfer.table import ordered
from vrkit.utils.atomic import atomic_path

if TYPE_CHECKING:
    import numpy as np

    from vrkit.transfer.table import Cell


HEADS = {"feature": "Feature transfer: CLEVR-CoGenT", "feature_cog": "Feature transfer: COG colour × shape split",
         "reasoning": "Reasoning transfer", "reasoning_clevr": "Reasoning transfer (CLEVR)",
         "zeroshot": "Zero-shot task transfer (TTNet)",
         "pretrain": "CATER snitch localisation (top-1) by initialisation",
         "pretrain_probe": "CATER snitch localisation: linear probes"}


def grouped_bars(ax, groups: Sequence[str], series: Mapping[str, Sequence[float]],
                 errors: Mapping[str, Sequence[float]] | None = None, rotation: float = 0,
                 fontsize: float = 8) -> np.ndarray:
    """Grouped bar chart on a matplotlib ``ax``: one bar per series (name = legend label, one value per group;
    NaN: no bar) side by side within each group, tab10 colours in series order, optional error bars; groups are
    the x tick labels (rotated ``rotation`` degrees, right-aligned when rotated). Returns the groups' x positions.
    The transfer figures and the demo's per-family accuracy figure draw their bars with it."""
    import matplotlib
    import numpy as np

    pos = np.arange(len(groups))
    width = 0.8 / max(1, len(series))
    cmap = matplotlib.colormaps["tab10"]
    for j, (name, values) in enumerate(series.items()):
        ax.bar(pos + (j - (len(series) - 1) / 2) * width, values, width,
               yerr=None if errors is None else errors[name], capsize=2, label=name, color=cmap(j % 10))
    ax.set_xticks(pos, groups, rotation=rotation, ha="right" if rotation else "center", fontsize=fontsize)
    return pos


def _bars(ax, cells: Sequence[Cell], x_of, hue_of, title: str, paper=None) -> None:
    """Bars of ``cells``; ``paper(x, hue)`` gives a published figure (%) to mark on a bar, or None."""
    xs, hues = ordered(x_of(c) for c in cells), ordered(hue_of(c) for c in cells)
    by = {(x_of(c), hue_of(c)): c for c in cells}
    means = {h: [100 * by[(x, h)].mean if (x, h) in by else 0.0 for x in xs] for h in hues}
    stds = {h: [100 * by[(x, h)].std if (x, h) in by else 0.0 for x in xs] for h in hues}
    pos = grouped_bars(ax, xs, means, stds, rotation=30 if len(xs) > 3 or max(map(len, xs)) > 14 else 0)
    width = 0.8 / max(1, len(hues))
    marks = [(pos[i] + (j - (len(hues) - 1) / 2) * width, v) for j, h in enumerate(hues) for i, x in enumerate(xs)
             if paper is not None and (x, h) in by and (v := paper(x, h)) is not None]
    if marks:  # the paper's figure for the same cell: a black bar-wide tick
        ax.scatter([m[0] for m in marks], [m[1] for m in marks], marker="_", s=(220 * width) ** 2 / 4,
                   color="black", linewidths=2, zorder=3, label="paper")
    ax.set_ylim(0, 125)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="upper center", ncol=min(len(hues), 3))


def _paper(recipe: str, model: str, condition: str, task: str) -> float | None:
    from vrkit.transfer.paper_figures import figure

    f = figure(recipe, model, condition, task)
    return None if f is None else f.value


def plot_recipe(cells: Sequence[Cell], out: str | Path) -> Path:
    """Draw the figure of one recipe's cells into ``out`` (PNG); returns the path."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    recipe = cells[0].recipe
    models = ordered(c.model for c in cells)
    if recipe == "temporal":
        fig, ax = plt.subplots(figsize=(max(6, 1.8 * len(ordered(c.condition for c in cells))), 4))
        _bars(ax, cells, lambda c: c.condition, lambda c: c.model, "Temporal transfer: COG canonical → hard",
              lambda x, h: _paper(recipe, h, x, "all"))
    else:
        n_x = len(ordered(c.task for c in cells))
        fig, axes = plt.subplots(1, len(models), figsize=(max(5, 0.9 * n_x + 3) * len(models), 4.5),
                                 squeeze=False, sharey=True)
        head = HEADS.get(recipe, f"{recipe} transfer")
        for ax, m in zip(axes[0], models, strict=True):
            _bars(ax, [c for c in cells if c.model == m], lambda c: c.task, lambda c: c.condition,
                  f"{head} — {m}", lambda x, h, m=m: _paper(recipe, m, h, x))
    fig.tight_layout()
    out = Path(out)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)
    return out
