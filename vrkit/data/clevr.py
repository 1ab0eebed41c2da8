"""torch Dataset over CLEVR splits: official releases (CLEVR_v1.0, CLEVR_CoGenT_v1.0) and
``vrkit generate clevr`` output, on the pixel or the state path, plus :func:`collate_clevr`.

An item is one question (T = 1 frame):

* ``question`` int64 (L,) unpadded token ids (:mod:`vrkit.data.clevr_vocab`, 0 = pad), ``question_len``
  int64 scalar;
* pixel path: ``frames`` (1, 3, H, W): the PNG resized to ``image_size`` (OpenCV, area interpolation when
  shrinking), float32 in [0, 1] (``pixel_norm="unit"``) or uint8 (``"uint8"``); alpha is dropped;
* state path: ``objects`` float32 (1, N, 18) + ``object_mask`` bool (1, N) — per object
  [size (2), color (8), material (2), shape (3) one-hots, x, y, z / 3] (the Relation Networks state
  description; :func:`vrkit.data._clevr_index.encode_objects`), objects in scene order;
* ``answer`` int64 (1,) index into ``constants.ANSWERS`` (28), -100 when the question has no answer (test);
  ``point`` float32 (1, 2) zeros + ``point_mask`` bool (1,) False (CLEVR has no pointing);
* ``family`` int64 scalar: global template id 0-89 (-1 if unknown); ``qtype`` int64 scalar: index into
  ``constants.QUESTION_TYPES`` (exist, count, compare_integer, query_attribute, compare_attribute) from the
  program's last function (or the family's template when the program is absent), -1 if unknown.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from vrkit.data._clevr_index import (
    ANSWER_INDEX,
    COORD_FEATURE,
    IGNORE_INDEX,
    ONE_HOT_OFFSET,
    QTYPE_INDEX,
    STATE_FEATURES,
    QuestionTable,
    SceneTable,
    encode_objects,
    resolve,
)
from vrkit.data.clevr_vocab import ClevrVocab, template_vocab
from vrkit.data.collate import collate_cog
from vrkit.errors import InputError

__all__ = ["ANSWER_INDEX", "COORD_FEATURE", "IGNORE_INDEX", "ONE_HOT_OFFSET", "QTYPE_INDEX", "STATE_FEATURES",
           "ClevrDataset", "collate_clevr", "encode_objects", "io_config", "load_image"]

PATHS = ("pixels", "state", "features")  # features: no image read here (vrkit.data.features_h5)
PIXEL_NORMS = ("unit", "uint8")
MISSING = ("error", "render")


def io_config() -> dict[str, Any]:
    """The model IO fields (``vrkit.models.base.IOConfig``) CLEVR batches need: the exact size of
    :func:`~vrkit.data.clevr_vocab.template_vocab` (the vocabulary of every CLEVR source), the 28 answers, 18
    features per object, no pointing (T = 1)."""
    return {"vocab_size": len(template_vocab()), "num_answers": len(ANSWER_INDEX),
            "object_features": STATE_FEATURES, "pointing": False}


def _size(image_size: int | Sequence[int]) -> tuple[int, int]:
    """(H, W) from an int or an (H, W) pair."""
    hw = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    if len(hw) != 2 or not all(isinstance(v, int) and v >= 1 for v in hw):
        raise ValueError(f"image_size must be a positive int or (H, W), got {image_size!r}")
    return int(hw[0]), int(hw[1])


def load_image(path: str | Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """An image file as (H, W, 3) uint8 RGB (alpha dropped), resized to ``size`` = (H, W) if given."""
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        msg = "image not found" if not Path(path).is_file() else "cannot decode image"
        raise InputError(msg, path)
    return _resize(img[:, :, ::-1], size)


def _resize(rgb: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    import cv2

    if size is None or rgb.shape[:2] == size:
        return np.ascontiguousarray(rgb)
    h, w = size
    shrink = h * w < rgb.shape[0] * rgb.shape[1]
    interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(rgb), (w, h), interpolation=interp)


class ClevrDataset(Dataset):
    """Questions of one CLEVR split (module docstring for the item layout).

    ``root_or_files``: an official root (``images/<split>/``, ``scenes/CLEVR_<split>_scenes.json``,
    ``questions/CLEVR_<split>_questions.json``; split names train/val/test or CoGenT trainA, valA, valB,
    testA, testB; ``split`` may be omitted when the root holds one split), or a dict
    ``{"questions": ..., "scenes": ..., "images": dir}``, or a list of such paths (JSON files told apart by
    their content). The state path needs scenes, the pixel path images (or ``on_missing_image="render"``,
    which renders the scene with vrkit's renderer when its PNG is absent).

    ``vocab``: a :class:`ClevrVocab`, ``"templates"`` (default: all words of vrkit's templates, shared by
    every generated dataset), or ``"questions"`` (the words of this split; build it on train and pass
    ``train.vocab`` to the other splits). ``validate`` checks every scene/question with the official
    readers (slower on full releases). Scenes and questions are indexed once into flat arrays; images are
    read lazily in ``__getitem__``.
    """

    def __init__(self, root_or_files: Any, split: str | None = None, path: str = "pixels",
                 image_size: int | Sequence[int] = 128, vocab: ClevrVocab | str = "templates",
                 pixel_norm: str = "unit", on_missing_image: str = "error", validate: bool = True,
                 templates: str | Path | None = None) -> None:
        if path not in PATHS:
            raise ValueError(f"path must be one of {PATHS}, got {path!r}")
        if pixel_norm not in PIXEL_NORMS:
            raise ValueError(f"pixel_norm must be one of {PIXEL_NORMS}, got {pixel_norm!r}")
        if on_missing_image not in MISSING:
            raise ValueError(f"on_missing_image must be one of {MISSING}, got {on_missing_image!r}")
        from vrkit.worlds.clevr.templates import load_templates

        self.path, self.size, self.pixel_norm = path, _size(image_size), pixel_norm
        self.on_missing_image = on_missing_image
        self.files = resolve(root_or_files, split)
        self.split = self.files.split
        tmpl = load_templates(templates)
        if isinstance(vocab, ClevrVocab):
            self.vocab = vocab
        elif vocab == "templates":
            self.vocab = ClevrVocab.from_templates(tmpl)
        elif vocab == "questions":
            self.vocab = ClevrVocab.from_questions(self.files.questions)
        else:
            raise ValueError(f"vocab must be a ClevrVocab, 'templates' or 'questions', got {vocab!r}")
        need_scenes = path == "state" or (on_missing_image == "render")
        if need_scenes and self.files.scenes is None:
            raise InputError(f"the {path} path needs a scenes file (none for split {self.split!r})",
                             self.files.questions)
        if path == "pixels" and self.files.images is None and on_missing_image == "error":
            raise InputError("the pixels path needs an image directory (or on_missing_image='render')",
                             self.files.questions)
        self.scenes = (SceneTable(self.files.scenes, validate, keep=on_missing_image == "render")
                       if self.files.scenes is not None else None)
        self.questions = QuestionTable(self.files.questions, self.vocab, validate, tmpl)
        self._scene_row = np.full(len(self.questions), -1, dtype=np.int64)
        if self.scenes is not None:
            for i, idx in enumerate(self.questions.image_index.tolist()):
                r = self.scenes.row.get(idx)
                if r is None and need_scenes:
                    raise InputError(f"questions[{i}]: no scene with image_index {idx}", self.files.questions)
                self._scene_row[i] = -1 if r is None else r

    def __len__(self) -> int:
        return len(self.questions)

    # ---- per-question arrays (for samplers and per-type / per-family evaluation) ---------------------
    def answer_labels(self) -> np.ndarray:
        """Answer index of every question: int64 (len,), -1 where there is no answer."""
        return np.where(self.questions.answer == IGNORE_INDEX, -1, self.questions.answer)

    def qtypes(self) -> np.ndarray:
        """QTYPE index of every question: int64 (len,) (-1 unknown)."""
        return self.questions.qtype

    def family_indices(self) -> np.ndarray:
        """Global family id of every question: int64 (len,) (-1 unknown)."""
        return self.questions.family

    # ---- items --------------------------------------------------------------------------------------
    def image_path(self, i: int) -> Path | None:
        """Image file of question ``i`` (None without an image directory)."""
        if self.files.images is None:
            return None
        idx = int(self.questions.image_index[i])
        name = self.questions.filenames.get(idx)
        r = int(self._scene_row[i])
        if not name and r >= 0 and self.scenes is not None:
            name = self.scenes.filenames[r]
        return self.files.images / (name or f"CLEVR_{self.split}_{idx:06d}.png")

    def image(self, i: int) -> np.ndarray:
        """The (resized) image of question ``i``: (H, W, 3) uint8 RGB."""
        p = self.image_path(i)
        if p is not None and p.is_file() or self.on_missing_image == "error":
            if p is None:
                raise InputError("no image directory", self.files.questions)
            return load_image(p, self.size)
        from vrkit.worlds.clevr.render import render_scene

        scene = self.scenes.scenes[int(self._scene_row[i])]
        h, w = self.size
        return render_scene(scene, w, h)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"index {i} out of range for {n} questions")
        i %= n
        qt = self.questions
        q = torch.from_numpy(qt.question(i).astype(np.int64))
        item = {
            "question": q,
            "question_len": torch.tensor(len(q), dtype=torch.int64),
            "answer": torch.tensor([qt.answer[i]], dtype=torch.int64),
            "point": torch.zeros(1, 2, dtype=torch.float32),
            "point_mask": torch.zeros(1, dtype=torch.bool),
            "family": torch.tensor(qt.family[i], dtype=torch.int64),
            "qtype": torch.tensor(qt.qtype[i], dtype=torch.int64),
        }
        if self.path == "state":
            objs = torch.from_numpy(self.scenes.objects(int(self._scene_row[i])).copy())  # (N, 18)
            item["objects"] = objs.unsqueeze(0)  # (1, N, 18)
            item["object_mask"] = torch.ones(1, objs.shape[0], dtype=torch.bool)
        elif self.path == "pixels":
            img = torch.from_numpy(self.image(i)).permute(2, 0, 1).unsqueeze(0).contiguous()  # (1, 3, H, W)
            item["frames"] = img if self.pixel_norm == "uint8" else img.float().div_(255.0)
        return item


def collate_clevr(items: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Batch contract with T = 1: ``question`` (B, L), ``question_len`` (B,), ``frames`` (B, 1, 3, H, W) or
    ``objects`` (B, 1, N, 18) + ``object_mask`` (B, 1, N) (N = largest scene of the batch, zero/False
    padded), ``answer`` (B, 1), ``point`` (B, 1, 2), ``point_mask`` (B, 1), ``family`` (B,),
    ``qtype`` (B,)."""
    batch = collate_cog(items)
    batch["qtype"] = torch.stack([it["qtype"] for it in items])
    return batch
