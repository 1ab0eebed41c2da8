"""torch Datasets over COG examples: official files (:class:`CogFileDataset`) or a seeded on-the-fly stream
(:class:`CogStreamDataset`). Both yield items that :func:`vrkit.data.collate.collate_cog` turns into the batch
contract (docs/architecture.md, 'The batch').

An item is a dict of tensors for one example with E frames:

* ``question`` int64 (L,) unpadded token ids, ``question_len`` int64 scalar;
* state path: ``objects`` float32 (E, N, 55) + ``object_mask`` bool (E, N) (:mod:`vrkit.worlds.cog.state`);
* pixel path: ``frames`` (E, 3, S, S), float32 in [0, 1] (``pixel_norm="unit"``), float32 minus the baseline's
  channel means 123.68, 116.78, 103.94 on the 0–255 scale (``"mean"``), or uint8 0–255 (``"uint8"``, 4× less
  memory between workers; normalise on the device);
* ``answer`` int64 (E,) (-100 = invalid or point), ``point`` float32 (E, 2), ``point_mask`` bool (E,),
  ``family`` int64 scalar (``FAMILY_INDEX``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from vrkit.data._store import LineStore
from vrkit.errors import InputError
from vrkit.worlds.cog.constants import FAMILIES, FAMILY_INDEX, INPUT_VOCAB, OUTPUT_INDEX, OUTPUT_VOCAB, Variant
from vrkit.worlds.cog.io import expand_paths, parse_line
from vrkit.worlds.cog.state import GRID_SIZE, STATE_FEATURES, encode_answers, encode_question, encode_state

PIXEL_MEANS: tuple[float, float, float] = (123.68, 116.78, 103.94)
PATHS = ("state", "pixels")
PIXEL_NORMS = ("unit", "mean", "uint8")


def io_config() -> dict[str, Any]:
    """The model IO fields (``vrkit.models.base.IOConfig``) COG batches need: 79 input words, 55 answer
    classes, 55 features per object (colour 21, shape 32, x, y), pointing on the 7x7 grid."""
    return {"vocab_size": len(INPUT_VOCAB), "num_answers": len(OUTPUT_VOCAB), "object_features": STATE_FEATURES,
            "pointing": True, "grid": GRID_SIZE}


def _check_options(path: str, pixel_norm: str, families: Sequence[str] | None) -> list[str] | None:
    if path not in PATHS:
        raise ValueError(f"path must be one of {PATHS}, got {path!r}")
    if pixel_norm not in PIXEL_NORMS:
        raise ValueError(f"pixel_norm must be one of {PIXEL_NORMS}, got {pixel_norm!r}")
    if families is None:
        return None
    if isinstance(families, str):
        families = [families]
    unknown = [f for f in families if f not in FAMILY_INDEX]
    if unknown:
        raise ValueError(f"unknown COG families {unknown}; expected names from FAMILIES")
    return list(families)


def render_frames(example: dict[str, Any], image_size: int = 112, pixel_norm: str = "unit") -> torch.Tensor:
    """Rendered frames of an example: (E, 3, S, S), dtype and scale per ``pixel_norm`` (module docstring).

    Below the renderer's smallest size (``MIN_SIZE``, 50 px) the frames are drawn at the smallest multiple
    f·S that it accepts and each f × f block of pixels is averaged (rounded to uint8), e.g. 32 px from 64 px."""
    from vrkit.worlds.cog.render import MIN_SIZE, render_example  # OpenCV only needed on the pixel path

    f = -(-MIN_SIZE // image_size) if isinstance(image_size, int) and 0 < image_size < MIN_SIZE else 1
    img = torch.from_numpy(np.ascontiguousarray(render_example(example, f * image_size)))  # (E, fS, fS, 3) uint8
    img = img.permute(0, 3, 1, 2).contiguous()  # (E, 3, fS, fS)
    if f > 1:
        img = torch.nn.functional.avg_pool2d(img.float(), f).round_().to(torch.uint8)
    if pixel_norm == "uint8":
        return img
    img = img.float()
    if pixel_norm == "unit":
        return img.div_(255.0)
    return img.sub_(torch.tensor(PIXEL_MEANS).view(1, 3, 1, 1))


def encode_example(example: dict[str, Any], path: str = "state", image_size: int = 112,
                   max_objects: int | None = None, pixel_norm: str = "unit") -> dict[str, torch.Tensor]:
    """One official example dict as an item (module docstring); ``ValueError`` on unknown tokens/answers."""
    q = encode_question(example["question"], pad_to=None)
    answer, point, point_mask = encode_answers(example)
    if len(answer) != example["epochs"]:
        raise ValueError(f"'answers' has {len(answer)} entries but 'epochs' is {example['epochs']}")
    item = {
        "question": torch.from_numpy(q),
        "question_len": torch.tensor(len(q), dtype=torch.int64),
        "answer": torch.from_numpy(answer),
        "point": torch.from_numpy(point),
        "point_mask": torch.from_numpy(point_mask),
        "family": torch.tensor(FAMILY_INDEX[example["family"]], dtype=torch.int64),
    }
    if path == "state":
        objects, mask = encode_state(example, max_objects)
        item["objects"] = torch.from_numpy(objects)
        item["object_mask"] = torch.from_numpy(mask)
    else:
        item["frames"] = render_frames(example, image_size, pixel_norm)
    return item


def last_class_answer(answers: Sequence[Any]) -> int:
    """``OUTPUT_INDEX`` of the last word answer other than ``invalid``, or -1 if none (point families)."""
    for a in reversed(answers):
        if isinstance(a, str) and a != "invalid":
            return OUTPUT_INDEX.get(a, -1)
    return -1


class CogFileDataset(Dataset):
    """Examples of official COG files or directories (any mix of ``.json.gz``/``.json``/``.jsonl``).

    Lines are kept as compressed bytes in one shared buffer (``compress=True``, about 0.4 kB per canonical and
    0.9 kB per hard example) and parsed and validated in ``__getitem__``; a bad line raises
    :class:`InputError` naming its file and line. ``families`` keeps only those families (filtered while
    loading). ``validate=False`` skips the per-line schema check (about a third faster on hard examples);
    malformed lines then still raise :class:`InputError` at file:line, with a less specific message.
    """

    def __init__(self, paths: str | Path | Sequence[str | Path], path: str = "state", image_size: int = 112,
                 max_objects: int | None = None, families: Sequence[str] | None = None,
                 pixel_norm: str = "unit", compress: bool = True, validate: bool = True) -> None:
        self.families = _check_options(path, pixel_norm, families)
        if isinstance(paths, str | Path):
            paths = [paths]
        self.path, self.image_size, self.max_objects = path, image_size, max_objects
        self.pixel_norm, self.validate = pixel_norm, validate
        self.store = LineStore(expand_paths(paths), self.families, compress=compress)
        self._labels: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.store)

    def example(self, i: int) -> dict[str, Any]:
        """The parsed official example dict at index ``i`` (schema-checked if ``validate``)."""
        file, lineno = self.store.where(i)
        if self.validate:
            return parse_line(self.store.line(i), file, lineno)
        try:
            return json.loads(self.store.line(i))
        except ValueError as err:
            raise InputError(f"malformed JSON ({err})", file, lineno) from None

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} examples")
        i = i % len(self)
        ex = self.example(i)
        try:
            return encode_example(ex, self.path, self.image_size, self.max_objects, self.pixel_norm)
        except (ValueError, KeyError, TypeError, IndexError) as err:
            msg = str(err) if isinstance(err, ValueError) else f"malformed example ({err!r})"
            raise InputError(msg, *self.store.where(i)) from None

    def family_indices(self) -> np.ndarray:
        """``FAMILY_INDEX`` of every item: int64 (len,)."""
        return self.store.family.numpy()

    def answer_labels(self) -> np.ndarray:
        """Last valid word answer (``OUTPUT_INDEX``, -1 if none) of every item: int64 (len,). Cached."""
        if self._labels is None:
            self._labels = np.fromiter((last_class_answer(self.store.answers(i)) for i in range(len(self))),
                                       dtype=np.int64, count=len(self))
        return self._labels


def _resolve_variant(variant: str | Variant) -> Variant:
    from vrkit.worlds.cog.generator import resolve_variant

    return resolve_variant(variant)


class CogStreamDataset(IterableDataset):
    """Freshly generated examples, deterministic for a seed and independent of the number of workers.

    Example k of epoch e is ``generate_example(families[k % F], variant, make_rng(seed, "data", e, k))``.
    DataLoader worker w of W takes k = w, w + W, w + 2W, … so workers never duplicate each other and the set
    of examples of an epoch does not depend on W (only the order of the batches does). ``length`` items per
    epoch (split over the workers), or an endless stream if None. Call :meth:`set_epoch` between epochs for
    new examples.
    """

    def __init__(self, variant: str | Variant = "canonical", families: Sequence[str] | None = None,
                 seed: int = 0, path: str = "state", length: int | None = None, image_size: int = 112,
                 max_objects: int | None = None, pixel_norm: str = "unit") -> None:
        fams = _check_options(path, pixel_norm, families)
        self.families = list(FAMILIES) if fams is None else fams
        if not self.families:
            raise ValueError("families must not be empty")
        if length is not None and length < 0:
            raise ValueError(f"length must be >= 0, got {length}")
        self.variant = _resolve_variant(variant)
        self.seed, self.length, self.epoch = int(seed), length, 0
        self.path, self.image_size, self.max_objects = path, image_size, max_objects
        self.pixel_norm = pixel_norm

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        if self.length is None:
            raise TypeError("an endless CogStreamDataset has no length")
        return self.length

    def example(self, k: int) -> dict[str, Any]:
        """Official example dict number ``k`` of the current epoch."""
        from vrkit.worlds.cog.generator import generate_example, make_rng

        rng = make_rng(self.seed, "data", self.epoch, k)
        return generate_example(self.families[k % len(self.families)], self.variant, rng)

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        info = get_worker_info()
        w, W = (0, 1) if info is None else (info.id, info.num_workers)
        k = w
        while self.length is None or k < self.length:
            ex = self.example(k)
            yield encode_example(ex, self.path, self.image_size, self.max_objects, self.pixel_norm)
            k += W
