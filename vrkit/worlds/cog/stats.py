"""Per-family statistics of COG data and their comparison with the original generator
(docs/world-cog.md, 'Statistics against the original').

Tolerances (issue [1]): P(true) at the last frame within ±5 points, the invalid share of each frame
within ±3 points, mean objects per example within ±10 %.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from vrkit.worlds.cog._reference_stats import REFERENCE
from vrkit.worlds.cog.constants import FIXED_SCENE_FAMILIES

TOL_PTRUE, TOL_INVALID, TOL_OBJECTS = 0.05, 0.03, 0.10


@dataclass
class FamilyStats:
    n: int = 0
    true_last: int = 0
    bool_last: int = 0
    invalid: list[int] = field(default_factory=list)
    objects: int = 0
    distractors: int = 0
    tokens: set[int] = field(default_factory=set)

    @property
    def p_true(self) -> float | None:
        return self.true_last / self.bool_last if self.bool_last else None

    @property
    def invalid_share(self) -> list[float]:
        return [c / self.n for c in self.invalid]

    @property
    def mean_objects(self) -> float:
        return self.objects / self.n

    @property
    def mean_distractors(self) -> float:
        return self.distractors / self.n


def collect(examples: Iterable[dict]) -> dict[str, FamilyStats]:
    """Accumulate per-family statistics over official example dicts."""
    out: dict[str, FamilyStats] = defaultdict(FamilyStats)
    for ex in examples:
        s = out[ex["family"]]
        answers = ex["answers"]
        if len(s.invalid) < len(answers):
            s.invalid.extend([0] * (len(answers) - len(s.invalid)))
        s.n += 1
        for t, a in enumerate(answers):
            if a == "invalid":
                s.invalid[t] += 1
        # The last frame, except fixed-scene families in long variants, whose frames >= 4 are empty.
        last = 3 if ex["family"] in FIXED_SCENE_FAMILIES and len(answers) > 4 else len(answers) - 1
        a = answers[last]
        if a in ("true", "false"):
            s.bool_last += 1
            s.true_last += a == "true"
        s.objects += len(ex["objects"])
        s.distractors += sum(o["is_distractor"] for o in ex["objects"])
        s.tokens.add(len(ex["question"].split()))
    return dict(out)


@dataclass
class Deviation:
    family: str
    quantity: str
    ours: float
    reference: float
    tolerance: float

    @property
    def ok(self) -> bool:
        if self.quantity == "objects":
            return abs(self.ours - self.reference) <= self.tolerance * self.reference
        return abs(self.ours - self.reference) <= self.tolerance + 1e-12


def compare(stats: dict[str, FamilyStats], variant: str) -> list[Deviation]:
    """Every compared cell (P(true), invalid per frame, objects) against the original's REF figures."""
    ref = REFERENCE[variant]
    rows: list[Deviation] = []
    for fam, s in sorted(stats.items()):
        p_ref, inv_ref, obj_ref, _dis_ref, _q = ref[fam]
        if p_ref is not None and s.p_true is not None:
            rows.append(Deviation(fam, "p_true", s.p_true, p_ref, TOL_PTRUE))
        for t, (ours, theirs) in enumerate(zip(s.invalid_share, inv_ref)):
            rows.append(Deviation(fam, f"invalid[{t}]", ours, theirs, TOL_INVALID))
        rows.append(Deviation(fam, "objects", s.mean_objects, obj_ref, TOL_OBJECTS))
    return rows
