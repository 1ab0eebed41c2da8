"""The published figures vrkit's transfer tables are read against (one home for every reported number).

Each :class:`PaperFigure` is one cell of a vrkit table — (recipe table, model, condition, task), named exactly as
the recipes name them (:mod:`vrkit.transfer.recipes`) — with the accuracy (%) a paper reports for it and where.
The tables put the figure in a "paper" column beside the measured cell and the figures mark it on the bar
(:mod:`vrkit.transfer.table`, :mod:`vrkit.transfer.figure`); :mod:`vrkit.transfer.direction` states whether the
papers' directions hold in the measured numbers.

Sources:

* Jayram et al., 2019, *Transfer Learning in Visual and Relational Reasoning* (SAMNet), section 5.4 and Fig. 4:
  temporal transfer on COG, SAMNet against the COG baseline of Yang et al., 2018 — zero-shot on hard 91.6 vs
  65.9, one fine-tuning epoch on hard 96.7 vs 78.1, and fine-tuning +0.6 over training on hard (so hard → hard
  is 96.1 for SAMNet); SAMNet trained and tested on canonical: 98.0 (Fig. 4, first column). The paper's CoGenT
  and reasoning-transfer results (Figs. 3, 5, 6) are bar charts without printed numbers: no cells here.
* Perez et al., 2018, *FiLM: Visual Reasoning with a General Conditioning Layer*, CLEVR-CoGenT results (train on
  A, test A/B; fine-tuned on 3k B images, test A/B), for FiLM and the two baselines it reports — models vrkit does
  not have, shown as reference rows under the feature tables.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

SAMNET_PAPER = "Jayram et al., 2019, Transfer Learning in Visual and Relational Reasoning"
FILM_PAPER = "Perez et al., 2018, FiLM: Visual Reasoning with a General Conditioning Layer"

# Condition names of the recipes (recipes.py) the figures are attached to.
CANONICAL = "canonical → canonical"
ZERO_SHOT_HARD = "canonical → hard (zero-shot)"
FT_HARD = "canonical + ft hard [full] → hard"
HARD = "hard → hard"
TRAIN_A = "train A"
FT_B = "train A + ft B [full]"


@dataclass(frozen=True)
class PaperFigure:
    recipe: str  # table name (recipes.table_label): temporal, feature, reasoning, feature_cog ...
    model: str  # vrkit model name, or a reference model vrkit does not have (shown as a reference row)
    condition: str
    task: str
    value: float  # accuracy, %
    source: str  # the paper and where in it
    note: str = ""  # how the figure follows from the paper's text, if it is not printed as such


def _temporal(model: str, condition: str, value: float, note: str = "") -> PaperFigure:
    return PaperFigure("temporal", model, condition, "all", value, f"{SAMNET_PAPER}, section 5.4 and Fig. 4", note)


def _film(model: str, a: float, b: float, ft_a: float, ft_b: float) -> list[PaperFigure]:
    src = f"{FILM_PAPER}, CLEVR-CoGenT results"
    return [PaperFigure("feature", model, TRAIN_A, "A", a, src), PaperFigure("feature", model, TRAIN_A, "B", b, src),
            PaperFigure("feature", model, FT_B, "A", ft_a, src), PaperFigure("feature", model, FT_B, "B", ft_b, src)]


FIGURES: tuple[PaperFigure, ...] = (
    _temporal("samnet", CANONICAL, 98.0),
    _temporal("samnet", ZERO_SHOT_HARD, 91.6),
    _temporal("samnet", FT_HARD, 96.7),
    _temporal("samnet", HARD, 96.1, "hard → hard = 96.7 − 0.6: fine-tuning is +0.6 over training on hard"),
    _temporal("cog_baseline", ZERO_SHOT_HARD, 65.9),
    _temporal("cog_baseline", FT_HARD, 78.1),
    *_film("FiLM (FiLM paper)", 98.3, 75.6, 80.8, 96.9),
    *_film("IEP, 18k programs (FiLM paper)", 96.6, 73.7, 76.1, 92.7),
    *_film("CNN+LSTM+SA (FiLM paper)", 80.3, 68.7, 75.7, 75.8),
)

_INDEX = {(f.recipe, f.model, f.condition, f.task): f for f in FIGURES}
assert len(_INDEX) == len(FIGURES), "one figure per cell"


def figure(recipe: str, model: str, condition: str, task: str) -> PaperFigure | None:
    """The published figure of one table cell, or None if no paper reports it."""
    return _INDEX.get((recipe, model, condition, task))


def value(recipe: str, model: str, condition: str, task: str = "all") -> float:
    """The published accuracy (%) of a cell that has one (KeyError otherwise: the caller names a known cell)."""
    return _INDEX[(recipe, model, condition, task)].value


def reference_models(recipe: str, measured: Iterable[str]) -> list[str]:
    """Models with published figures for ``recipe`` that are not among the ``measured`` ones, in table order."""
    seen = set(measured)
    return list(dict.fromkeys(f.model for f in FIGURES if f.recipe == recipe and f.model not in seen))
