"""Text realisation of an instantiated template (the original engine's ``generate_questions.py`` rules: synonyms,
optional ``[...]`` parts, the "other" heuristic, a/an, capitalisation), and the set of words it can produce."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import numpy as np

from vrkit.errors import InputError

#: canonical value -> spoken alternatives (vrkit's own choices, within the released CLEVR words; NULL shape is
#: "thing").
SYNONYMS: dict[str, tuple[str, ...]] = {
    "thing": ("thing", "object"),
    "sphere": ("sphere", "ball"),
    "cube": ("cube", "block"),
    "cylinder": ("cylinder",),
    "large": ("large", "big"),
    "small": ("small", "tiny"),
    "metal": ("metal", "metallic", "shiny"),
    "rubber": ("rubber", "matte"),
    "left": ("left of", "to the left of", "on the left side of"),
    "right": ("right of", "to the right of", "on the right side of"),
    "behind": ("behind",),
    "front": ("in front of",),
}



def load_synonyms(path: str | Path) -> dict[str, tuple[str, ...]]:
    """A synonyms JSON file (value -> list of alternatives, the original engine's format)."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("file not found", path) from None
    except json.JSONDecodeError as err:
        raise InputError(f"invalid JSON: {err.msg}", path, err.lineno) from None
    if not isinstance(raw, dict):
        raise InputError("synonyms must be a JSON object", path)
    out = {}
    for k, v in raw.items():
        if not (isinstance(v, list) and v and all(isinstance(x, str) for x in v)):
            raise InputError(f"synonyms for {k!r} must be a non-empty list of strings", path)
        out[k] = tuple(v)
    return out


_WS = re.compile(r"\s+")
_ARTICLE = re.compile(r"\b([Aa]) ([aeiouAEIOU])")
_OPTIONAL = re.compile(r"\[([^\[\]]*)\]")


def _collapse(s: str) -> str:
    return _WS.sub(" ", s).strip()


def realise(
    texts: list[str],
    bindings: dict[str, tuple[str, str | None]],
    rng: np.random.Generator,
    other_pairs: list[tuple[str, str]] | None = None,
    synonyms: dict[str, tuple[str, ...]] = SYNONYMS,
) -> str:
    """One question string.

    ``bindings``: param name -> (kind, value or None for NULL), in binding order. ``other_pairs``: for
    same_relate-style templates (params exactly two groups) the (param, param2) pairs of the "other"
    heuristic; when any pair has two different non-empty values, " other " / " another " are dropped."""
    text = texts[int(rng.integers(len(texts)))]
    spoken: dict[str, str] = {}
    for name, (kind, value) in bindings.items():
        canon = value if value is not None else ("thing" if kind == "shape" else "")
        spoken[name] = canon
        choices = synonyms.get(canon, (canon,))
        word = choices[int(rng.integers(len(choices)))] if len(choices) > 1 else choices[0]
        text = _collapse(text.replace(name, word))
    while True:
        m = _OPTIONAL.search(text)
        if m is None:
            break
        keep = rng.random() < 0.5
        text = text[: m.start()] + (m.group(1) if keep else "") + text[m.end():]
    text = _collapse(text)
    differ = other_pairs and any(spoken.get(a) and spoken.get(b) and spoken[a] != spoken[b]
                                 for a, b in other_pairs)
    if differ and (" other " in text or " another " in text):
        text = text.replace(" other ", " ").replace(" another ", " a ")
    text = _ARTICLE.sub(lambda m: f"{m.group(1)}n {m.group(2)}", text)
    text = text.replace(" ?", "?").replace(" ;", ";").replace(" ,", ",")
    return text[:1].upper() + text[1:]


_SLOT = re.compile(r"<([ZCMSR])\d*>")
_KIND = {"Z": "size", "C": "color", "M": "material", "S": "shape"}


def question_tokens(question: str) -> list[str]:
    """The tokens of a question as clevr-iep's preprocessing splits them (``iep/preprocess.py``: ``;`` and ``,``
    are tokens of their own, ``?`` and ``.`` are removed, split on spaces); empty tokens dropped."""
    for p in (";", ","):
        question = question.replace(p, f" {p}")
    for p in ("?", "."):
        question = question.replace(p, "")
    return [t for t in question.split(" ") if t]


def _optional_variants(text: str) -> list[str]:
    m = _OPTIONAL.search(text)
    if m is None:
        return [text]
    return [v for keep in (m.group(1), "") for v in _optional_variants(text[: m.start()] + keep + text[m.end():])]


def _fill(token: str, values: tuple[str, ...]) -> str:
    """``token`` with its slots replaced by ``values`` in order."""
    it = iter(values)
    return _SLOT.sub(lambda _m: next(it), token)


def text_words(texts: list[str], synonyms: dict[str, tuple[str, ...]] = SYNONYMS) -> set[str]:
    """Every word (:func:`question_tokens`) that :func:`realise` can produce from ``texts``, over every optional
    part, parameter value and synonym (also the first word capitalised, and "an" for "a")."""
    from vrkit.worlds.clevr.constants import ATTRIBUTES, RELATIONS

    def spoken(letter: str) -> set[str]:
        values = RELATIONS if letter == "R" else (*ATTRIBUTES[_KIND[letter]], "thing" if letter == "S" else "")
        return {w for v in values for w in synonyms.get(v, (v,))}

    words: set[str] = set()
    for text in texts:
        for variant in _optional_variants(text):
            first = True
            for token in variant.split():
                slots = _SLOT.findall(token)
                forms = [_fill(token, c) for c in itertools.product(*(sorted(spoken(x)) for x in slots))]
                found = {t for f in forms for t in question_tokens(f)}
                words |= found
                if first:
                    words |= {t[:1].upper() + t[1:] for t in found}
                    first = bool(slots) and "" in {f.strip() for f in forms}  # an empty slot: the next is first
            if " a " in f" {variant} " or " another " in f" {variant} ":
                words |= {"an", "a"}
    return words
