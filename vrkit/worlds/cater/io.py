"""CATER-style videos on disk: part files of up to ``PART`` videos (docs/world-cater.md, 'On disk').

    part-NNNNN.jsonl   one video record (the JSON of ``Video.meta``) per line, in video order
    part-NNNNN.npz     ``frames`` uint8 (n, T, H, W, 3), ``index`` int64 (n,) video numbers,
                       ``snitch_cell`` int64 (n,), ``actions`` uint8 (n, len(ACTION_LABELS)),
                       ``contained`` bool (n,): the labels again, for loaders that skip the JSON

The .npz is an ordinary numpy archive (``np.load``) written with fixed zip timestamps, so that a part has the
same bytes on any day. Every reader here raises :class:`vrkit.errors.InputError` naming the file (and line)
for a truncated or corrupt part, a record that is not the documented JSON, or an unknown action or shape.
"""

from __future__ import annotations

import io
import json
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from vrkit.errors import InputError
from vrkit.utils.atomic import atomic_open
from vrkit.worlds.cater.constants import ACTION_LABELS, ACTIONS, ALL_SHAPES, COLORS_ALL, MATERIALS
from vrkit.worlds.cater.video import FORMAT, Video

PART = 100  # videos per part file (fixes the file layout only, never a video)
ARRAYS = ("frames", "index", "snitch_cell", "actions", "contained")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_SHAPES = {"frames": (5, "u"), "index": (1, "iu"), "snitch_cell": (1, "iu"), "actions": (2, "iub"),
           "contained": (1, "b")}  # dimensions and numpy dtype kinds of each array


def part_stem(k: int) -> str:
    return f"part-{k:05d}"


def write_part(stem: Path, videos: list[Video], indices: list[int]) -> None:
    """Write ``<stem>.jsonl`` and ``<stem>.npz`` (each atomically)."""
    arrays = {
        "frames": np.stack([v.frames for v in videos]),
        "index": np.asarray(indices, dtype=np.int64),
        "snitch_cell": np.asarray([v.snitch_cell for v in videos], dtype=np.int64),
        "actions": np.stack([v.actions for v in videos]).astype(np.uint8),
        "contained": np.asarray([v.snitch_contained_at_end for v in videos], dtype=bool),
    }
    with atomic_open(stem.with_suffix(".jsonl"), "wb") as fh:
        for v in videos:
            fh.write(json.dumps(v.meta).encode("ascii") + b"\n")
    with atomic_open(stem.with_suffix(".npz"), "wb") as fh, \
            zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name in ARRAYS:
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue(), compress_type=zipfile.ZIP_DEFLATED, compresslevel=1)


def read_arrays(path: str | Path, names: tuple[str, ...] = ARRAYS) -> dict[str, np.ndarray]:
    """The arrays of a part's .npz (InputError if missing, truncated or not one of ours)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [n for n in names if n not in z.files]
            if missing:
                raise InputError(f"not a CATER part: no {', '.join(missing)} array", path)
            out = {n: z[n] for n in names}
    except FileNotFoundError:
        raise InputError("no such file", path) from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        raise InputError(f"truncated or corrupt part archive ({type(err).__name__})", path) from None
    for name, (ndim, kind) in _SHAPES.items():
        a = out.get(name)
        if a is not None and (a.ndim != ndim or a.dtype.kind not in kind):
            raise InputError(f"array {name!r} has shape {a.shape} and type {a.dtype}, expected {ndim} dimensions "
                             f"of kind {kind!r}", path)
    return out


def read_records(path: str | Path) -> list[dict]:
    """The video records of a part's .jsonl, each checked with :func:`check_record`."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError("no such file", path) from None
    except OSError as err:
        raise InputError(f"cannot read ({err.strerror})", path) from None
    if data and not data.endswith(b"\n"):
        raise InputError("truncated: the last line has no end", path, data.count(b"\n") + 1)
    out = []
    for n, line in enumerate(data.splitlines(), 1):
        try:
            rec = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise InputError(f"corrupt video record: {getattr(err, 'msg', err)}", path, n) from None
        try:
            check_record(rec)
        except InputError as err:
            raise err.at(path, n) from None
        out.append(rec)
    return out


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v)


def _frame_list(o: dict, key: str, t: int, ok: Any, what: str) -> None:
    v = o.get(key)
    if not (isinstance(v, list) and len(v) == t and all(ok(x) for x in v)):
        raise InputError(f"object {o.get('id')}: '{key}' must be {t} {what}")


def check_record(rec: Any) -> None:
    """InputError (one line) unless ``rec`` is a video record of the documented form."""
    if not isinstance(rec, dict) or rec.get("format") != FORMAT:
        raise InputError(f"not a CATER video record (needs 'format': {FORMAT!r})")
    t = rec.get("frames")
    if isinstance(t, bool) or not isinstance(t, int) or t < 2:
        raise InputError(f"'frames' must be an integer >= 2, got {t!r}")
    cfg = rec.get("config")
    ok = isinstance(cfg, dict) and isinstance(cfg.get("size"), int) and not isinstance(cfg["size"], bool)
    if not ok or not 8 <= cfg["size"] <= 1024 or cfg.get("quality", 0) not in (0, 1, 2) \
            or not isinstance(cfg.get("antialias", True), bool):
        raise InputError("'config' must hold 'size' (8..1024), 'quality' (0, 1, 2) and 'antialias' (boolean)")
    cams = rec.get("camera", {}).get("positions") if isinstance(rec.get("camera"), dict) else None
    if not (isinstance(cams, list) and len(cams) == t
            and all(isinstance(p, list) and len(p) == 3 and all(map(_is_num, p)) for p in cams)):
        raise InputError(f"'camera' must hold 'positions': {t} [x, y, z] triples")
    objs = rec.get("objects")
    if not isinstance(objs, list) or not objs:
        raise InputError("'objects' must be a non-empty list")
    k = len(objs)
    for i, o in enumerate(objs):
        if not isinstance(o, dict) or o.get("id") != i:
            raise InputError(f"objects[{i}]: must be an object with 'id': {i}")
        for key, values in (("shape", ALL_SHAPES), ("color", COLORS_ALL), ("material", MATERIALS),
                            ("size", ("small", "large"))):
            if o.get(key) not in values:
                raise InputError(f"object {i}: unknown {key} {o.get(key)!r}")
        if not (_is_num(o.get("radius")) and o["radius"] > 0):
            raise InputError(f"object {i}: 'radius' must be a positive number")
        _frame_list(o, "positions", t, lambda p: isinstance(p, list) and len(p) == 3 and all(map(_is_num, p)),
                    "[x, y, z] triples")
        _frame_list(o, "rotations", t, _is_num, "numbers")
        _frame_list(o, "contained_by", t, lambda c, me=i: isinstance(c, int) and not isinstance(c, bool)
                    and -1 <= c < k and c != me, "object ids or -1")
        _frame_list(o, "visible", t, lambda b: isinstance(b, bool), "booleans")
        _frame_list(o, "pixels", t, lambda c: isinstance(c, int) and not isinstance(c, bool) and c >= 0,
                    "pixel counts")
    if objs[0]["shape"] != "snitch":
        raise InputError("object 0 must be the snitch")
    acts = rec.get("actions")
    if not isinstance(acts, list):
        raise InputError("'actions' must be a list")
    for n, a in enumerate(acts):
        if not isinstance(a, dict) or a.get("action") not in ACTIONS:
            raise InputError(f"actions[{n}]: unknown action {a.get('action') if isinstance(a, dict) else a!r}")
        ok = all(isinstance(a.get(x), int) and not isinstance(a.get(x), bool) for x in ("object", "start", "end"))
        if not ok or not (0 <= a["object"] < k and 0 <= a["start"] < a["end"] < t):
            raise InputError(f"actions[{n}]: needs 'object' < {k} and 0 <= 'start' < 'end' < {t}")
        for key in ("from", "to"):
            if key in a and not (isinstance(a[key], list) and len(a[key]) == 2 and all(map(_is_num, a[key]))):
                raise InputError(f"actions[{n}]: '{key}' must be [x, y]")
        tgt = a.get("target", 0)
        if isinstance(tgt, bool) or not isinstance(tgt, int) or not 0 <= tgt < k:
            raise InputError(f"actions[{n}]: 'target' must be an object id")
        if "angle" in a and not _is_num(a["angle"]):
            raise InputError(f"actions[{n}]: 'angle' must be a number")
    labels = rec.get("labels")
    if not isinstance(labels, dict) or not isinstance(labels.get("actions"), list):
        raise InputError("'labels' must hold 'snitch_cell', 'snitch_contained_at_end' and 'actions'")
    unknown = [x for x in labels["actions"] if x not in ACTION_LABELS]
    if unknown:
        raise InputError(f"labels: unknown action label {unknown[0]!r}")
    cell = labels.get("snitch_cell")
    if isinstance(cell, bool) or not isinstance(cell, int) or not isinstance(
            labels.get("snitch_contained_at_end"), bool):
        raise InputError("labels: 'snitch_cell' must be an integer, 'snitch_contained_at_end' a boolean")
    least = labels.get("min_visible_pixels", 1)
    if isinstance(least, bool) or not isinstance(least, int) or least < 1:
        raise InputError("labels: 'min_visible_pixels' must be an integer >= 1")
    if not isinstance(rec.get("containment"), list):
        raise InputError("'containment' must be a list")


def parts_in(path: str | Path) -> list[Path]:
    """The part stems (``…/part-NNNNN``) under a directory (searched recursively) or of one part file."""
    path = Path(path)
    if path.is_file():
        if not path.name.startswith("part-") or path.suffix not in (".jsonl", ".npz"):
            raise InputError("expected a part-NNNNN.jsonl or .npz file, or a directory of them", path)
        return [path.with_suffix("")]
    if not path.is_dir():
        raise InputError("no such file or directory", path)
    stems = {p.with_suffix("") for p in path.rglob("part-*") if p.suffix in (".jsonl", ".npz")}
    if not stems:
        raise InputError("no CATER part files (part-NNNNN.jsonl / .npz) here", path)
    return sorted(stems)


def iter_videos(path: str | Path) -> Iterator[Video]:
    """Every video stored under ``path`` (a directory or a part file), part by part, with its frames."""
    for stem in parts_in(path):
        recs = read_records(stem.with_suffix(".jsonl"))
        arr = read_arrays(stem.with_suffix(".npz"))
        if len(arr["frames"]) != len(recs):
            raise InputError(f"{len(arr['frames'])} videos in the archive, {len(recs)} records in the .jsonl",
                             stem.with_suffix(".npz"))
        for n, rec in enumerate(recs):
            yield Video(arr["frames"][n], rec, int(arr["snitch_cell"][n]), arr["actions"][n].astype(np.float32),
                        bool(arr["contained"][n]))
