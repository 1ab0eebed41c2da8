"""Generated sets cached on disk: the fixed fine-tuning and test sets of ``vrkit transfer pretrain`` and its
shared pool of pretraining videos (docs/ivcl.md, 'What is cached').

A fine-tuning or test set is a dict of tensors with one row per example, a pure function of a *key* (world
options, number of examples, stream seed, image size and frames, the world's record format, vrkit's version and
:data:`SET_FORMAT`). :func:`cached_set` stores it once as ``<directory>/<name>-<digest of key>.pt``, written to a
temp path and renamed into place, and every later call (another stage, a ``--jobs`` child process, a resumed run)
loads it instead of generating it again. Processes that need the same set at the same time take a lock file
beside it, so one generates and the others wait and load.

A cache file that cannot be read (truncated, not a torch file) or that holds another key or the wrong number of
rows is regenerated and overwritten, with one line on stderr naming it: the file is derived data, and
regenerating gives the same bytes.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from vrkit.utils.atomic import atomic_path

SET_FORMAT = 1  # bump when a set's layout or collation changes: invalidates every cache file


def set_key(**parts: Any) -> dict[str, Any]:
    """A cache key: ``parts`` (JSON values; ``n`` the number of rows) with :data:`SET_FORMAT` and vrkit's
    version, normalised through JSON so a key loaded from a file compares equal to a new one."""
    from vrkit import __version__

    if "n" not in parts:
        raise ValueError("a set key needs n, the number of examples")
    return json.loads(json.dumps({**parts, "set_format": SET_FORMAT, "vrkit": __version__}, sort_keys=True))


def set_path(directory: str | Path, name: str, key: dict[str, Any]) -> Path:
    """Where the set ``name`` of ``key`` is cached in ``directory``."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return Path(directory) / f"{name}-{digest}.pt"


def _load(path: Path, key: dict[str, Any]) -> dict[str, Tensor] | None:
    """The cached set at ``path`` if it is complete and was made for ``key``; None if absent; None with one line
    on stderr if unusable (it is then regenerated)."""
    if not path.is_file():
        return None
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        data = blob["data"]
        if blob["key"] != key:
            raise ValueError("made for another key")
        if not data or any(not isinstance(v, Tensor) or len(v) != key["n"] for v in data.values()):
            raise ValueError(f"not {key['n']} rows")
    except Exception as err:  # noqa: BLE001 - any unreadable cache file is regenerated, named by its path
        print(f"{path}: unusable cached set ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}); "
              "regenerating it", file=sys.stderr)
        return None
    return data


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive (blocking) lock on the lock file of ``path``."""
    with open(path.with_name(f".{path.name}.lock"), "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def cached_set(directory: str | Path | None, name: str, key: dict[str, Any],
               make: Callable[[], dict[str, Tensor]]) -> dict[str, Tensor]:
    """The set of ``key`` (:func:`set_key`): loaded from ``directory`` if cached there, else ``make()`` written
    there atomically. ``directory`` None: ``make()``, nothing cached."""
    if directory is None:
        return make()
    path = set_path(directory, name, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path):  # a process generating this set finishes before another one reads it
        data = _load(path, key)
        if data is None:
            data = make()
            with atomic_path(path) as tmp:
                torch.save({"key": key, "data": data}, tmp)
    return data
