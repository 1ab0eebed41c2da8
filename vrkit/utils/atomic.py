"""Atomic file and directory writes: write to a temp path in the same directory, then rename into place.

A killed process never leaves a half-written output under the final name. Temp names carry the writer's pid
(``.<name>.<pid>.<random>.tmp``), so :func:`clean_stale_temps` can remove those of dead processes (``kill -9``)
on the next run without touching a live writer's.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

from vrkit.errors import InputError

_UMASK = os.umask(0)
os.umask(_UMASK)
_TEMP_RE = re.compile(r"^\..+\.(\d+)\.[A-Za-z0-9_]+\.tmp$")


def _temp_prefix(path: Path) -> str:
    return f".{path.name}.{os.getpid()}."


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_temps(directory: str | Path) -> list[Path]:
    """Remove the temp files and directories of writers that died in ``directory``; return what was removed."""
    directory = Path(directory)
    removed: list[Path] = []
    if not directory.is_dir():
        return removed
    for entry in directory.iterdir():
        m = _TEMP_RE.match(entry.name)
        if m is None or _alive(int(m.group(1))):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()
        removed.append(entry)
    return removed


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; give the final file the usual permissions
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "wb") -> Iterator[IO]:
    """Open a temp file for writing; it replaces ``path`` when the block exits cleanly."""
    with atomic_path(path) as tmp, open(tmp, mode) as fh:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_open(path, "wb") as fh:
        fh.write(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def is_empty_dir(path: Path) -> bool:
    return path.is_dir() and next(path.iterdir(), None) is None


def check_fresh_dir(path: str | Path, overwrite: bool) -> None:
    """Refuse (InputError) an output directory that is a file, or non-empty without ``overwrite``."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError("exists and is not a directory", path)
    if path.is_dir() and not overwrite and not is_empty_dir(path):
        raise InputError("output directory is not empty (pass --overwrite to replace it as a whole)", path)


def _check_target(path: Path, is_dir: bool, overwrite: bool) -> None:
    if is_dir:
        check_fresh_dir(path, overwrite)
    elif path.is_dir():
        raise InputError("is a directory, expected a file", path)
    elif path.exists() and not overwrite:
        raise InputError("already exists (pass --overwrite to replace it)", path)


@contextlib.contextmanager
def staged_outputs(root: str | Path, names: Sequence[str], overwrite: bool = False, lock: bool = True,
                   remove: Sequence[str] = ()) -> Iterator[Path]:
    """Yield a fresh temporary directory inside ``root``; the block writes each of ``names`` (paths relative to
    ``root``; a directory's name ends in ``/``) under it. On success, the paths of ``remove`` that exist are
    deleted, then each name is moved into place in the given order (list a manifest last: every file it lists
    is then complete), a directory replacing an existing one as a whole.

    Before any work an existing output (a non-empty directory, a file, or one of ``remove``) is refused unless
    ``overwrite``. With ``lock`` an exclusive lock on ``root`` is held throughout, so two runs never mix; without
    it (shards of one run writing disjoint files), an output that appears meanwhile is refused at the move. On
    failure the temp directory goes and nothing under ``root`` has changed."""
    root = Path(root)
    with dir_lock(root) if lock else contextlib.nullcontext():
        root.mkdir(parents=True, exist_ok=True)
        clean_stale_temps(root)
        for name in names:
            _check_target(root / name.rstrip("/"), name.endswith("/"), overwrite)
        for name in remove:
            if (root / name).exists() and not overwrite:
                raise InputError("already exists (pass --overwrite to replace it)", root / name)
        tmp = Path(tempfile.mkdtemp(prefix=f".stage.{os.getpid()}.", suffix=".tmp", dir=root))
        try:
            os.chmod(tmp, 0o777 & ~_UMASK)
            yield tmp
            for name in remove:
                with contextlib.suppress(FileNotFoundError):
                    (root / name).unlink()
            for name in names:
                rel = name.rstrip("/")
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                if name.endswith("/"):
                    _swap_in(tmp / rel, root / rel, overwrite)
                elif (root / rel).exists() and not overwrite:
                    raise InputError("written by another process meanwhile (pass --overwrite)", root / rel)
                else:
                    os.replace(tmp / rel, root / rel)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def atomic_dir(path: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a fresh temporary directory next to ``path``; on success it replaces ``path`` as a whole
    (:func:`staged_outputs` of the one directory, without a lock)."""
    path = Path(path)
    with staged_outputs(path.parent, [path.name + "/"], overwrite, lock=False) as stage:
        (stage / path.name).mkdir()
        yield stage / path.name


def _swap_in(tmp: Path, path: Path, overwrite: bool) -> None:
    if is_empty_dir(path):
        with contextlib.suppress(OSError):
            path.rmdir()
    if path.exists() or path.is_symlink():
        if not overwrite:
            raise InputError("written by another process meanwhile; nothing written (pass --overwrite)", path)
        old = Path(tempfile.mkdtemp(prefix=_temp_prefix(path), suffix=".tmp", dir=path.parent))
        os.rename(path, old / path.name)
        os.rename(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
        return
    try:
        os.rename(tmp, path)
    except OSError:  # another process created a non-empty `path` between the check and the rename
        raise InputError("written by another process meanwhile; nothing written", path) from None


@contextlib.contextmanager
def dir_lock(path: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on directory ``path`` (created if needed); InputError if another process holds it."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError("exists and is not a directory", path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDONLY)
    except OSError as err:
        raise InputError(f"cannot create or open the output directory ({err.strerror})", path) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError("another vrkit process is writing into this directory", path) from None
        yield
    finally:
        os.close(fd)
