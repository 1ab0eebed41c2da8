"""Writing CATER-style video datasets, in parallel, with the same bytes for any number of workers or shards.

Layout under ``out`` (docs/world-cater.md, 'On disk'), ``<split>`` = ``cater_<train|val|test>``::

    <split>/part-NNNNN.jsonl, .npz                 videos [P N, P N + P), P = part_size (default 100;
                                                   vrkit/worlds/cater/io.py)
    manifest.<split>.json                          beside the folder (a shard: ``….shard-I-of-N.json``;
                                                   vrkit/worlds/manifest.py)

Video ``i`` of a split is ``generate_video(video_seed(seed, split, i), config)``: a pure function of the seed,
the split, its number and the configuration. A part depends on nothing else, so any number of worker
processes, and any number of machines each writing ``shard=(I, N)`` (the parts k with k % N == I), produce
the same files. A split (for a shard: its own parts) is written whole: a run fills a fresh temporary
directory in ``out`` and moves its files into place, the manifest last (vrkit/utils/atomic.py,
``staged_outputs``; the whole split under a lock on ``out``); an existing one is refused before any work
unless ``overwrite``.
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vrkit import __version__
from vrkit.utils.atomic import atomic_write_text, sha256_file, staged_outputs
from vrkit.worlds.cater.constants import ACTION_LABELS
from vrkit.worlds.cater.io import PART, part_stem, write_part
from vrkit.worlds.cater.video import FORMAT, CaterConfig, generate_video
from vrkit.worlds.manifest import beside, manifest_name

SPLITS: tuple[str, ...] = ("train", "val", "test")


def video_seed(seed: int, split: str, index: int) -> int:
    """The ``generate_video`` seed of video ``index`` of ``split`` (a 63-bit integer, stored in its record)."""
    ss = np.random.SeedSequence([seed, zlib.crc32(split.encode("ascii")), index])
    return int(ss.generate_state(1, np.uint64)[0] >> np.uint64(1))


@dataclass
class CaterGenerateConfig:
    """One split: ``n`` videos of ``video`` under ``seed``; ``workers`` processes; ``shard`` = (I, N);
    ``part_size`` videos per part file (the file layout only, never a video)."""

    out: str
    n: int = 100
    seed: int = 0
    split: str = "train"
    video: CaterConfig = field(default_factory=CaterConfig)
    workers: int = 1
    shard: tuple[int, int] = (0, 1)
    part_size: int = PART

    def __post_init__(self) -> None:
        i, n = self.shard
        checks = [
            (self.split in SPLITS, f"split must be one of {', '.join(SPLITS)}, got {self.split!r}"),
            (self.n >= 1, f"n must be >= 1, got {self.n}"),
            (self.seed >= 0, f"seed must be >= 0, got {self.seed}"),
            (self.workers >= 1, f"workers must be >= 1, got {self.workers}"),
            (1 <= self.part_size <= 10_000, f"part size must be in 1..10000, got {self.part_size}"),
            (n >= 1 and 0 <= i < n, f"bad shard {i}/{n}: expected I/N with 0 <= I < N"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ValueError(msg)

    @property
    def split_dir(self) -> str:
        return f"cater_{self.split}"

    def parts(self) -> list[int]:
        """This shard's part numbers."""
        i, n = self.shard
        return [k for k in range(math.ceil(self.n / self.part_size)) if k % n == i]

    def part_videos(self, k: int) -> range:
        """The video numbers of part ``k``."""
        return range(k * self.part_size, min((k + 1) * self.part_size, self.n))


def _part_task(args: tuple[CaterGenerateConfig, Path, int]) -> dict:
    cfg, folder, k = args
    indices = list(cfg.part_videos(k))
    videos = [generate_video(video_seed(cfg.seed, cfg.split, i), cfg.video) for i in indices]
    stem = folder / part_stem(k)
    write_part(stem, videos, indices)
    rel = f"{cfg.split_dir}/{part_stem(k)}"
    return {
        "part": k, "videos": len(indices), "first": indices[0],
        "jsonl": {"path": rel + ".jsonl", "sha256": sha256_file(stem.with_suffix(".jsonl"))},
        "npz": {"path": rel + ".npz", "sha256": sha256_file(stem.with_suffix(".npz"))},
        "contained_at_end": sum(v.snitch_contained_at_end for v in videos),
        "actions": [int(x) for x in np.sum([v.actions for v in videos], axis=0)],
    }


def generate_cater(cfg: CaterGenerateConfig, progress: Callable[[int], None] | None = None,
                   overwrite: bool = False) -> dict:
    """Write this shard's parts and its manifest (module docstring: whole or not at all); return the manifest.
    ``progress(k)`` is called with the number of videos just written."""
    root, n = Path(cfg.out), cfg.shard[1]
    whole = manifest_name(cfg.split_dir)
    if n == 1:
        stale = [p.name for p in beside(root / cfg.split_dir) if p.name != whole]
        with staged_outputs(root, [cfg.split_dir + "/", whole], overwrite, remove=stale) as stage:
            return _write(cfg, stage, progress)
    names = [f"{cfg.split_dir}/{part_stem(k)}{ext}" for k in cfg.parts() for ext in (".jsonl", ".npz")]
    with staged_outputs(root, [*names, manifest_name(cfg.split_dir, cfg.shard)], overwrite, lock=False,
                        remove=[whole]) as stage:
        return _write(cfg, stage, progress)


def _write(cfg: CaterGenerateConfig, stage: Path, progress: Callable[[int], None] | None) -> dict:
    folder = stage / cfg.split_dir
    folder.mkdir()
    tasks = [(cfg, folder, k) for k in cfg.parts()]
    pool = None
    if cfg.workers > 1 and len(tasks) > 1:
        pool = mp.get_context("fork").Pool(min(cfg.workers, len(tasks)))
    try:
        results = pool.imap(_part_task, tasks, chunksize=1) if pool else map(_part_task, tasks)
        parts = []
        for res in results:
            parts.append(res)
            if progress:
                progress(res["videos"])
    finally:
        if pool is not None:
            pool.terminate()
    counts: Counter[str] = Counter()
    for p in parts:
        counts.update(dict(zip(ACTION_LABELS, p.pop("actions"))))
    i, n = cfg.shard
    manifest = {
        "world": "cater", "format": FORMAT, "vrkit_version": __version__, "split": cfg.split, "seed": cfg.seed,
        "n": cfg.n, "config": cfg.video.to_json(), "shard": f"{i}/{n}", "part_size": cfg.part_size,
        "videos": sum(p["videos"] for p in parts),
        "snitch_contained_at_end": sum(p.pop("contained_at_end") for p in parts),
        "action_counts": {k: counts[k] for k in ACTION_LABELS}, "parts": parts,
    }
    atomic_write_text(stage / manifest_name(cfg.split_dir, cfg.shard),
                      json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest
