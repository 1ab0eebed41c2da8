"""The images of one CLEVR split, one item per image (private helper of :mod:`vrkit.retrieval.features`).

Layouts (the questions file is not needed):

* official root: ``<root>/scenes/CLEVR_<split>_scenes.json`` and ``<root>/images/<split>/`` (CLEVR_v1.0,
  CLEVR_CoGenT_v1.0, ``vrkit generate clevr`` output); ``split`` may be omitted when one split is present;
* a directory of loose files holding one ``*scenes*.json`` (and optionally ``images/``), or a scenes JSON file.

An image's file is its scene's ``image_filename`` (else ``CLEVR_<split>_<image_index:06d>.png``) in the image
directory. Batches follow the batch contract (T = 1) with the same question in every row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import torch

from vrkit.errors import InputError

_PRE, _SUF = "CLEVR_", "_scenes.json"


@dataclass
class ImageSet:
    """Scenes (official dicts, file order) of one split; ``images`` is None when the split has no images."""

    data: Path
    split: str | None
    scenes_path: Path
    images: Path | None
    scenes: list[dict]

    def __len__(self) -> int:
        return len(self.scenes)

    @cached_property
    def scene_indices(self) -> np.ndarray:
        """``image_index`` of every scene (its file position when absent): int64 [N]."""
        return np.array([int(s.get("image_index", i)) for i, s in enumerate(self.scenes)], dtype=np.int64)

    @cached_property
    def filenames(self) -> list[str]:
        out = []
        for i, s in enumerate(self.scenes):
            name = s.get("image_filename")
            out.append(str(name) if name else f"CLEVR_{self.split or 'images'}_{int(s.get('image_index', i)):06d}.png")
        return out

    def image_path(self, i: int) -> Path | None:
        return None if self.images is None else self.images / self.filenames[i]


def _splits(root: Path) -> list[str]:
    return sorted(p.name[len(_PRE):-len(_SUF)] for p in (root / "scenes").glob(f"{_PRE}*{_SUF}"))


def locate(data: str | Path, split: str | None = None) -> tuple[Path, Path | None, str | None]:
    """(scenes file, image directory or None, split name) of a CLEVR directory (module docstring)."""
    root = Path(data)
    if not root.exists():
        raise InputError("no such file or directory", root)
    if root.is_file():
        images = root.parent / "images"
        return root, (images if images.is_dir() else None), split
    if (root / "scenes").is_dir():
        avail = _splits(root)
        if split is None:
            if len(avail) != 1:
                raise InputError(f"give a split (available: {', '.join(avail) or 'none'})", root)
            split = avail[0]
        if split not in avail:
            raise InputError(f"no scenes for split {split!r} (available: {', '.join(avail) or 'none'})", root)
        images = root / "images" / split
        return root / "scenes" / f"{_PRE}{split}{_SUF}", (images if images.is_dir() else None), split
    loose = sorted(root.glob("*scenes*.json"))
    if split is not None:
        loose = [p for p in loose if split in p.name] or loose
    if len(loose) != 1:
        what = "no scenes JSON" if not loose else f"{len(loose)} scenes JSON files ({', '.join(p.name for p in loose)})"
        raise InputError(f"{what} in this directory; expected scenes/CLEVR_<split>_scenes.json or one "
                         "*scenes*.json", root)
    images = root / "images"
    if images.is_dir() and split is not None and (images / split).is_dir():
        images = images / split
    return loose[0], (images if images.is_dir() else None), split


def open_image_set(data: str | Path, split: str | None = None) -> ImageSet:
    """Read the scenes of ``data`` (validated; :class:`InputError` naming the file on bad input)."""
    from vrkit.worlds.clevr.io import read_scenes

    scenes_path, images, split = locate(data, split)
    _, scenes = read_scenes(scenes_path)
    if not scenes:
        raise InputError("no scenes", scenes_path)
    return ImageSet(Path(data), split, scenes_path, images, scenes)


def make_batch(images: ImageSet, rows: Sequence[int], question: np.ndarray, path: str,
               image_size: int) -> dict[str, torch.Tensor]:
    """Batch of images ``rows`` (T = 1), every row asking ``question`` (token ids [L]).

    pixels: ``frames`` float32 [B, 1, 3, H, W] in [0, 1] (as :class:`vrkit.data.ClevrDataset`); state:
    ``objects`` float32 [B, 1, N, 18] + ``object_mask`` bool [B, 1, N] (N = largest scene of the batch).
    """
    from vrkit.data.clevr import STATE_FEATURES, encode_objects, load_image

    B = len(rows)
    q = torch.from_numpy(np.asarray(question, dtype=np.int64))
    batch: dict[str, torch.Tensor] = {"question": q.unsqueeze(0).expand(B, -1).contiguous(),
                                      "question_len": torch.full((B,), len(q), dtype=torch.int64)}
    if path == "pixels":
        if images.images is None:
            raise InputError("the checkpoint reads pixels but this split has no image directory",
                             images.scenes_path)
        frames = np.stack([load_image(images.image_path(r), (image_size, image_size)) for r in rows])
        batch["frames"] = torch.from_numpy(frames).permute(0, 3, 1, 2).unsqueeze(1).float().div_(255.0)
    else:
        objs = [encode_objects(images.scenes[r]["objects"]) for r in rows]
        n = max(max(len(o) for o in objs), 1)
        objects = np.zeros((B, 1, n, STATE_FEATURES), dtype=np.float32)
        mask = np.zeros((B, 1, n), dtype=bool)
        for b, o in enumerate(objs):
            objects[b, 0, : len(o)] = o
            mask[b, 0, : len(o)] = True
        batch["objects"], batch["object_mask"] = torch.from_numpy(objects), torch.from_numpy(mask)
    return batch
