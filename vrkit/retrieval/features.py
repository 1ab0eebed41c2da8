"""R-CBIR feature indexes: one feature vector per CLEVR image from a trained reasoning model
(docs/transfer.md, 'R-CBIR').

Feature kinds (:data:`KINDS`):

* ``"2s"`` (relation_net): the 2S-RN feature — the input of g-layer ``q_inject_layer`` without its question
  part, for every object pair; it lies before the question enters g, so it does not depend on the question;
* ``"avf"`` (relation_net with ``aggregate_layer <= q_inject_layer``): the AVF-RN feature — the pair vectors
  entering the aggregation inside g, before the question is injected (question-free as well);
* ``pool`` (2s, avf): ``"mean"`` (default) or ``"max"`` over the pairs of each pair's L2-normalised vector —
  the features of RelationNetworks-CLEVR's ``extract.py`` (its ``avg`` and ``max`` files) — or ``"sum"``,
  vrkit's earlier raw feature (summed over pairs, or averaged when the model aggregates by ``avg``; for avf
  the model's own aggregate);
* ``"summary"`` (samnet, mac): SAMNet's final summary / MAC's final memory. These depend on the question:
  *our choice* is one fixed, generic question for every image (:data:`GENERIC_QUESTION`, "How many objects
  are there?", a question about the whole scene), so that all images are described by the same reasoning
  program and their summaries are comparable; ``question=`` changes it;
* ``"cnn"``: the plain baseline — the model's own perception features (CNN cells, or encoded objects on the
  state path) pooled by mean and max, without relations;
* ``"cnn-untrained"``: ``"cnn"`` of the same architecture freshly initialised (seeded), the
  no-training baseline.

A random ranking is the other baseline; it needs no index (:mod:`vrkit.retrieval.evaluation`).

Index files: ``<name>.npz`` holds ``features`` float32 ``[N, D]``, ``filenames`` str ``[N]``,
``scene_indices`` int64 ``[N]`` (scene ``image_index``) and the packed scene graphs (``graph_attrs``
int8 ``[N, 10, 4]``, ``graph_labels`` uint8 ``[N, 10, 10]``, ``graph_sizes`` int64 ``[N]``), so retrieval
and evaluation need no other file; ``<name>.json`` (sidecar) records the model, kind, checkpoint and its
sha256, the data directory, split, image directory, question and the npz's sha256. Both are written
atomically, the npz with fixed zip timestamps: the same inputs give the same bytes.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vrkit.errors import InputError
from vrkit.retrieval.graphs import GraphBatch, pack, scenes_to_graphs
from vrkit.utils.atomic import atomic_open, atomic_write_text, sha256_file

KINDS: tuple[str, ...] = ("2s", "avf", "summary", "cnn", "cnn-untrained")
POOLS: tuple[str, ...] = ("mean", "max", "sum")  # over object pairs, for 2s and avf
GENERIC_QUESTION = "How many objects are there?"
INDEX_FORMAT = "vrkit-rcbir-index-1"
_ARRAYS = ("features", "filenames", "scene_indices", "graph_attrs", "graph_labels", "graph_sizes")


@dataclass
class FeatureIndex:
    """Features ``[N, D]`` float32 of N images, their file names, scene indices and scene graphs."""

    features: np.ndarray
    filenames: list[str]
    scene_indices: np.ndarray
    graphs: GraphBatch
    meta: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def __len__(self) -> int:
        return int(self.features.shape[0])

    @property
    def name(self) -> str:
        """Display name: the sidecar ``label``, else ``<kind> (<model>)``."""
        pool = self.meta.get("pool")
        kind = f"{self.meta.get('kind', '?')}{f' {pool}' if pool not in (None, 'mean') else ''}"
        return str(self.meta.get("label") or f"{kind} ({self.meta.get('model', '?')})")


def index_paths(path: str | Path) -> tuple[Path, Path]:
    """(npz, json sidecar) of an index given as ``X.npz``, ``X.json`` or ``X``."""
    p = Path(path)
    stem = p.with_suffix("") if p.suffix in (".npz", ".json") else p
    return stem.with_name(stem.name + ".npz"), stem.with_name(stem.name + ".json")


# --- extraction ----------------------------------------------------------------------------------------------

def _model_for(task: Any, kind: str, seed: int) -> torch.nn.Module:
    if kind != "cnn-untrained":
        return task.model
    from vrkit.engine.module import model_kwargs
    from vrkit.models.registry import build_model

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return build_model(task.cfg.model.name, **model_kwargs(task.cfg)).eval()


def _features(model: torch.nn.Module, batch: dict[str, torch.Tensor], kind: str, pool: str) -> torch.Tensor:
    from vrkit.retrieval._extract import cnn_features, relation_features, summary_features

    if kind in ("2s", "avf"):
        return relation_features(model, batch, kind, pool)
    if kind == "summary":
        return summary_features(model, batch)
    return cnn_features(model, batch)


@torch.no_grad()
def extract_index(ckpt: str | Path, data: str | Path, kind: str = "2s", split: str | None = None,
                  batch_size: int = 64, question: str | None = None, label: str | None = None,
                  limit: int | None = None, seed: int = 0, progress: bool = False,
                  pool: str = "mean") -> FeatureIndex:
    """Features of every image of a CLEVR split (official root or generated directory) -> :class:`FeatureIndex`.

    ``ckpt``: a vrkit checkpoint of a CLEVR model (its data path, state or pixels, and image size are used);
    ``kind`` one of :data:`KINDS`; ``question``: the question asked with every image (default
    :data:`GENERIC_QUESTION`; only ``summary`` depends on it); ``limit``: the first N scenes only;
    ``seed``: initialisation of ``cnn-untrained``; ``pool``: "mean" | "max" | "sum" over pairs (2s, avf).
    Raises :class:`InputError` on a bad checkpoint, directory or kind/model mismatch.
    """
    from tqdm import tqdm

    from vrkit.engine.datamodules.clevr import template_vocab
    from vrkit.engine.evaluate import load_task
    from vrkit.retrieval._extract import check_kind
    from vrkit.retrieval._images import make_batch, open_image_set

    if kind not in KINDS:
        raise InputError(f"unknown feature kind {kind!r} (known: {', '.join(KINDS)})")
    if pool not in POOLS:
        raise InputError(f"unknown pair pooling {pool!r} (known: {', '.join(POOLS)})")
    task = load_task(ckpt)
    if task.cfg.data.world != "clevr":
        raise InputError(f"R-CBIR needs a CLEVR model; this checkpoint was trained on {task.cfg.data.world!r}",
                         ckpt)
    images = open_image_set(data, split)
    rows = list(range(len(images) if limit is None else min(limit, len(images))))
    text = GENERIC_QUESTION if question is None else question
    tokens = template_vocab().encode(text)
    if len(tokens) == 0:
        raise InputError(f"empty question {text!r}")
    model = _model_for(task, kind, seed)
    try:
        check_kind(model, kind)
    except ValueError as err:
        raise InputError(str(err), ckpt) from None
    path, size = task.cfg.data.path, task.cfg.data.image_size
    out = []
    bar = tqdm(total=len(rows), disable=not progress, desc=f"index {kind}", unit="img")
    for s in range(0, len(rows), max(1, batch_size)):
        batch = task.prepare(make_batch(images, rows[s:s + batch_size], tokens, path, size))
        out.append(_features(model, batch, kind, pool).cpu().numpy().astype(np.float32))
        bar.update(len(rows[s:s + batch_size]))
    bar.close()
    graphs = pack(scenes_to_graphs([images.scenes[r] for r in rows]))
    meta = {
        "format": INDEX_FORMAT, "kind": kind, "label": label, "model": task.cfg.model.name, "path": path,
        "image_size": size if path == "pixels" else None, "checkpoint": str(Path(ckpt).resolve()),
        "checkpoint_sha256": sha256_file(ckpt), "data": str(Path(data).resolve()), "split": images.split,
        "scenes": str(images.scenes_path.resolve()),
        "images": None if images.images is None else str(images.images.resolve()),
        "question": text, "untrained_seed": seed if kind == "cnn-untrained" else None,
        "pool": pool if kind in ("2s", "avf") else None,
    }
    names = images.filenames
    return FeatureIndex(np.concatenate(out), [names[r] for r in rows], images.scene_indices[rows], graphs, meta)


# --- files -----------------------------------------------------------------------------------------------------

def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """``np.savez`` layout with fixed zip timestamps (deterministic bytes), written atomically."""
    with atomic_open(path, "wb") as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED) as zf:
        for name, arr in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            with zf.open(info, "w", force_zip64=True) as out:
                np.lib.format.write_array(out, np.asanyarray(arr), allow_pickle=False)


def save_index(index: FeatureIndex, out: str | Path) -> tuple[Path, Path]:
    """Write ``<out>.npz`` and its ``<out>.json`` sidecar (atomically); returns both paths."""
    npz, side = index_paths(out)
    g = index.graphs
    _write_npz(npz, {"features": np.ascontiguousarray(index.features, dtype=np.float32),
                     "filenames": np.array(index.filenames, dtype=str),
                     "scene_indices": np.asarray(index.scene_indices, dtype=np.int64),
                     "graph_attrs": g.attrs, "graph_labels": g.labels, "graph_sizes": g.sizes})
    meta = {**index.meta, "n": len(index), "dim": int(index.features.shape[1]), "npz_sha256": sha256_file(npz)}
    atomic_write_text(side, json.dumps(meta, indent=1, sort_keys=True) + "\n")
    index.meta, index.path = meta, npz
    return npz, side


def load_index(path: str | Path) -> FeatureIndex:
    """Read an index written by :func:`save_index`; a missing, corrupt or inconsistent file raises
    :class:`InputError` naming it."""
    from vrkit.utils.files import read_json

    npz, side = index_paths(path)
    if not npz.is_file():
        raise InputError("no such index file", npz)
    meta = read_json(side, "index sidecar")
    if not isinstance(meta, dict) or meta.get("format") != INDEX_FORMAT:
        raise InputError(f"not an R-CBIR index sidecar (expected format {INDEX_FORMAT!r})", side)
    try:
        with np.load(npz, allow_pickle=False) as z:
            arr = {k: z[k] for k in _ARRAYS}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        raise InputError(f"corrupt index file ({type(err).__name__}: {err})", npz) from None
    f = arr["features"]
    n = f.shape[0] if f.ndim == 2 else -1
    if f.ndim != 2 or any(arr[k].shape[0] != n for k in _ARRAYS[1:]):
        raise InputError("corrupt index file (array lengths differ)", npz)
    if meta.get("npz_sha256") not in (None, sha256_file(npz)):
        raise InputError("index file does not match its sidecar (npz_sha256 differs)", npz)
    graphs = GraphBatch(arr["graph_attrs"], arr["graph_labels"], arr["graph_sizes"])
    return FeatureIndex(f.astype(np.float32), [str(s) for s in arr["filenames"]], arr["scene_indices"], graphs,
                        meta, npz)
