"""Official COG file format, both ways (the released COG data of google/cog).

An example is the plain dict of the official files::

    {"answers": [str | [x, y], ...], "epochs": int, "family": str,
     "objects": [{"color", "epochs", "is_distractor", "location", "shape"}], "question": str}

Files are gzipped JSON lines, keys sorted, separators ``,`` and ``: ``, the last line without
a trailing newline. Readers accept ``.json.gz``, plain ``.json``/``.jsonl`` and directories in
the official layout (``train_<E>_<M>_<D>/cog_<k>.json.gz``, ``val_…/cog_<Family>.json.gz``).
"""

from __future__ import annotations

import gzip
import io
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from vrkit.errors import InputError
from vrkit.utils.atomic import atomic_open
from vrkit.utils.files import read_json, read_maybe_gzip
from vrkit.worlds.cog.constants import COLOR_INDEX, FAMILY_INDEX, SHAPE_INDEX
from vrkit.worlds.manifest import LEGACY_RE, beside, legacy_inside

Example = dict[str, Any]

_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ": "), ensure_ascii=True)
COG_FILE_RE = re.compile(r"^cog_[A-Za-z0-9]+\.json(l)?(\.gz)?$")
SPLIT_DIR_RE = re.compile(r"^(train|val|test)_(\d+)_(\d+)_(\d+)$")


def dumps(example: Example) -> str:
    """One example as one official JSON line (no newline)."""
    return _ENCODER.encode(example)


def encode_lines(examples: Iterable[Example]) -> bytes:
    """The official file body: lines joined by ``\\n``, no trailing newline."""
    return "\n".join(map(dumps, examples)).encode("ascii")


def write_examples(path: str | Path, examples: Iterable[Example], level: int = 9) -> None:
    """Write ``examples`` to ``path`` atomically (gzip if it ends with ``.gz``; gzip mtime 0 so bytes are
    reproducible)."""
    body = encode_lines(examples)
    path = Path(path)
    with atomic_open(path, "wb") as fh:
        if path.name.endswith(".gz"):
            with gzip.GzipFile(filename="", mode="wb", fileobj=fh, compresslevel=level, mtime=0) as gz:
                gz.write(body)
        else:
            fh.write(body)


def _check_example(ex: Any) -> str | None:
    """Return a description of what is wrong with ``ex``, or None if it is a valid example."""
    if not isinstance(ex, dict):
        return f"expected a JSON object, got {type(ex).__name__}"
    for key, typ in (("answers", list), ("epochs", int), ("family", str), ("objects", list), ("question", str)):
        if key not in ex:
            return f"missing key {key!r}"
        if not isinstance(ex[key], typ) or isinstance(ex[key], bool):
            return f"{key!r} must be {typ.__name__}, got {type(ex[key]).__name__}"
    E = ex["epochs"]
    if E < 1:
        return f"'epochs' must be >= 1, got {E}"
    if ex["family"] not in FAMILY_INDEX:
        return f"unknown family {ex['family']!r}"
    if len(ex["answers"]) != E:
        return f"'answers' has {len(ex['answers'])} entries but 'epochs' is {E}"
    for a in ex["answers"]:
        if isinstance(a, list):
            if len(a) != 2 or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in a):
                return f"bad point answer {a!r}"
        elif not isinstance(a, str):
            return f"answer must be a string or [x, y], got {a!r}"
    for j, obj in enumerate(ex["objects"]):
        if not isinstance(obj, dict):
            return f"objects[{j}] must be an object"
        for key in ("color", "epochs", "is_distractor", "location", "shape"):
            if key not in obj:
                return f"objects[{j}] missing key {key!r}"
        if obj["color"] not in COLOR_INDEX:
            return f"objects[{j}]: unknown colour {obj['color']!r}"
        if obj["shape"] not in SHAPE_INDEX:
            return f"objects[{j}]: unknown shape {obj['shape']!r}"
        if not isinstance(obj["is_distractor"], bool):
            return f"objects[{j}]: 'is_distractor' must be a boolean"
        loc = obj["location"]
        if (not isinstance(loc, list) or len(loc) != 2
                or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in loc)):
            return f"objects[{j}]: 'location' must be [x, y], got {loc!r}"
        ep = obj["epochs"]
        if isinstance(ep, bool) or not isinstance(ep, int | list):
            return f"objects[{j}]: 'epochs' must be an int or a list of ints"
        frames = [ep] if isinstance(ep, int) else ep
        if not all(isinstance(t, int) and not isinstance(t, bool) and 0 <= t < E for t in frames):
            return f"objects[{j}]: 'epochs' {ep!r} outside 0..{E - 1}"
    return None


def parse_line(line: str | bytes, path: str | Path = "<string>", lineno: int = 1) -> Example:
    """Parse and validate one JSON line; raise :class:`InputError` naming ``path:lineno``."""
    try:
        ex = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"malformed JSON ({err.msg if hasattr(err, 'msg') else err})", path, lineno) from None
    problem = _check_example(ex)
    if problem:
        raise InputError(problem, path, lineno)
    return ex


def _open_lines(path: Path) -> Iterator[bytes]:
    yield from io.BytesIO(read_maybe_gzip(path))


def iter_file_numbered(path: str | Path) -> Iterator[tuple[int, Example]]:
    """Yield ``(line number, validated example)`` for one file (blank lines are skipped); a file without any
    example is an InputError."""
    path = Path(path)
    empty = True
    for lineno, raw in enumerate(_open_lines(path), start=1):
        if raw.strip():
            empty = False
            yield lineno, parse_line(raw, path, lineno)
    if empty:
        raise InputError("no examples (empty file)", path)


def iter_file(path: str | Path) -> Iterator[Example]:
    """Yield the validated examples of one file (blank lines are skipped)."""
    for _, ex in iter_file_numbered(path):
        yield ex


def read_file(path: str | Path) -> list[Example]:
    return list(iter_file(path))


def _file_sort_key(p: Path) -> tuple:
    m = re.search(r"cog_(\d+)\.json", p.name)
    return (str(p.parent), 0, int(m.group(1)), "") if m else (str(p.parent), 1, 0, p.name)


def manifest_listing(directory: Path) -> dict[str, Path] | None:
    """The data files the COG manifests of split folder ``directory`` list (``<parent>/manifest.<name>*.json``,
    or an older vrkit's ``manifest*.json`` inside it), by name -> manifest; None without a manifest (data of
    the original generator)."""
    manifests = beside(directory) + legacy_inside(directory)
    if not manifests:
        return None
    listed: dict[str, Path] = {}
    for m in manifests:
        data = read_json(m, "manifest")
        files = data.get("files") if isinstance(data, dict) else None
        if not isinstance(files, list) or not all(isinstance(f, dict) and isinstance(f.get("path"), str)
                                                  for f in files):
            raise InputError("not a COG manifest (needs a 'files' list of {'path': ...})", m)
        for f in files:
            listed[Path(f["path"]).name] = m
    return listed


def foreign_entries(directory: Path) -> list[Path]:
    """Entries of a COG split folder that are not COG data files (nor an older vrkit's manifest). The original
    loaders read every entry (module :mod:`vrkit.worlds.manifest`), so these break them."""
    return sorted(q for q in directory.iterdir()
                  if not (q.is_file() and (COG_FILE_RE.match(q.name) or LEGACY_RE.match(q.name))))


def _listed_files(directory: Path, found: list[Path]) -> list[Path]:
    """``found`` (COG files of ``directory``) checked against its manifest: every listed file present, no
    unlisted data file (stale files of an earlier run, another run's files) and nothing else in the folder."""
    foreign = foreign_entries(directory)
    if foreign:
        raise InputError("not a COG data file (a split folder holds only cog_*.json.gz; the original loaders "
                         "read every entry, and vrkit reads none it does not know)", foreign[0])
    listed = manifest_listing(directory)
    if listed is None:
        return found
    names = {q.name for q in found}
    for q in found:
        if q.name not in listed:
            raise InputError("data file not listed in the split's manifest (stale or foreign; "
                             "`vrkit verify` checks a directory)", q)
    for name, m in sorted(listed.items()):
        if name not in names:
            raise InputError(f"file listed in {m.name} is missing", directory / name)
    return found


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files named directly, plus the COG files under directories (official layout or flat; hidden entries
    of a directory given, such as a writer's temp directory, are skipped, but a folder holding COG files must
    hold nothing else). A split folder with a manifest contributes exactly the files its manifest lists."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = [q for q in p.rglob("cog_*") if q.is_file() and COG_FILE_RE.match(q.name)
                     and not any(part.startswith(".") for part in q.relative_to(p).parts)]
            if not found:
                raise InputError("directory holds no COG files (cog_*.json.gz, cog_*.json, cog_*.jsonl)", p)
            by_dir: dict[Path, list[Path]] = {}
            for q in found:
                by_dir.setdefault(q.parent, []).append(q)
            kept = [q for d in sorted(by_dir) for q in _listed_files(d, by_dir[d])]
            out.extend(sorted(kept, key=_file_sort_key))
        elif p.exists():
            out.append(p)
        else:
            raise InputError("no such file or directory", p)
    return out


def iter_examples(paths: Iterable[str | Path]) -> Iterator[tuple[Path, Example]]:
    """Yield ``(file, example)`` over files and directories."""
    for f in expand_paths(paths):
        for ex in iter_file(f):
            yield f, ex
