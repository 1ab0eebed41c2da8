"""CLEVR question vocabulary and tokenisation (numpy only).

Tokenisation: lower-case, then words (runs of letters/digits) and single punctuation marks (``?``, ``;``,
``,``) are tokens: ``"There is a cube; what color is it?"`` -> ``there is a cube ; what color is it ?``.

Index 0 is ``<pad>``, 1 is ``<unk>``, then the words in sorted order, so a vocabulary is fully determined
by its word set. Two ways to get the word set:

* :meth:`ClevrVocab.from_templates` (the default of :class:`vrkit.data.clevr.ClevrDataset`): every word a
  template set can produce — the fixed words of every text form plus every synonym of every value a slot
  can take (with the plural suffix the form appends, e.g. ``<S>s`` -> ``cubes``, ``blocks``, ``things``),
  plus ``a``/``an`` (article correction). Independent of any data file, so datasets generated with the
  same templates (any split, any CoGenT condition) share token ids and no generated question has an
  unknown word.
* :meth:`ClevrVocab.from_questions`: the words of a questions file (use the *train* file of an official
  release and pass the result to the val/test datasets; their unseen words become ``<unk>``).

A vocabulary round-trips through JSON (:meth:`save` / :meth:`load`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from vrkit.errors import InputError
from vrkit.utils.atomic import atomic_write_text
from vrkit.utils.files import read_json

PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1
_TOKEN_RE = re.compile(r"[a-z0-9]+|[^\sa-z0-9]")


def tokenize(text: str) -> list[str]:
    """Lower-cased word and punctuation tokens of a question."""
    return _TOKEN_RE.findall(text.lower())


class ClevrVocab:
    """Token <-> id map; ``tokens[0] = "<pad>"``, ``tokens[1] = "<unk>"``, then sorted words."""

    def __init__(self, words: Iterable[str]) -> None:
        words = sorted(set(words) - {PAD, UNK})
        self.tokens: list[str] = [PAD, UNK, *words]
        self.index: dict[str, int] = {w: i for i, w in enumerate(self.tokens)}

    def __len__(self) -> int:
        return len(self.tokens)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ClevrVocab) and self.tokens == other.tokens

    def __repr__(self) -> str:
        return f"ClevrVocab({len(self)} tokens)"

    def encode(self, text: str) -> np.ndarray:
        """Token ids of a question: int64 (L,), unknown words -> 1, no padding."""
        get = self.index.get
        return np.array([get(t, UNK_ID) for t in tokenize(text)], dtype=np.int64)

    def decode(self, ids: Sequence[int] | np.ndarray) -> str:
        """Space-joined tokens, padding dropped."""
        return " ".join(self.tokens[int(i)] for i in ids if int(i) != PAD_ID)

    # ---- construction -------------------------------------------------------------------------------
    @classmethod
    def from_templates(cls, templates: str | Path | list | None = None,
                       synonyms: dict[str, tuple[str, ...]] | None = None) -> ClevrVocab:
        """Every word the templates (a directory, a list of compiled templates, or None = vrkit's own) and
        the synonym table (None = vrkit's) can produce."""
        from vrkit.worlds.clevr.templates import load_templates
        from vrkit.worlds.clevr.text import SYNONYMS, text_words

        tmpl = templates if isinstance(templates, list) else load_templates(templates)
        syn = SYNONYMS if synonyms is None else synonyms
        words: set[str] = {"a", "an", "?"}  # "?" ends every question (text_words drops it, as clevr-iep does)
        for t in tmpl:
            words.update(tok for w in text_words(t.text, syn) for tok in tokenize(w))
        return cls(words)

    @classmethod
    def from_questions(cls, questions: str | Path | Iterable[str] | Iterable[dict]) -> ClevrVocab:
        """Words of a questions JSON file, or of question strings / question dicts."""
        if isinstance(questions, str | Path):
            from vrkit.worlds.clevr.io import read_questions

            questions = read_questions(questions)[1]
        words: set[str] = set()
        for q in questions:
            words.update(tokenize(q["question"] if isinstance(q, dict) else q))
        return cls(words)

    # ---- persistence --------------------------------------------------------------------------------
    def to_json(self) -> dict:
        return {"kind": "clevr_vocab", "tokens": self.tokens}

    @classmethod
    def from_json(cls, data: dict, where: str = "vocab") -> ClevrVocab:
        toks = data.get("tokens") if isinstance(data, dict) else None
        if not (isinstance(toks, list) and len(toks) >= 2 and toks[:2] == [PAD, UNK]
                and all(isinstance(t, str) for t in toks)):
            raise InputError(f"{where}: expected {{'tokens': ['<pad>', '<unk>', ...]}}")
        vocab = cls(toks[2:])
        if vocab.tokens != toks:
            raise InputError(f"{where}: tokens must be unique and sorted after <pad>, <unk>")
        return vocab

    def save(self, path: str | Path) -> None:
        atomic_write_text(path, json.dumps(self.to_json(), indent=0) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> ClevrVocab:
        path = Path(path)
        data = read_json(path, "vocabulary")
        try:
            return cls.from_json(data)
        except InputError as err:
            raise err.at(path) from None


@lru_cache(maxsize=1)
def template_vocab() -> ClevrVocab:
    """The question vocabulary of every CLEVR source (all words of vrkit's templates; 0 = pad, 1 = unk)."""
    return ClevrVocab.from_templates()
