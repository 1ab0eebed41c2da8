"""`vrkit cater check PATH...`: re-derive every label of stored CATER-style videos from their per-frame state.

PATH is an output root, a split folder (``cater_<split>``) or one part file. Each part's records and arrays
are read (a corrupt record, an unknown action or shape, a truncated part, or a part that differs from the
manifest beside its folder is bad input: one line naming the file, exit 2); each video is checked by
:func:`vrkit.worlds.cater.checker.check_video`, its stored arrays against its record, and with ``--render``
its frames against a re-rendering of the record. Prints one line per disagreement (at most
``--max-report``), ``FILE:LINE: video I: <problem>``, then ``checked N videos, M disagree``. Exit 0 only if
M == 0, 1 otherwise.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from vrkit.cli._args import add_command, add_group, non_negative_int
from vrkit.cli._check_report import CheckReport
from vrkit.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    _, csub = add_group(sub, "cater", "CATER-style video tools: check stored videos", "cater_command")
    p = add_command(csub, "check", _check, help="re-derive every label from the per-frame state",
                    description=__doc__.split("\n\n", 1)[1])
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    p.add_argument("--render", action="store_true", help="also re-render each video and compare the frames")
    p.add_argument("--max-report", type=non_negative_int, default=50, help="print at most this many problems")


def _manifest_parts(root: Path) -> dict[Path, str]:
    """sha256 of each part file listed by the manifests beside split folders under ``root`` (InputError for a
    listed file that is missing)."""
    from vrkit.utils.files import read_json
    from vrkit.worlds.manifest import PREFIX, split_of

    out: dict[Path, str] = {}
    # an output root holds the manifests; a split folder or a part file has them one or two levels up
    bases = [root, root.parent] if root.is_dir() else [root.parent.parent]
    for base, m in sorted({(b, q) for b in bases for q in b.glob(f"{PREFIX}cater_*.json")}):
        if split_of(m.name) is None:
            continue
        data = read_json(m, "manifest")
        parts = data.get("parts") if isinstance(data, dict) and data.get("world") == "cater" else None
        if not isinstance(parts, list):
            raise InputError("not a CATER manifest (needs 'world': 'cater' and a 'parts' list)", m)
        for p in parts:
            for key in ("jsonl", "npz"):
                f = p.get(key) if isinstance(p, dict) else None
                if not isinstance(f, dict) or not isinstance(f.get("path"), str):
                    raise InputError(f"manifest part entry without '{key}' path", m)
                path = base / f["path"]
                if not path.is_file():
                    raise InputError(f"listed by {m.name} but missing (an incomplete copy?)", path)
                out[path.resolve()] = str(f.get("sha256"))
    return out


def _check(args: argparse.Namespace) -> int:
    from vrkit.utils.atomic import sha256_file
    from vrkit.worlds.cater.checker import check_video
    from vrkit.worlds.cater.constants import ACTION_LABELS
    from vrkit.worlds.cater.io import parts_in, read_arrays, read_records
    from vrkit.worlds.cater.video import render_record

    stems = [s for p in args.paths for s in parts_in(p)]
    listed: dict[Path, str] = {}
    for p in args.paths:
        listed.update(_manifest_parts(p))
    # read (and so validate) everything first: bad input stops before any report
    loaded = []
    for stem in stems:
        jl, nz = stem.with_suffix(".jsonl"), stem.with_suffix(".npz")
        for f in (jl, nz):
            if f.resolve() in listed and sha256_file(f) != listed[f.resolve()]:
                raise InputError("differs from the sha256 its manifest lists (truncated or changed)", f)
        recs, arr = read_records(jl), read_arrays(nz)
        n = len(recs)
        if any(len(arr[k]) != n for k in arr):
            raise InputError(f"holds {len(arr['frames'])} videos but {jl.name} has {n} records", nz)
        loaded.append((jl, recs, arr))
    report = CheckReport(args.max_report)
    for jl, recs, arr in loaded:
        for line, rec in enumerate(recs, 1):
            probs = check_video(rec)
            lab = rec["labels"]
            hot = [name in lab["actions"] for name in ACTION_LABELS]
            if (int(arr["snitch_cell"][line - 1]) != lab["snitch_cell"]
                    or bool(arr["contained"][line - 1]) != lab["snitch_contained_at_end"]
                    or arr["actions"][line - 1].astype(bool).tolist() != hot):
                probs.append("the labels in the .npz differ from the record's")
            t, size = rec["frames"], rec["config"].get("size") if isinstance(rec.get("config"), dict) else None
            if arr["frames"].shape[1:] != (t, size, size, 3):
                probs.append(f"frames of shape {arr['frames'].shape[1:]}, the record says {(t, size, size, 3)}")
            elif args.render:
                frames, ids = render_record(rec)
                if not np.array_equal(frames, arr["frames"][line - 1]):
                    probs.append("stored frames differ from a re-rendering of the record")
                k = len(rec["objects"])
                pix = np.stack([np.bincount(ids[i][ids[i] >= 0], minlength=k)[:k] for i in range(t)], axis=1)
                if pix.tolist() != [o["pixels"] for o in rec["objects"]]:
                    probs.append("stored pixel counts differ from a re-rendering of the record")
            report.add(f"{jl}:{line}: video {int(arr['index'][line - 1])}", probs)
    return report.finish("videos")
