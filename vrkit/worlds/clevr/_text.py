"""Text realisation of an instantiated template (clevr-spec.md §4.6), with vrkit's own synonym table."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from vrkit.errors import InputError

#: canonical value -> spoken alternatives (vrkit's own choices; NULL shape is "thing").
SYNONYMS: dict[str, tuple[str, ...]] = {
    "thing": ("thing", "object"),
    "sphere": ("sphere", "ball"),
    "cube": ("cube", "block"),
    "cylinder": ("cylinder",),
    "large": ("large", "big"),
    "small": ("small", "tiny", "little"),
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
