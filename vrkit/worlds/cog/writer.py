"""Writing COG datasets in the official layout, in parallel, with the same bytes for any worker count.

Work is cut into fixed chunks of at most ``CHUNK`` examples. A chunk's examples depend only on
(seed, variant, split, file, chunk index), so any number of worker processes — and any number of
machines via ``shard=(i, n)``, which takes every n-th file — produce the same files.

Layout under ``out`` (the released COG data, google/cog ``generate_dataset.py``), suffix
``<frames>_<memory>_<distractors>``:
    train_<suffix>/cog_<k>.json.gz      families mixed, in a seeded permuted order
    val_<suffix>/cog_<Family>.json.gz   one file per family (likewise test_)
    manifest.<split>_<suffix>.json      beside the split folder (a shard: ``….shard-<i>-of-<n>.json``;
                                        :mod:`vrkit.worlds.manifest`), so the folder holds only ``cog_*``

A split is written whole: a run fills a fresh temporary directory in ``out`` and renames the split folder into
place, its manifest last, under a lock on ``out`` (a shard moves its own files in, its manifest last). An
existing split (for a shard: its own files) is refused before any work unless ``overwrite``, which replaces it as
a whole. Readers then read exactly the files a manifest lists (:func:`vrkit.worlds.cog.io.expand_paths`).
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from vrkit import __version__
from vrkit.utils.atomic import atomic_open, atomic_write_text, sha256_file, staged_outputs
from vrkit.worlds.cog.constants import FAMILIES, FIXED_SCENE_FAMILIES, Variant
from vrkit.worlds.cog.generator import generate_example, make_rng
from vrkit.worlds.cog.io import dumps
from vrkit.worlds.manifest import beside, manifest_name

CHUNK = 250  # examples per unit of work: small enough to balance workers, large enough to amortise IPC


@dataclass
class GenerateConfig:
    variant: Variant
    variant_name: str = "custom"
    families: Sequence[str] = FAMILIES
    n_per_family: int = 100
    split: str = "train"
    seed: int = 0
    out: str = "data/cog"
    train_files: int | None = None  # default: one file per 100k examples (at least 1)
    workers: int = 1
    shard: tuple[int, int] = (0, 1)

    def __post_init__(self) -> None:
        self.families = list(self.families)
        unknown = [f for f in self.families if f not in FAMILIES]
        if unknown:
            raise ValueError(f"unknown COG family {unknown[0]!r}")
        if not self.families:
            raise ValueError("no families selected")
        if self.split not in ("train", "val", "test"):
            raise ValueError(f"split must be train, val or test, not {self.split!r}")
        if self.n_per_family < 1:
            raise ValueError("n_per_family must be >= 1")
        v = self.variant
        if v.frames < 1 or v.memory < 1 or v.distractors < 0:
            raise ValueError(f"bad variant {v.suffix}: needs frames >= 1, memory >= 1, distractors >= 0")
        short = [f for f in self.families if f in FIXED_SCENE_FAMILIES]
        if short and v.frames < 4:
            raise ValueError(f"family {short[0]} needs at least 4 frames (got {v.frames})")
        i, n = self.shard
        if not (n >= 1 and 0 <= i < n):
            raise ValueError(f"bad shard {i}/{n}: expected I/N with 0 <= I < N")
        if self.workers < 1:
            raise ValueError("workers must be >= 1")
        if self.train_files is not None and self.train_files < 1:
            raise ValueError("train_files must be >= 1")

    @property
    def split_dir(self) -> str:
        return f"{self.split}_{self.variant.suffix}"


@dataclass
class FileJob:
    """One output file: its name and the family of each example, in file order."""

    name: str
    index: int
    families: list[str] = field(repr=False)


def plan_files(cfg: GenerateConfig) -> list[FileJob]:
    """Every file of the run (all shards), in a fixed order."""
    n = cfg.n_per_family
    if cfg.split != "train":
        return [FileJob(f"cog_{fam}.json.gz", k, [fam] * n) for k, fam in enumerate(cfg.families)]
    total = n * len(cfg.families)
    n_files = cfg.train_files or max(1, math.ceil(total / 100_000))
    n_files = min(n_files, n)
    jobs = []
    for k in range(n_files):
        per_family = n // n_files + (1 if k < n % n_files else 0)
        order = [fam for fam in cfg.families for _ in range(per_family)]
        make_rng(cfg.seed, cfg.variant.suffix, cfg.split, "order", k).shuffle(order)
        jobs.append(FileJob(f"cog_{k}.json.gz", k, order))
    return jobs


def _chunk_task(args: tuple) -> bytes:
    """Generate one chunk and return its JSON lines (no trailing newline)."""
    seed, variant, split, file_index, chunk_index, families = args
    rng = make_rng(seed, variant.suffix, split, file_index, chunk_index)
    return "\n".join(dumps(generate_example(f, variant, rng)) for f in families).encode("ascii")


def _tasks(cfg: GenerateConfig, jobs: list[FileJob]) -> Iterator[tuple]:
    for job in jobs:
        for c in range(0, len(job.families), CHUNK):
            yield (cfg.seed, cfg.variant, cfg.split, job.index, c // CHUNK, job.families[c:c + CHUNK])


def generate_dataset(cfg: GenerateConfig, progress: Callable[[int], None] | None = None,
                     overwrite: bool = False) -> dict:
    """Write this shard's files and its manifest (module docstring: whole or not at all); return the manifest.

    ``progress(k)`` is called with the number of examples just finished."""
    root, (i, n) = Path(cfg.out), cfg.shard
    whole = manifest_name(cfg.split_dir)
    if n == 1:  # the split folder as a whole; shard manifests of an earlier sharded run go with it
        stale = [p.name for p in beside(root / cfg.split_dir) if p.name != whole]
        with staged_outputs(root, [cfg.split_dir + "/", whole], overwrite, remove=stale) as stage:
            return _write_split(cfg, stage, progress)
    names = [f"{cfg.split_dir}/{j.name}" for j in plan_files(cfg) if j.index % n == i]
    with staged_outputs(root, [*names, manifest_name(cfg.split_dir, cfg.shard)], overwrite, lock=False,
                        remove=[whole]) as stage:
        return _write_split(cfg, stage, progress)


def _write_split(cfg: GenerateConfig, stage: Path, progress: Callable[[int], None] | None) -> dict:
    """Generate this shard's files (``stage/<split_dir>/``) and manifest (``stage/``) into a fresh directory."""
    i, n = cfg.shard
    jobs = [j for j in plan_files(cfg) if j.index % n == i]
    tasks = list(_tasks(cfg, jobs))
    chunks_left = {j.index: math.ceil(len(j.families) / CHUNK) for j in jobs}
    pool = None
    if cfg.workers > 1 and len(tasks) > 1:
        pool = mp.get_context("fork").Pool(cfg.workers)
        results = pool.imap(_chunk_task, tasks, chunksize=1)
    else:
        results = map(_chunk_task, tasks)
    files = []
    out_dir = stage / cfg.split_dir
    out_dir.mkdir()
    try:
        task_iter = iter(tasks)
        for job in jobs:
            path = out_dir / job.name
            with atomic_open(path, "wb") as fh:
                comp = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip container; header mtime 0
                first = True
                for _ in range(chunks_left[job.index]):
                    task = next(task_iter)
                    body = next(results)
                    fh.write(comp.compress(body if first else b"\n" + body))
                    first = False
                    if progress:
                        progress(len(task[5]))
                fh.write(comp.flush())
            files.append({"path": f"{cfg.split_dir}/{job.name}", "examples": len(job.families),
                          "families": dict(sorted(Counter(job.families).items())), "sha256": sha256_file(path)})
    finally:
        if pool is not None:
            pool.terminate()
    manifest = {
        "world": "cog", "vrkit_version": __version__, "variant": cfg.variant_name, **_variant_fields(cfg.variant),
        "split": cfg.split, "seed": cfg.seed, "n_per_family": cfg.n_per_family, "families": list(cfg.families),
        "shard": f"{i}/{n}", "examples": sum(f["examples"] for f in files), "files": files,
    }
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    atomic_write_text(stage / manifest_name(cfg.split_dir, cfg.shard), text)
    return manifest


def _variant_fields(v: Variant) -> dict:
    """The manifest's record of a variant: frames, memory, distractors and, for a compositional split, its
    name and rule (combos.py)."""
    fields = asdict(v)
    if fields.pop("combos") is not None:
        from vrkit.worlds.cog.combos import RULE

        fields.update(combos=v.combos, combos_rule=RULE)
    return fields
