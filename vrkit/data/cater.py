"""torch Datasets over generated CATER-style videos (:mod:`vrkit.worlds.cater`): a seeded stream whose item k of
epoch e is ``generate_video(video_seed(seed, e, k), config)`` (with ``pool_epochs`` P > 0, epoch e mod P: a
fixed set of P epochs of videos, optionally cached on disk), so batches are a pure function of (seed, epoch) and
a resumed run sees the videos an uninterrupted one would.

An item (before :func:`collate_cater`) is a dict of tensors for one video of T frames:

* ``frames`` uint8 (T, 3, H, W) (normalise on the device: :func:`frames_float`);
* ``snitch_cell`` int64 scalar (0..35), ``contained`` bool scalar (the snitch is covered at the end),
  ``actions`` float32 (A,) multi-hot over ``ACTION_LABELS``;
* with ``state=True``: ``objects`` float32 (T, M, F) and ``object_mask`` bool (T, M), the objects the camera
  sees in each frame (the world's state path: contained and hidden objects are left out), and ``attributes``
  float32 (T, F_cat): which attribute values (shape, colour, material, size) some visible object has.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from vrkit.worlds.cater.constants import ALL_SHAPES, COLORS_ALL, FLOOR, MATERIALS, SIZES


def video_seed(seed: int, epoch: int, index: int) -> int:
    """The generator seed of video ``index`` of ``epoch`` in the stream of ``seed`` (a 31-bit integer)."""
    return int.from_bytes(hashlib.sha256(f"cater:{seed}:{epoch}:{index}".encode()).digest()[:4], "little") >> 1


class WorldSource:
    """Where videos come from: the world's generator and its state path (:mod:`vrkit.worlds.cater`). Tests pass
    a stand-in with the same three methods."""

    def __init__(self) -> None:
        self._configs: dict[str, Any] = {}

    def config(self, world: dict[str, Any]) -> Any:
        """The world's ``CaterConfig`` from a mapping of its fields (ValueError naming an unknown field)."""
        import dataclasses

        from vrkit.worlds.cater import CaterConfig

        key = repr(sorted(world.items()))
        if key not in self._configs:
            known = {f.name for f in dataclasses.fields(CaterConfig)}
            unknown = sorted(set(world) - known)
            if unknown:
                raise ValueError(f"unknown CATER world option(s) {', '.join(unknown)} "
                                 f"(known: {', '.join(sorted(known))})")
            self._configs[key] = CaterConfig(**world)
        return self._configs[key]

    def make(self, seed: int, world: dict[str, Any]) -> Any:
        from vrkit.worlds.cater import generate_video

        return generate_video(seed, self.config(world))

    def state(self, video: Any) -> tuple[np.ndarray, np.ndarray, int]:
        """(objects (T, M, F), object_mask (T, M), number of leading categorical features of F): each visible
        object (:func:`vrkit.worlds.cater.state_frames`) as one-hot shape, colour, material and size, then its
        floor position and height divided by the floor's half-width."""
        from vrkit.worlds.cater import state_frames

        frames = state_frames(video.meta)
        M = max(1, max(len(f) for f in frames))
        objects = np.zeros((len(frames), M, _STATE_FEATURES), np.float32)
        mask = np.zeros((len(frames), M), bool)
        for t, objs in enumerate(frames):
            for i, o in enumerate(objs):
                objects[t, i] = _object_features(o)
                mask[t, i] = True
        return objects, mask, _N_CATEGORICAL

    def sizes(self, world: dict[str, Any]) -> dict[str, int]:
        """``features`` per object, categorical ``attributes``, ``max_objects`` per frame."""
        return {"features": _STATE_FEATURES, "attributes": _N_CATEGORICAL,
                "max_objects": int(self.config(world).max_objects)}


# The categorical blocks of an object's state vector: shapes (snitch + 4), colours (CLEVR's 8 + gold), materials,
# sizes; then x, y, z / FLOOR.
_VOCABULARIES = (("shape", ALL_SHAPES), ("color", COLORS_ALL), ("material", MATERIALS), ("size", SIZES))
_N_CATEGORICAL = sum(len(v) for _, v in _VOCABULARIES)
_STATE_FEATURES = _N_CATEGORICAL + 3


def _object_features(record: dict[str, Any]) -> np.ndarray:
    """One visible object's state vector (see :meth:`WorldSource.state`); an unknown value leaves its block 0."""
    out = np.zeros(_STATE_FEATURES, np.float32)
    at = 0
    for key, vocab in _VOCABULARIES:
        if record.get(key) in vocab:
            out[at + vocab.index(record[key])] = 1.0
        at += len(vocab)
    out[at:] = np.asarray(record["position"], np.float32)[:3] / FLOOR
    return out


def state_arrays(video: Any, source: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(objects (T, M, F) float32, object_mask (T, M) bool, attributes (T, A) float32) of a video: the
    visible objects of each frame and which categorical attribute values some visible object has."""
    objects, mask, n_cat = source.state(video)
    objects = np.asarray(objects, dtype=np.float32)
    mask = np.asarray(mask, dtype=bool)
    cats = objects[..., :n_cat] * mask[..., None]  # (T, M, A)
    attributes = cats.max(axis=1) if objects.shape[1] else np.zeros((objects.shape[0], n_cat), np.float32)
    return objects, mask, attributes.astype(np.float32)


def encode_video(video: Any, source: Any = None) -> dict[str, Tensor]:
    """The item of one generated video (module docstring); with a ``source``, its state-path arrays too."""
    frames = np.ascontiguousarray(np.asarray(video.frames, np.uint8).transpose(0, 3, 1, 2))  # (T, 3, H, W)
    item = {"frames": torch.from_numpy(frames),
            "snitch_cell": torch.tensor(int(video.snitch_cell), dtype=torch.long),
            "contained": torch.tensor(bool(video.snitch_contained_at_end)),
            "actions": torch.as_tensor(np.asarray(video.actions, np.float32))}
    if source is not None:
        objects, mask, attributes = state_arrays(video, source)
        item.update(objects=torch.from_numpy(objects), object_mask=torch.from_numpy(mask),
                    attributes=torch.from_numpy(attributes))
    return item


def collate_cater(items: Sequence[dict[str, Tensor]]) -> dict[str, Tensor]:
    """Stack items; per-frame object sets are padded to the batch's largest (``object_mask`` False there)."""
    out: dict[str, Tensor] = {}
    for key in items[0]:
        if key == "objects":
            M = max(int(it["objects"].shape[1]) for it in items)
            T, _, F = items[0]["objects"].shape
            objs = torch.zeros(len(items), T, max(M, 1), F)
            mask = torch.zeros(len(items), T, max(M, 1), dtype=torch.bool)
            for i, it in enumerate(items):
                m = it["objects"].shape[1]
                objs[i, :, :m], mask[i, :, :m] = it["objects"], it["object_mask"]
            out["objects"], out["object_mask"] = objs, mask
        elif key != "object_mask":
            out[key] = torch.stack([it[key] for it in items])
    return out


def frames_float(frames: Tensor) -> Tensor:
    """uint8 frames [..., 3, H, W] → float in [0, 1] (on the frames' device)."""
    return frames.float().div_(255.0) if frames.dtype == torch.uint8 else frames


def source_identity(source: Any, world: dict[str, Any]) -> dict[str, Any]:
    """The cache-key parts (:mod:`vrkit.data.set_cache`) that fix the bytes of the videos ``source`` (None: a
    :class:`WorldSource`) makes for ``world``: the world's every option (defaults too) and record format, or a
    stand-in source's class and the options as given."""
    from vrkit.worlds.cater.video import FORMAT

    if source is None or type(source) is WorldSource:
        return {"world": (source or WorldSource()).config(world).to_json(), "world_format": FORMAT,
                "source": "world"}
    return {"world": dict(world), "world_format": FORMAT,
            "source": f"{type(source).__module__}.{type(source).__qualname__}"}


POOL_CHUNK = 64  # videos per file of a video pool
_STATE_KEYS = ("objects", "object_mask", "attributes")


class CaterStream(Dataset):
    """``n`` generated videos per epoch (module docstring); ``set_epoch(e)`` selects epoch e's videos.
    ``source``: a :class:`WorldSource` (default) or a stand-in; ``state``: add the state-path arrays.

    ``pool``: a directory where the stream's videos are cached on disk, :data:`POOL_CHUNK` per file (with their
    state, :mod:`vrkit.data.set_cache`): the first stream to need a chunk generates it (or :meth:`fill_pool` does
    it up front), every other stream of the same seed, world and ``n`` that uses the directory loads it. The items
    are the ones the stream generates.

    ``pool_epochs`` P > 0: epoch e reads the videos of epoch e mod P, so the stream is a fixed set of P × ``n``
    videos seen in the same order every P epochs; 0: fresh videos every epoch."""

    def __init__(self, n: int, seed: int, world: dict[str, Any] | None = None, state: bool = False,
                 source: Any = None, pool: str | Path | None = None, pool_epochs: int = 0) -> None:
        if n < 1 or pool_epochs < 0:
            raise ValueError(f"a CATER stream needs n >= 1 videos and pool_epochs >= 0, got {n} and {pool_epochs}")
        self.n, self.seed, self.state, self.epoch = int(n), int(seed), state, 0
        self.pool_epochs = int(pool_epochs)
        self.world = dict(world or {})
        self.source = source if source is not None else WorldSource()
        self.pool = None if pool is None else Path(pool)
        self._chunk: tuple[tuple[int, int], dict[str, Tensor]] | None = None  # the last pool chunk read
        self.generated = 0  # videos this stream wrote into its pool (in this process)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    @property
    def data_epoch(self) -> int:
        """The epoch of the stream whose videos the current epoch reads (``pool_epochs``)."""
        return self.epoch % self.pool_epochs if self.pool_epochs else self.epoch

    def __len__(self) -> int:
        return self.n

    def video(self, k: int) -> Any:
        return self.source.make(video_seed(self.seed, self.data_epoch, k), self.world)

    def __getitem__(self, k: int) -> dict[str, Tensor]:
        if not 0 <= int(k) < self.n:
            raise IndexError(k)
        if self.pool is not None:
            return self._pooled(int(k))
        return encode_video(self.video(int(k)), self.source if self.state else None)

    def pool_key(self, chunk: int) -> dict[str, Any]:
        """What determines the bytes of pool file ``chunk`` of the current epoch (:attr:`data_epoch`)."""
        from vrkit.data.set_cache import set_key

        return set_key(**source_identity(self.source, self.world), stream_seed=self.seed, epoch=self.data_epoch,
                       stream_n=self.n, start=chunk * POOL_CHUNK, n=min(POOL_CHUNK, self.n - chunk * POOL_CHUNK))

    def pool_files(self) -> list[Path]:
        """The pool files of the current epoch (:attr:`data_epoch`), whether written yet or not."""
        from vrkit.data.set_cache import set_path

        if self.pool is None:
            raise ValueError("this stream has no pool directory")
        return [set_path(self.pool, self._chunk_name(c), self.pool_key(c)) for c in range(-(-self.n // POOL_CHUNK))]

    def fill_pool(self, epochs: Sequence[int]) -> int:
        """Write the pool files of stream epochs ``epochs`` (those not written yet); returns the number of videos
        generated. Each file is written to a temp path and renamed, so a killed fill leaves whole files only."""
        before, epoch = self.generated, self.epoch
        for e in epochs:
            self.set_epoch(e)
            for c in range(-(-self.n // POOL_CHUNK)):
                self._pool_chunk(c)
        self.set_epoch(epoch)
        self._chunk = None
        return self.generated - before

    def _chunk_name(self, c: int) -> str:
        return f"cater-s{self.seed}-e{self.data_epoch}-c{c}"

    def _pool_chunk(self, c: int) -> dict[str, Tensor]:
        """Pool file ``c`` of the current epoch, loaded (its row count checked) or generated and written."""
        from vrkit.data.set_cache import cached_set

        def make() -> dict[str, Tensor]:
            items = [encode_video(self.video(j), self.source)
                     for j in range(c * POOL_CHUNK, min(self.n, (c + 1) * POOL_CHUNK))]
            self.generated += len(items)
            return {**collate_cater(items), "object_count": torch.tensor([it["objects"].shape[1] for it in items])}

        return cached_set(self.pool, self._chunk_name(c), self.pool_key(c), make)

    def _pooled(self, k: int) -> dict[str, Tensor]:
        c, i = divmod(k, POOL_CHUNK)
        if self._chunk is None or self._chunk[0] != (self.data_epoch, c):
            self._chunk = ((self.data_epoch, c), self._pool_chunk(c))
        data = self._chunk[1]
        m = int(data["object_count"][i])
        item = {key: v[i] for key, v in data.items() if key != "object_count"}
        if not self.state:
            return {key: v for key, v in item.items() if key not in _STATE_KEYS}
        item["objects"], item["object_mask"] = item["objects"][:, :m], item["object_mask"][:, :m]
        return item


def materialise(ds: Dataset, batch_size: int = 64) -> dict[str, Tensor]:
    """Every item of ``ds`` collated into one batch (fixed fine-tuning and test sets kept in memory)."""
    batches = [collate_cater([ds[i] for i in range(s, min(s + batch_size, len(ds)))])
               for s in range(0, len(ds), batch_size)]
    return collate_batches(batches)


def collate_batches(batches: Sequence[dict[str, Tensor]]) -> dict[str, Tensor]:
    """Concatenate batches along the first dimension (object sets padded to the largest)."""
    out: dict[str, Tensor] = {}
    for key in batches[0]:
        parts = [b[key] for b in batches]
        if key in ("objects", "object_mask"):
            M = max(p.shape[2] for p in parts)
            parts = [torch.nn.functional.pad(p, (0, 0, 0, M - p.shape[2]) if key == "objects" else (0, M - p.shape[2]))
                     for p in parts]
        out[key] = torch.cat(parts)
    return out
