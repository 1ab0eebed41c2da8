"""Whether the papers' directions hold in measured transfer tables: one line per claim, yes / no / n.a.

The claims are those of Jayram et al., 2019 (*Transfer Learning in Visual and Relational Reasoning*) with the
anchors of vrkit's transfer goals (docs/transfer.md, "Reading the tables"):

* temporal (section 5.4, Fig. 4): zero-shot on hard >= 0.9 x canonical; SAMNet's zero-shot >= the COG baseline's
  + 10 points; one fine-tuning epoch on hard recovers >= half of the canonical - zero-shot gap; fine-tuning >=
  training on hard directly (the paper's +0.6);
* feature (CoGenT, Fig. 3; COG's colour x shape split the same way): B below A when training on A, by >= 5
  points, for every model; fine-tuning on B closes >= half of the A - B gap;
* reasoning (Figs. 5, 6): all-but-t (zero-shot) below only-t for every task; fine-tuning on t recovers.

Each line names the measured numbers it rests on (means over seeds, %) and, where a paper reports them, the
paper's (:mod:`vrkit.transfer.paper_figures`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from vrkit.transfer.paper_figures import CANONICAL, FT_B, FT_HARD, HARD, TRAIN_A, ZERO_SHOT_HARD, value

if TYPE_CHECKING:
    from vrkit.transfer.table import Cell

ONLY_T, BUT_T, BUT_T_FT = "only t", "all but t (zero-shot)", "all but t + ft t [full]"


def _pct(x: float) -> str:
    return f"{x:.1f}"


def _verdict(ok: bool | None) -> str:
    return "n.a." if ok is None else "yes" if ok else "no"


class _Table:
    """Mean accuracies (%) of one recipe's cells by (model, condition, task)."""

    def __init__(self, cells: Sequence[Cell]) -> None:
        self.acc = {(c.model, c.condition, c.task): 100 * c.mean for c in cells}
        self.models = list(dict.fromkeys(c.model for c in cells))
        self.tasks = list(dict.fromkeys(c.task for c in cells))

    def get(self, model: str, condition: str, task: str = "all") -> float | None:
        return self.acc.get((model, condition, task))


def _temporal(t: _Table) -> list[str]:
    lines = []
    for m in t.models:
        can, zs, ft, hard = (t.get(m, k) for k in (CANONICAL, ZERO_SHOT_HARD, FT_HARD, HARD))
        if can is not None and zs is not None:
            paper = " (paper, SAMNet: 91.6 vs 0.9 × 98.0 = 88.2)" if m == "samnet" else ""
            lines.append(f"{m}: zero-shot hard ≥ 0.9 × canonical: {_verdict(zs >= 0.9 * can)} "
                         f"({_pct(zs)} vs 0.9 × {_pct(can)} = {_pct(0.9 * can)}){paper}")
        if can is not None and zs is not None and ft is not None:
            gap = can - zs
            ok = None if gap <= 0 else ft - zs >= gap / 2
            lines.append(f"{m}: 1-epoch fine-tuning on hard recovers ≥ half of the canonical − zero-shot gap: "
                         f"{_verdict(ok)} ({_pct(zs)} → {_pct(ft)}, gap {_pct(gap)})"
                         + (" (paper, SAMNet: 91.6 → 96.7, gap 6.4)" if m == "samnet" else ""))
        if ft is not None and hard is not None:
            lines.append(f"{m}: fine-tuned ≥ trained on hard: {_verdict(ft >= hard)} ({_pct(ft)} vs {_pct(hard)})"
                         + (" (paper, SAMNet: +0.6)" if m == "samnet" else ""))
    s, b = t.get("samnet", ZERO_SHOT_HARD), t.get("cog_baseline", ZERO_SHOT_HARD)
    if s is not None and b is not None:
        lines.append(f"samnet zero-shot hard ≥ cog_baseline zero-shot + 10: {_verdict(s >= b + 10)} "
                     f"({_pct(s)} vs {_pct(b)}; paper {value('temporal', 'samnet', ZERO_SHOT_HARD)} vs "
                     f"{value('temporal', 'cog_baseline', ZERO_SHOT_HARD)})")
    return lines


def _every(items: list[tuple[str, float, float]], ok: Callable[[float, float], bool], claim: str) -> str:
    """One line for a claim over several (label, x, y) pairs: yes if it holds for every one."""
    detail = "; ".join(f"{label} {_pct(x)} vs {_pct(y)}" for label, x, y in items)
    return f"{claim}: {_verdict(all(ok(x, y) for _, x, y in items))} ({detail})"


def _feature(t: _Table) -> list[str]:
    gaps = [(m, a, b) for m in t.models
            if (a := t.get(m, TRAIN_A, "A")) is not None and (b := t.get(m, TRAIN_A, "B")) is not None]
    if not gaps:
        return []
    lines = [_every(gaps, lambda a, b: b < a, "B below A (train A) for every model"),
             _every(gaps, lambda a, b: b <= a - 5, "B at least 5 points below A for every model")]
    closed = [(m, a, b, ft) for m, a, b in gaps if (ft := t.get(m, FT_B, "B")) is not None]
    if closed:
        ok = [ft - b >= (a - b) / 2 for _, a, b, ft in closed if a > b]
        lines.append("fine-tuning on B closes ≥ half of the A − B gap for every model: "
                     f"{_verdict(all(ok) if ok else None)} ("
                     + "; ".join(f"{m}: A {_pct(a)}, B {_pct(b)} → {_pct(ft)}" for m, a, b, ft in closed) + ")")
    return lines


def _reasoning(t: _Table) -> list[str]:
    lines = []
    for m in t.models:
        zero = [(task, x, y) for task in t.tasks
                if (x := t.get(m, BUT_T, task)) is not None and (y := t.get(m, ONLY_T, task)) is not None]
        if zero:
            lines.append(_every(zero, lambda x, y: x < y, f"{m}: all-but-t below only-t for every task"))
        rec = [(task, x, y) for task in t.tasks
               if (x := t.get(m, BUT_T_FT, task)) is not None and (y := t.get(m, BUT_T, task)) is not None]
        if rec:
            lines.append(_every(rec, lambda x, y: x > y,
                                f"{m}: fine-tuning on t recovers (all-but-t + ft above all-but-t) for every task"))
    return lines


CHECKS: dict[str, Callable[[_Table], list[str]]] = {"temporal": _temporal, "feature": _feature,
                                                     "reasoning": _reasoning}


def direction_lines(recipe: str, cells: Sequence[Cell]) -> list[str]:
    """The claims of ``recipe``'s table (``feature_cog`` is checked as ``feature`` ...) with their verdicts."""
    check = CHECKS.get(recipe.split("_", 1)[0])
    return check(_Table(cells)) if check else []
