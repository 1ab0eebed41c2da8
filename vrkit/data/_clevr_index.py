"""Compact in-memory index of a CLEVR split (private helper of :mod:`vrkit.data.clevr`).

Scenes and questions are parsed once into flat numpy arrays (object features, token ids, answers, types,
families); the parsed JSON is dropped afterwards, so a split costs about its token and object bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vrkit.data.clevr_vocab import ClevrVocab
from vrkit.errors import InputError
from vrkit.utils.files import read_json
from vrkit.worlds.clevr.constants import ANSWERS, ATTRIBUTE_ORDER, ATTRIBUTES, PLACEMENT_RANGE, QUESTION_TYPES
from vrkit.worlds.clevr.io import answer_text

IGNORE_INDEX = -100
ANSWER_INDEX: dict[str, int] = {a: i for i, a in enumerate(ANSWERS)}
QTYPE_INDEX: dict[str, int] = {t: i for i, t in enumerate(QUESTION_TYPES)}
ONE_HOT_OFFSET: dict[str, int] = {}
_off = 0
for _a in ATTRIBUTE_ORDER:
    ONE_HOT_OFFSET[_a] = _off
    _off += len(ATTRIBUTES[_a])
COORD_FEATURE = _off  # 15: x, y, z follow the one-hots
STATE_FEATURES = _off + 3  # 18
_VALUE_INDEX = {a: {v: i for i, v in enumerate(vals)} for a, vals in ATTRIBUTES.items()}


@dataclass
class SplitFiles:
    """Where a split lives; ``scenes`` and ``images`` may be None (test split, no images)."""

    questions: Path
    scenes: Path | None
    images: Path | None
    split: str | None


def _available(root: Path) -> list[str]:
    pre, suf = "CLEVR_", "_questions.json"
    return sorted(p.name[len(pre):-len(suf)] for p in (root / "questions").glob(f"{pre}*{suf}"))


def resolve(root_or_files: Any, split: str | None) -> SplitFiles:
    """An official root directory (``images/``, ``scenes/``, ``questions/``) plus a split name, or a dict
    ``{"questions", "scenes"?, "images"?}``, or a sequence of paths (JSON files are told apart by their
    top-level key, a directory is the image directory)."""
    if isinstance(root_or_files, str | Path) and (Path(root_or_files) / "questions").is_dir():
        root = Path(root_or_files)
        avail = _available(root)
        if split is None:
            if len(avail) != 1:
                raise InputError(f"give a split (available: {', '.join(avail) or 'none'})", root)
            split = avail[0]
        q = root / "questions" / f"CLEVR_{split}_questions.json"
        if not q.is_file():
            have = ", ".join(avail) or "none"
            raise InputError(f"no questions for split {split!r} (available: {have})", root)
        s = root / "scenes" / f"CLEVR_{split}_scenes.json"
        im = root / "images" / split
        return SplitFiles(q, s if s.is_file() else None, im if im.is_dir() else None, split)
    if isinstance(root_or_files, dict):
        d = root_or_files
        if "questions" not in d:
            raise InputError("files dict needs a 'questions' entry")
        opt = {k: (Path(d[k]) if d.get(k) is not None else None) for k in ("scenes", "images")}
        return SplitFiles(Path(d["questions"]), opt["scenes"], opt["images"], split)
    if isinstance(root_or_files, str | Path) and Path(root_or_files).is_dir():  # loose files in one directory
        d = Path(root_or_files)
        root_or_files = sorted(d.glob("*.json")) + ([d / "images"] if (d / "images").is_dir() else [])
    elif isinstance(root_or_files, str | Path):
        root_or_files = [root_or_files]
    found: dict[str, Path] = {}
    for p in map(Path, root_or_files):
        if p.is_dir():
            found["images"] = p
            continue
        head = _head(p)
        kind = "questions" if '"questions"' in head else "scenes" if '"scenes"' in head else None
        if kind is None:
            raise InputError("neither a questions nor a scenes JSON file (nor an image directory)", p)
        found[kind] = p
    if "questions" not in found:
        where = [str(p) for p in root_or_files] or "the directory"
        raise InputError(f"no questions JSON (questions/CLEVR_<split>_questions.json or loose files) "
                         f"in {where}")
    return SplitFiles(found["questions"], found.get("scenes"), found.get("images"), split)


def _head(path: Path) -> str:
    """The text before the first list of a JSON file (enough to see its top-level keys)."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read(1 << 16)
    except FileNotFoundError:
        raise InputError("file not found", path) from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read: {err}", path) from None
    for key in ('"questions"', '"scenes"'):
        k = text.find(key)
        if k >= 0:
            return text[: k + len(key)]
    return text[:200]


def _load(path: Path, key: str, validate: bool) -> list[dict]:
    from vrkit.worlds.clevr import io

    if validate:
        return (io.read_questions if key == "questions" else io.read_scenes)(path)[1]
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get(key), list):
        raise InputError(f"top level must be an object with a {key!r} list", path)
    return data[key]


def encode_objects(objects: Sequence[dict]) -> np.ndarray:
    """State description of a scene (Relation Networks): float32 (N, 18) =
    [size one-hot (2), color (8), material (2), shape (3), x, y, z] in constants order; 3D coordinates
    divided by the placement range 3 (x, y in [-1, 1])."""
    out = np.zeros((len(objects), STATE_FEATURES), dtype=np.float32)
    for i, o in enumerate(objects):
        for a in ATTRIBUTE_ORDER:
            out[i, ONE_HOT_OFFSET[a] + _VALUE_INDEX[a][o[a]]] = 1.0
        out[i, COORD_FEATURE:] = np.asarray(o["3d_coords"], dtype=np.float32) / PLACEMENT_RANGE
    return out


class SceneTable:
    """Objects of every scene: ``features`` float32 (sum N_i, 18), ``offsets`` int64 (S + 1,),
    ``row`` image_index -> scene row, ``filenames`` per row. ``keep`` also keeps the scene dicts."""

    def __init__(self, path: Path, validate: bool, keep: bool = False) -> None:
        scenes = _load(path, "scenes", validate)
        self.row: dict[int, int] = {}
        self.filenames: list[str] = []
        feats, counts = [], []
        for r, s in enumerate(scenes):
            try:
                idx = int(s.get("image_index", r))
                feats.append(encode_objects(s["objects"]))
            except (KeyError, TypeError, ValueError) as err:
                raise InputError(f"scenes[{r}]: malformed scene ({err!r})", path) from None
            self.row.setdefault(idx, r)
            self.filenames.append(str(s.get("image_filename", "")))
            counts.append(len(s["objects"]))
        self.features = np.concatenate(feats) if feats else np.zeros((0, STATE_FEATURES), np.float32)
        self.offsets = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=self.offsets[1:])
        self.scenes = scenes if keep else None

    def objects(self, row: int) -> np.ndarray:
        return self.features[self.offsets[row]:self.offsets[row + 1]]


def family_types(templates: list) -> dict[int, int]:
    """Global family id -> QTYPE index, from each template's last node."""
    from vrkit.worlds.clevr.constants import question_type

    out = {}
    for t in templates:
        last = t.nodes[-1].type
        tail = last.rsplit("_", 1)[-1]
        name = tail if tail in ("count", "exist") else last
        out[t.family] = QTYPE_INDEX[question_type(name)]
    return out


class QuestionTable:
    """Questions as flat arrays: ``tokens`` int32 + ``offsets`` int64 (Q + 1,), ``answer``, ``qtype``,
    ``family``, ``image_index`` int64 (Q,) (answer -100, qtype/family -1 when unknown), ``filenames``."""

    def __init__(self, path: Path, vocab: ClevrVocab, validate: bool, templates: list) -> None:
        from vrkit.worlds.clevr.constants import TEMPLATE_FILES, question_type
        from vrkit.worlds.clevr.templates import identify_family

        qs = _load(path, "questions", validate)
        n = len(qs)
        fam_type = family_types(templates)
        self.answer = np.full(n, IGNORE_INDEX, dtype=np.int64)
        self.qtype = np.full(n, -1, dtype=np.int64)
        self.family = np.full(n, -1, dtype=np.int64)
        self.image_index = np.zeros(n, dtype=np.int64)
        self.filenames: dict[int, str] = {}
        toks, lens = [], np.zeros(n, dtype=np.int64)
        self.unknown_tokens = 0
        for i in range(n):
            q, qs[i] = qs[i], None  # free the parsed JSON as we go
            try:
                ids = vocab.encode(q["question"])
                idx = int(q["image_index"])
                program = q.get("program")
                fam = q.get("question_family_index")
                if fam is not None and q.get("template_filename") is not None:  # raw engine: index in file
                    fam = TEMPLATE_FILES[Path(q["template_filename"]).stem][0] + int(fam)
                if fam is None and program:
                    fam = next(iter(identify_family(program, templates)), None)
                if program:
                    self.qtype[i] = QTYPE_INDEX[question_type(program[-1]["function"])]
                elif fam is not None:
                    self.qtype[i] = fam_type.get(int(fam), -1)
                if fam is not None:
                    self.family[i] = int(fam)
                if q.get("answer") is not None:
                    a = answer_text(q, f"questions[{i}]")
                    if a not in ANSWER_INDEX:
                        raise InputError(f"questions[{i}]: unknown answer {a!r}", path)
                    self.answer[i] = ANSWER_INDEX[a]
            except (KeyError, TypeError, ValueError, IndexError) as err:
                if isinstance(err, InputError):
                    raise err.at(path) from None
                raise InputError(f"questions[{i}]: malformed question ({err!r})", path) from None
            self.unknown_tokens += int((ids == 1).sum())
            toks.append(ids.astype(np.int32))
            lens[i] = len(ids)
            self.image_index[i] = idx
            if "image_filename" in q:
                self.filenames.setdefault(idx, str(q["image_filename"]))
        self.tokens = np.concatenate(toks) if toks else np.zeros(0, np.int32)
        self.offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lens, out=self.offsets[1:])

    def __len__(self) -> int:
        return len(self.answer)

    def question(self, i: int) -> np.ndarray:
        return self.tokens[self.offsets[i]:self.offsets[i + 1]]
