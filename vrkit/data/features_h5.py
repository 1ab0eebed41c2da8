"""Precomputed CNN feature maps of CLEVR images, read from HDF5 (the ``features`` data path).

Layout: the one clevr-iep's ``scripts/extract_features.py`` writes (and the MAC and Relation Network papers
train on): one file per split holding a float32 dataset named ``features`` of shape [N, C, h, w], row i = the
image whose index is i (``CLEVR_<split>_<i:06d>.png``; the script sorts the images by that index and requires
them to be 0 … N-1). With its defaults (ResNet-101 up to ``layer3``, i.e. conv4, on 224 × 224 images) a map
is [1024, 14, 14]. docs/mac-reference.md tells how to make the files.

:class:`FeatureMaps` opens a file lazily (once per process, so it can cross a DataLoader fork) and checks it:
missing file, no ``features`` dataset, wrong rank or map shape, too few maps for the split — one
:class:`InputError` naming the file. :class:`WithFeatures` adds ``features`` [1, C, h, w] (T = 1) to the items
of a question dataset, looking rows up by each question's image index.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from vrkit.errors import InputError

DATASET = "features"
#: ResNet-101 conv4 on 224 × 224 images (clevr-iep's defaults, MAC's input unit)
RESNET_CONV4 = (1024, 14, 14)


class FeatureMaps:
    """Feature maps [C, h, w] by image index from the HDF5 file ``path`` (float32 tensors).

    ``shape``: the (C, h, w) a model expects (None: any); ``count``: the number of images of the split (the
    file must hold exactly that many maps); ``max_index``: the largest image index asked for (the file must
    reach it)."""

    def __init__(self, path: str | Path, shape: Sequence[int] | None = RESNET_CONV4, count: int | None = None,
                 max_index: int | None = None) -> None:
        self.path = Path(path)
        self._file: Any = None
        self._pid: int | None = None
        n, item = self._inspect()
        if shape is not None and tuple(item) != tuple(shape):
            raise InputError(f"feature maps are {list(item)}, the model expects {list(shape)} per image "
                             f"(dataset '{DATASET}' of shape [N, C, h, w])", self.path)
        if count is not None and n != count:
            raise InputError(f"{n} feature maps for a split of {count} images (row i must be image i)", self.path)
        if max_index is not None and max_index >= n:
            raise InputError(f"{n} feature maps, but the questions refer to image index {max_index}", self.path)
        self.count, self.shape = n, tuple(item)

    def _inspect(self) -> tuple[int, tuple[int, ...]]:
        import h5py

        if not self.path.is_file():
            raise InputError("no such feature file", self.path)
        try:
            with h5py.File(self.path, "r") as f:
                if DATASET not in f or not isinstance(f[DATASET], h5py.Dataset):
                    have = ", ".join(sorted(f.keys())[:5]) or "none"
                    raise InputError(f"no dataset '{DATASET}' in this HDF5 file (has: {have})", self.path)
                shp = f[DATASET].shape
        except OSError as err:
            raise InputError(f"not a readable HDF5 file ({err})", self.path) from None
        if len(shp) != 4:
            raise InputError(f"dataset '{DATASET}' has shape {list(shp)}, expected [N, C, h, w]", self.path)
        return int(shp[0]), tuple(int(s) for s in shp[1:])

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> torch.Tensor:
        import os

        import h5py

        if self._file is None or self._pid != os.getpid():  # h5py handles do not survive a fork
            self._file, self._pid = h5py.File(self.path, "r"), os.getpid()
        return torch.from_numpy(np.asarray(self._file[DATASET][int(index)], dtype=np.float32))

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_file": None, "_pid": None}


class WithFeatures(Dataset):
    """Items of ``base`` plus ``features`` [1, C, h, w]: the map of image ``image_index[k]`` for item k.

    Pixel or object inputs of the base items are dropped (the model reads the maps); other methods and
    attributes (``answer_labels``, ``qtypes``, ...) are the base dataset's."""

    def __init__(self, base: Dataset, image_index: np.ndarray, maps: FeatureMaps) -> None:
        self.base, self.image_index, self.maps = base, np.asarray(image_index, dtype=np.int64), maps
        if len(self.image_index) != len(base):  # type: ignore[arg-type]
            raise ValueError("one image index per item is needed")

    def __len__(self) -> int:
        return len(self.image_index)

    def __getitem__(self, k: int) -> dict[str, torch.Tensor]:
        item = self.base[k]
        for key in ("frames", "objects", "object_mask"):
            item.pop(key, None)
        item["features"] = self.maps[int(self.image_index[k])].unsqueeze(0)
        return item

    def __getattr__(self, name: str) -> Any:
        if name in ("base", "image_index", "maps"):
            raise AttributeError(name)
        return getattr(self.base, name)
