"""CLEVR question generation (docs/world-clevr.md, 'Questions'): template instantiation with answer balancing,
degeneracy and constraint checks, round-robin template order, and text realisation.

Usage::

    gen = QuestionGenerator()                       # vrkit's own templates; or load_templates(dir)
    qs = gen.generate(scenes, np.random.default_rng(0))   # released-format question dicts

Each question carries the released keys (``question_index``, ``image_index``, ``image_filename``,
``split``, ``question``, ``answer``, ``program``, ``question_family_index`` = global id 0-89);
:func:`question_type` gives its reporting type from the program's last function.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from vrkit.worlds.clevr._search import SceneContext, Search, relate_irrelevant
from vrkit.worlds.clevr.constants import ATTRIBUTES
from vrkit.worlds.clevr.constants import question_type as _type_of_last
from vrkit.worlds.clevr.executor import apply
from vrkit.worlds.clevr.templates import Template, load_templates
from vrkit.worlds.clevr.text import SYNONYMS, realise


@dataclass
class GeneratorConfig:
    """Engine settings (defaults = the original engine's)."""

    templates_per_image: int = 10
    reset_every: int = 250  # images between counter resets
    search_budget: int = 3_000  # option trials per template and scene (the original searches exhaustively)
    balance: bool = True


def question_type(question: dict) -> str:
    """Reporting type (exist, count, compare_integer, query_attribute, compare_attribute)."""
    return _type_of_last(question["program"][-1]["function"])


def _answer_space(kind: str) -> list[str]:
    if kind == "bool":
        return ["yes", "no"]
    if kind == "int":
        return [str(i) for i in range(11)]
    return list(ATTRIBUTES[kind])


def balance_ok(counts: dict[str, int], answer: str) -> bool:
    """The two answer-balancing rejection rules for a candidate ``answer`` given the window's counts."""
    c = counts.get(answer, 0)
    vals = sorted(counts.values())
    if len(vals) > 1 and c > 1.1 * vals[-2]:
        return False
    median = vals[len(vals) // 2]
    return not c > 5 * max(median, 5)


def is_degenerate(program: list[tuple], index, answer: str | None = None, outs: list | None = None) -> bool:
    """The degeneracy test: True if replacing some ``relate`` by ``scene`` leaves the program's answer unchanged.

    ``program``: (function, inputs, value or None) tuples; ``outs``: their outputs if known (only the
    nodes downstream of the replaced relate are then recomputed). ``answer`` is accepted for clarity
    but the comparison uses the recomputed raw outputs."""
    if outs is None:
        outs = []
        for fn, ins, val in program:
            outs.append(apply(index, fn, [outs[i] for i in ins], val))
    return relate_irrelevant(program, outs, index)


class QuestionGenerator:
    """Stateful engine: per-template question and answer counters, reset every ``reset_every`` images."""

    def __init__(self, templates: list[Template] | None = None, config: GeneratorConfig | None = None,
                 synonyms: dict[str, tuple[str, ...]] | None = None) -> None:
        self.templates = load_templates() if templates is None else templates
        self.config = config or GeneratorConfig()
        self.synonyms = SYNONYMS if synonyms is None else synonyms
        self._other_pairs = {t.family: self._other(t) for t in self.templates}
        self.images_done = 0
        self.reset_counters()

    @staticmethod
    def _other(t: Template) -> list[tuple[str, str]] | None:
        names = set(t.params)
        g = {f"<{c}>" for c in "ZCMS"} | {f"<{c}2>" for c in "ZCMS"}
        return [(f"<{c}>", f"<{c}2>") for c in "ZCMS"] if names == g else None

    def reset_counters(self) -> None:
        self.question_counts = {t.family: 0 for t in self.templates}
        self.answer_counts = {t.family: dict.fromkeys(_answer_space(t.answer_kind), 0) for t in self.templates}

    def generate_for_scene(self, scene: dict, rng: np.random.Generator) -> list[dict]:
        """Up to ``templates_per_image`` questions (one per template) for one scene, in template order."""
        cfg = self.config
        if self.images_done and self.images_done % cfg.reset_every == 0:
            self.reset_counters()
        self.images_done += 1
        ctx = SceneContext(scene)
        order = sorted(self.templates, key=lambda t: self.question_counts[t.family])  # stable
        out: list[dict] = []
        for t in order:
            if len(out) >= cfg.templates_per_image:
                break
            q = self.instantiate(t, ctx, rng)
            if q is not None:
                out.append(q)
        for q in out:
            q.update(image_index=scene.get("image_index", 0), image_filename=scene.get("image_filename", ""),
                     split=scene.get("split", ""))
        return out

    def instantiate(self, t: Template, ctx: SceneContext, rng: np.random.Generator) -> dict | None:
        """One question from template ``t`` on the scene of ``ctx`` (None if impossible); updates counters."""
        counts = self.answer_counts[t.family]
        balance = self.config.balance

        blocked = frozenset(a for a in counts if balance and not balance_ok(counts, a))

        def accept(ans: str, program: list[tuple], outs: list) -> bool:
            if balance and not balance_ok(counts, ans):
                return False
            return not (t.has_raw_relate and relate_irrelevant(program, outs, ctx.index))

        s = Search(ctx, t, rng, accept, self.config.search_budget, blocked)
        if not s.run():
            return None
        counts[s.answer] = counts.get(s.answer, 0) + 1
        self.question_counts[t.family] += 1
        text = realise(t.text, s.bindings, rng, self._other_pairs[t.family], self.synonyms)
        program = s.released_program()
        return {"question": text, "answer": s.answer, "program": program, "question_family_index": t.family}

    def generate(self, scenes: Iterable[dict], rng: np.random.Generator, start_index: int = 0) -> list[dict]:
        """Questions for every scene in order, numbered from ``start_index``."""
        out: list[dict] = []
        for scene in scenes:
            for q in self.generate_for_scene(scene, rng):
                out.append({"question_index": start_index + len(out), **_ordered(q)})
        return out


def generate_questions(scenes: list[dict], seed: int, templates: list[Template] | None = None,
                       config: GeneratorConfig | None = None, synonyms: dict | None = None) -> list[dict]:
    """Questions for ``scenes`` by windows of ``config.reset_every`` (250) images: each window runs a fresh
    engine seeded from (seed, window index), which is what the original's counter reset amounts to and
    makes the output independent of how windows are spread over worker processes."""
    config = config or GeneratorConfig()
    templates = load_templates() if templates is None else templates
    w = config.reset_every
    out: list[dict] = []
    for k in range(0, len(scenes), w):
        gen = QuestionGenerator(templates, config, synonyms)
        out += gen.generate(scenes[k:k + w], np.random.default_rng([seed, k // w]), start_index=len(out))
    return out


def _ordered(q: dict) -> dict:
    keys = ("image_index", "image_filename", "split", "question", "answer", "program", "question_family_index")
    return {k: q[k] for k in keys}
