"""Where a generated dataset's manifest lives: beside each split folder, never inside it.

The original loaders read every entry of a split folder. IBM mi-prometheus (``cog.py``) gzip-opens every entry
of ``train_<E>_<M>_<D>/``; google/cog (``cognitive/train.py``, ``get_ds_from_files``) globs
``<data>/train_*``, asserts it finds exactly one entry, and reads every file in it as gzip JSON lines. So a split
folder holds only what the original generators wrote there, and the manifest of split ``S`` is

    <out>/manifest.S.json                   one whole split (COG ``S`` = ``train_4_3_1``; CLEVR ``S`` = ``valA``)
    <out>/manifest.S.shard-I-of-N.json      shard I of N (COG ``--shard I/N``)

a name that matches none of ``train_*``, ``val_*``, ``test_*``. Each manifest lists paths relative to ``<out>``.

Older vrkit versions wrote ``manifest.json`` (``manifest.shard-*``) inside each COG split folder and one
``<out>/manifest.json`` for all CLEVR splits. Those directories still read, with a one-line notice on stderr.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

PREFIX = "manifest."
MANIFEST_RE = re.compile(r"^manifest\.(?P<split>[A-Za-z0-9_]+)(\.shard-(?P<i>\d+)-of-(?P<n>\d+))?\.json$")
LEGACY_RE = re.compile(r"^manifest(\.shard-\d+-of-\d+)?\.json$")  # the old names (inside a COG split folder)

_noticed: set[str] = set()


def manifest_name(split: str, shard: tuple[int, int] = (0, 1)) -> str:
    """File name (in ``<out>``) of the manifest of ``split`` (shard ``I/N`` when N > 1)."""
    i, n = shard
    return f"{PREFIX}{split}.json" if n == 1 else f"{PREFIX}{split}.shard-{i}-of-{n}.json"


def split_of(name: str) -> str | None:
    """The split a manifest file name belongs to (None if ``name`` is not a current-layout manifest)."""
    m = MANIFEST_RE.match(name)
    return m.group("split") if m else None


def beside(split_dir: Path) -> list[Path]:
    """The current-layout manifests of ``split_dir`` (whole split first, then shards), in its parent."""
    parent, name = split_dir.parent, split_dir.name
    whole = parent / manifest_name(name)
    shards = sorted(p for p in parent.glob(f"{PREFIX}{name}.shard-*-of-*.json") if split_of(p.name) == name)
    return ([whole] if whole.is_file() else []) + shards


def legacy_inside(split_dir: Path) -> list[Path]:
    """Manifests an older vrkit wrote inside ``split_dir`` (each announced once per process on stderr)."""
    found = sorted(p for p in split_dir.glob("manifest*.json") if LEGACY_RE.match(p.name)) \
        if split_dir.is_dir() else []
    for p in found:
        notice_legacy(p)
    return found


def notice_legacy(path: Path) -> None:
    """One line on stderr (once per file and process) saying ``path`` is an old-layout manifest."""
    key = str(path)
    if key in _noticed:
        return
    _noticed.add(key)
    print(f"vrkit: notice: {path}: manifest in the layout of an older vrkit (still read); a new `vrkit generate` "
          f"writes it beside the split folder as {PREFIX}<split>.json", file=sys.stderr)
