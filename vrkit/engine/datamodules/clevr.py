"""CLEVR datamodule: official CLEVR / CoGenT files or a generated (cached) set, with a question-type filter.

Families and groups. The batch ``family`` is the question **type** (the last program function, docs/world-clevr.md,
'Answers and question types'), so per-family accuracy is the CLEVR per-type accuracy (pooled over the questions
of a type), and the groups are the reasoning-transfer tasks of docs/transfer.md, one type each: ``Exist``, ``Count``,
``CompareInteger``, ``CompareAttribute``, ``QueryAttribute``. The template id (0-89) travels as
``template`` (B,) in the batch for finer analyses.

Config (``data.*``):

* ``variant``: the scene condition — ``unrestricted`` (alias ``all``; CLEVR v1.0), ``A`` or ``B`` (CoGenT);
* ``families``: ``all``, or a list of question types (``Exist`` ... or ``exist``, ``compare_integer`` ...);
  an entry ``-T`` removes type T (``[-Count]`` = all but Count);
* ``path``: ``state`` (18 features per object), ``pixels`` (``image_size``² RGB) or ``features``
  (precomputed CNN maps read from each files source's ``features`` HDF5 file, :mod:`vrkit.data.features_h5`);
  T = 1, no pointing;
  ``max_objects`` is not used (a batch pads to its largest scene, at most 10 objects).

Every source uses one question vocabulary, :func:`template_vocab` (all words of vrkit's templates); the run
engine sizes the model's ``vocab_size`` to it (:meth:`ClevrDataModule.io_config`). Questions without an answer
(released test splits) or of an unknown type are left out.

Sources:

* ``files``: ``paths: [ROOT]`` with ROOT an official root (``questions/``, ``scenes/``, ``images/``); the split
  is ``<split key><condition letter>`` (data.train on variant A reads ``trainA``, data.val on B ``valB``,
  unrestricted: ``train``/``val``/``test``), or named explicitly: ``paths: [ROOT, valB]``. Loose files
  (``paths: [questions.json, scenes.json, images_dir]`` or a directory holding them) work too.
  ``n`` = samples per epoch (None = all).
* ``stream``: ``n`` questions generated once into the cache (:mod:`vrkit.engine.datamodules._clevr_gen`), seeded by
  ``seed`` (None: from the run seed and the split); the same set every epoch (shuffled).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch.utils.data import Dataset

from vrkit.data.clevr import ClevrDataset, collate_clevr
from vrkit.data.clevr import io_config as clevr_io_config
from vrkit.data.clevr_vocab import template_vocab as template_vocab  # public here too (convert, explain, retrieve)
from vrkit.engine.config import DataConfig, OptimConfig, SourceConfig
from vrkit.engine.data import SPLIT_SALT as _SPLIT_SALT
from vrkit.engine.datamodules._clevr_gen import GenSpec, ensure_generated
from vrkit.engine.datamodules._clevr_gen import cache_root as cache_root  # public here (vrkit retrieve)
from vrkit.engine.datamodules.base import WorldDataModule
from vrkit.errors import InputError
from vrkit.worlds.clevr.constants import ANSWERS, QUESTION_TYPES

#: Family names in batch ``family`` order (= ``QUESTION_TYPES`` order) and the task order of docs/transfer.md.
TYPE_NAMES: tuple[str, ...] = ("Exist", "Count", "CompareInteger", "QueryAttribute", "CompareAttribute")
TASK_ORDER: tuple[str, ...] = ("Exist", "Count", "CompareInteger", "CompareAttribute", "QueryAttribute")
_ALIASES: dict[str, str] = {**{n: n for n in TYPE_NAMES}, **dict(zip(QUESTION_TYPES, TYPE_NAMES))}
CONDITIONS: dict[str, str] = {"unrestricted": "unrestricted", "all": "unrestricted", "A": "A", "B": "B"}
_SPLIT_RE = re.compile(r"^(train|val|test)[AB]?$")


def resolve_types(spec: str | Sequence[str] | None) -> list[str]:
    """Question-type names (``TYPE_NAMES`` spelling, ``TYPE_NAMES`` order) from ``"all"``, a type name or a
    list of names; ``-Name`` entries remove a type (a list of removals starts from all types)."""
    if spec is None or spec == "all":
        return list(TYPE_NAMES)
    items = [spec] if isinstance(spec, str) else list(spec)
    keep: set[str] = set()
    drop: set[str] = set()
    for raw in items:
        name = str(raw)
        neg = name.startswith("-")
        base = name[1:] if neg else name
        if base == "all" and not neg:
            keep.update(TYPE_NAMES)
            continue
        if base not in _ALIASES:
            raise ValueError(f"unknown CLEVR question type {name!r} (known: {', '.join(TASK_ORDER)}, "
                             f"or 'all'; prefix '-' to exclude)")
        (drop if neg else keep).add(_ALIASES[base])
    if not keep:
        keep = set(TYPE_NAMES)
    out = [t for t in TYPE_NAMES if t in keep and t not in drop]
    if not out:
        raise ValueError("families: the question-type filter leaves no type")
    return out


def condition_of(variant: str | None, key: str = "data.variant") -> str:
    """``unrestricted``, ``A`` or ``B`` from a CLEVR variant name (ValueError otherwise)."""
    if variant not in CONDITIONS:
        raise ValueError(f"{key}: unknown CLEVR variant {variant!r} (known: unrestricted, all, A, B)")
    return CONDITIONS[variant]


def split_files(paths: Sequence[str], split_key: str, condition: str | None) -> tuple[Any, str | None]:
    """(root or list of paths, split name) of a files source; checks that the paths exist (InputError)."""
    split_tokens = [p for p in paths if _SPLIT_RE.match(str(p)) and not Path(p).exists()]
    real = [p for p in paths if p not in split_tokens]
    if len(split_tokens) > 1:
        raise InputError(f"a CLEVR files source names one split, got {', '.join(split_tokens)}")
    if not real:
        raise InputError("a CLEVR files source needs a directory or files (paths: [ROOT] or [ROOT, SPLIT])")
    for p in real:
        if not Path(p).exists():
            raise InputError("no such file or directory", p)
    if len(real) == 1 and (Path(real[0]) / "questions").is_dir():
        root = Path(real[0])
        if split_tokens:
            split = split_tokens[0]
        elif condition is None:
            return root, None
        else:
            split = split_key if condition == "unrestricted" else f"{split_key}{condition}"
        if not (root / "questions" / f"CLEVR_{split}_questions.json").is_file():
            have = sorted(p.name[len("CLEVR_"):-len("_questions.json")]
                          for p in (root / "questions").glob("CLEVR_*_questions.json"))
            raise InputError(f"no questions for split {split!r} (available: {', '.join(have) or 'none'})", root)
        return root, split
    if split_tokens:
        raise InputError(f"split {split_tokens[0]!r} needs an official root directory (with questions/)", real[0])
    if len(real) == 1 and Path(real[0]).is_dir() and not any(Path(real[0]).glob("*.json")):
        raise InputError("no CLEVR questions JSON (questions/CLEVR_<split>_questions.json or loose files) "
                         "in this directory", real[0])
    return (real[0] if len(real) == 1 else list(real)), None


def _need_features_file(cfg: DataConfig, src: SourceConfig, split: str) -> None:
    """InputError unless a features-path source is a files source with a ``features`` file. Checked when the
    data is built, not in check_config: a checkpoint's config keeps the path but not its sources."""
    if cfg.path == "features" and (src.kind != "files" or not src.features):
        raise InputError(f"data.{split}: the features path needs a files source with features: FILE.h5 "
                         "(generated sets have no precomputed maps)")


class ClevrView(Dataset):
    """Questions ``indices`` of a :class:`ClevrDataset`; items carry ``family`` = question-type index and
    ``template`` = template id (the item layout of :mod:`vrkit.data.clevr` otherwise)."""

    def __init__(self, ds: ClevrDataset, indices: np.ndarray) -> None:
        self.ds, self.indices = ds, np.asarray(indices, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, k: int) -> dict[str, torch.Tensor]:
        item = self.ds[int(self.indices[k])]
        item["template"] = item["family"]
        item["family"] = item["qtype"]
        return item

    def answer_labels(self) -> np.ndarray:
        """Answer index per item: int64 (len,), -1 where the question has no answer."""
        return self.ds.answer_labels()[self.indices]

    def qtypes(self) -> np.ndarray:
        """Question-type index per item: int64 (len,)."""
        return self.ds.qtypes()[self.indices]


def collate_batch(items: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """:func:`collate_clevr` (T = 1) plus ``template`` int64 (B,); ``family`` = question type (B,)."""
    batch = collate_clevr(items)
    batch["template"] = torch.stack([it["template"] for it in items])
    return batch


class ClevrDataModule(WorldDataModule):
    """CLEVR sources: official files or a generated set (module docstring), filtered by question type."""

    FAMILY_NAMES: ClassVar[tuple[str, ...]] = TYPE_NAMES
    GROUPS: ClassVar[dict[str, tuple[str, ...]]] = {t: (t,) for t in TASK_ORDER}
    ANSWER_VOCAB: ClassVar[tuple[str, ...]] = ANSWERS
    collate = staticmethod(collate_batch)
    FILES_SOURCE: ClassVar[str] = "a CLEVR directory (and optionally a split)"

    def __init__(self, cfg: DataConfig, optim: OptimConfig | None = None, seed: int = 0) -> None:
        super().__init__(cfg, optim, seed)
        self.types = resolve_types(cfg.families)
        self.condition = condition_of(cfg.variant)

    io_config = staticmethod(clevr_io_config)  # exactly template_vocab's words, 28 answers, 18 object features

    @staticmethod
    def check_world(cfg: DataConfig) -> None:
        resolve_types(cfg.families)
        condition_of(cfg.variant)
        if cfg.path == "pixels" and not 8 <= cfg.image_size <= 4096:
            raise ValueError(f"data.image_size must be in 8..4096, got {cfg.image_size}")

    check_variant = staticmethod(condition_of)
    check_families = staticmethod(resolve_types)

    @staticmethod
    def check_stream(src: SourceConfig, key: str) -> None:
        if src.seed is not None and src.seed < 0:
            raise ValueError(f"{key}.seed must be >= 0")

    @staticmethod
    def check_files(src: SourceConfig, key: str) -> None:
        cond = None if src.variant is None else condition_of(src.variant)
        split_files(src.paths, key.rsplit(".", 1)[-1] if key.endswith(tuple(_SPLIT_SALT)) else "test", cond)

    @staticmethod
    def check_split(cfg: DataConfig, split: str, src: SourceConfig) -> None:
        """A files source also resolves under the config's variant when it names none."""
        if src.kind == "files":
            cond = condition_of(cfg.variant) if src.variant is None else condition_of(src.variant)
            split_files(src.paths, split, cond)

    # -- datasets ----------------------------------------------------------------------------------------
    def spec(self, src: SourceConfig, split: str) -> GenSpec:
        """The generated split of a stream source."""
        _need_features_file(self.cfg, src, split)
        types = self.types if src.families is None else resolve_types(src.families)
        seed = src.seed if src.seed is not None else self.seed * 1000 + 17 + _SPLIT_SALT.get(split, 2)
        cond = self.condition if src.variant is None else condition_of(src.variant)
        qtypes = tuple(QUESTION_TYPES[TYPE_NAMES.index(t)] for t in types)
        return GenSpec(split=split if split in _SPLIT_SALT else "test", condition=cond, seed=int(seed),
                       n=int(src.n), types=qtypes, path=self.cfg.path, image_size=self.cfg.image_size)

    def prepare_data(self) -> None:
        """Generate the stream sources once (Lightning runs this on one process per node before setup)."""
        for split in ("train", "val", "test"):
            src = getattr(self.cfg, split)
            if src is not None and src.kind == "stream":
                ensure_generated(self.spec(src, split), self.cfg.workers)

    def make_dataset(self, src: SourceConfig, split: str) -> Dataset:
        cfg = self.cfg
        _need_features_file(cfg, src, split)
        types = self.types if src.families is None else resolve_types(src.families)
        limit = None
        if src.kind == "stream":
            spec = self.spec(src, split)
            root, name = ensure_generated(spec, cfg.workers), spec.name
            limit = spec.n
        else:
            cond = self.condition if src.variant is None else condition_of(src.variant)
            root, name = split_files(src.paths, split if split in _SPLIT_SALT else "test", cond)
        ds = ClevrDataset(root, name, path=cfg.path, image_size=cfg.image_size, vocab=template_vocab(),
                          validate=src.kind == "files")
        wanted = np.array([TYPE_NAMES.index(t) for t in types], dtype=np.int64)
        of_type = np.isin(ds.qtypes(), wanted)
        where, label = ds.files.questions, ds.split or name or "the questions file"
        if not of_type.any():
            raise InputError(f"no questions of type(s) {', '.join(types)} in split {label!r}", where)
        idx = np.flatnonzero(of_type & (ds.answer_labels() >= 0))  # unanswered questions count nowhere
        if len(idx) == 0:
            raise InputError(f"split {label!r} has no answers (a released test split?); "
                             "use a split with answers (e.g. val, valA, valB)", where)
        view = ClevrView(ds, idx[:limit])
        if cfg.path != "features":
            return view
        from vrkit.data.features_h5 import FeatureMaps, WithFeatures

        image_index = ds.questions.image_index[view.indices]
        count = len(ds.scenes.row) if ds.scenes is not None else None
        maps = FeatureMaps(src.features, shape=None, count=count,
                           max_index=int(ds.questions.image_index.max()) if len(ds) else None)
        return WithFeatures(view, image_index, maps)

    def answer_labels(self, ds: Dataset) -> np.ndarray:
        return ds.answer_labels()
