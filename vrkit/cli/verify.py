"""`vrkit verify DIR`: a generated dataset checked against its own proof.

Manifests sit beside the split folders (``DIR/manifest.<split>.json``; a shard ``….shard-I-of-N.json``); an older
vrkit's manifests inside COG split folders, or its single CLEVR ``manifest.json``, are read with a notice. COG:
each listed file exists, has its sha256, its example count and its per-family counts; a split folder holds no
unlisted data file and nothing but ``cog_*`` files; every answer agrees with the independent checker. CLEVR: each
split's scenes and questions files' sha256, the number and combined sha256 of its PNGs, nothing unlisted in
``images/`` and nothing but PNGs in a split's images folder, and every answer re-executed on its scene. CATER-style
videos: each listed part's files, their sha256 and video counts, nothing unlisted in a split folder, and every
video's labels re-derived by the independent checker. One line
per problem (``PATH: problem``), then ``verified N files, M problems``; exit 0 only if M = 0, else 2.
"""

from __future__ import annotations

import argparse
import hashlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from vrkit.errors import InputError
from vrkit.utils.atomic import sha256_file
from vrkit.utils.files import read_json
from vrkit.worlds.clevr.writer import MANIFEST
from vrkit.worlds.cog import io as cog_io
from vrkit.worlds.manifest import PREFIX, beside, legacy_inside, split_of


def _cog_split(directory: Path) -> Iterator[str]:
    """Problems of one COG split folder; an empty string per verified file."""
    from vrkit.cli._cog_check import _dir_lookback, _problems

    listed = cog_io.manifest_listing(directory) or {}
    if directory.is_dir():
        for q in cog_io.foreign_entries(directory):
            yield f"{q}: not a COG data file (a split folder holds only cog_*.json.gz)"
        for q in sorted(q for q in directory.iterdir() if q.is_file() and cog_io.COG_FILE_RE.match(q.name)):
            if q.name not in listed:
                yield f"{q}: data file not listed in any manifest"
    for manifest in sorted(set(listed.values())):
        for entry in read_json(manifest, "manifest")["files"]:
            path = directory / Path(entry["path"]).name
            if not path.is_file():
                yield f"{path}: listed in {manifest.name} but missing"
                continue
            if sha256_file(path) != entry.get("sha256"):
                yield f"{path}: sha256 differs from {manifest.name}"
            families: Counter[str] = Counter()
            disagree = 0
            try:
                for lineno, example in cog_io.iter_file_numbered(path):
                    families[example["family"]] += 1
                    if _problems(example, _dir_lookback(path), None):
                        disagree += 1
                        if disagree == 1:
                            yield f"{path}:{lineno}: answers disagree with the checker (`vrkit cog check`)"
            except InputError as err:
                yield err.format()
                continue
            if sum(families.values()) != entry.get("examples"):
                yield f"{path}: {sum(families.values())} examples, {manifest.name} says {entry.get('examples')}"
            elif dict(sorted(families.items())) != entry.get("families", dict(sorted(families.items()))):
                yield f"{path}: per-family counts differ from {manifest.name}"
            yield ""  # one verified file


def _clevr_unlisted(root: Path, splits: dict) -> Iterator[str]:
    """Entries of ``images/`` that no split's manifest lists, and anything but PNGs in a split's images folder.
    (``scenes/`` and ``questions/`` are shared by all splits, and other tools keep caches there, e.g. the
    ``.pkl`` files of RelationNetworks-CLEVR's ``clevr_dataset_connector.py``.)"""
    image_dirs = {root / e.get("images_dir", f"images/{name}") for name, e in splits.items()}
    if (root / "images").is_dir():
        for q in sorted((root / "images").iterdir()):
            if q not in image_dirs:
                yield f"{q}: not listed in any manifest"
    for d in sorted(image_dirs):
        if d.is_dir():
            for q in sorted(d.iterdir()):
                if not (q.is_file() and q.suffix == ".png"):
                    yield f"{q}: not a PNG of this split (an images folder holds only the split's images)"


def _clevr(root: Path, manifest: dict) -> Iterator[str]:
    from vrkit.cli.clevr import check_answers
    from vrkit.worlds.clevr.io import read_questions, read_scenes

    yield from _clevr_unlisted(root, manifest["splits"])
    for name, entry in manifest["splits"].items():
        where = entry.get("manifest", "the manifest")
        files = entry.get("files", {})
        kinds = ("questions",) if entry.get("hide_answers") else ("scenes", "questions")
        for kind in kinds:
            path = root / files.get(kind, {}).get("path", f"<{kind} of {name}>")
            if not path.is_file():
                yield f"{path}: listed in {where} but missing"
            elif sha256_file(path) != files[kind].get("sha256"):
                yield f"{path}: sha256 differs from {where}"
            yield ""
        images = root / entry.get("images_dir", f"images/{name}")
        pngs = sorted(images.glob("*.png")) if images.is_dir() else []
        combined = hashlib.sha256()
        for png in pngs:
            combined.update(f"{png.name} {sha256_file(png)}\n".encode())
        if len(pngs) != entry.get("images"):
            yield f"{images}: {len(pngs)} images, {where} says {entry.get('images')}"
        elif combined.hexdigest() != entry.get("images_sha256"):
            yield f"{images}: image sha256 differs from {where}"
        yield ""
        if "scenes" not in kinds:
            continue  # released test form: no scenes, no answers to check
        try:
            _, scenes = read_scenes(root / files["scenes"]["path"])
            _, questions = read_questions(root / files["questions"]["path"])
            _, _, disagree = check_answers(scenes, questions, str(root / files["questions"]["path"]))
        except (InputError, KeyError) as err:
            yield err.format() if isinstance(err, InputError) else f"{root}: split {name}: bad manifest entry"
            continue
        if disagree:
            yield f"{root / files['questions']['path']}: {len(disagree)} answers disagree with the executor"


def _cater(root: Path, manifests: list[Path]) -> Iterator[str]:
    """CATER-style splits: each listed part's two files exist with their sha256 and video count, a split folder
    holds nothing unlisted, and every video agrees with the independent checker (`vrkit cater check`)."""
    from vrkit.worlds.cater.checker import check_video
    from vrkit.worlds.cater.io import read_arrays, read_records

    listed: dict[Path, set[Path]] = {}
    for m in manifests:
        parts = read_json(m, "manifest").get("parts")
        folder = root / str(split_of(m.name))
        seen = listed.setdefault(folder, set())
        if not isinstance(parts, list) or not all(isinstance(p, dict) for p in parts):
            yield f"{m}: not a CATER manifest (needs a 'parts' list)"
            continue
        for part in parts:
            try:
                files = {k: (root / part[k]["path"], part[k]["sha256"]) for k in ("jsonl", "npz")}
            except (KeyError, TypeError):
                yield f"{m}: a part entry without 'jsonl' and 'npz' paths and sha256"
                continue
            seen.update(f for f, _ in files.values())
            ok = True
            for path, sha in files.values():
                if not path.is_file():
                    yield f"{path}: listed in {m.name} but missing"
                    ok = False
                elif sha256_file(path) != sha:
                    yield f"{path}: sha256 differs from {m.name}"
                    ok = False
                yield ""
            if not ok:
                continue
            try:
                recs, arr = read_records(files["jsonl"][0]), read_arrays(files["npz"][0])
            except InputError as err:
                yield err.format()
                continue
            if not len(recs) == len(arr["frames"]) == part.get("videos"):
                yield f"{files['npz'][0]}: {len(arr['frames'])} videos, {len(recs)} records, {m.name} says " \
                      f"{part.get('videos')}"
            bad = [n for n, rec in enumerate(recs, 1) if check_video(rec)]
            if bad:
                yield f"{files['jsonl'][0]}:{bad[0]}: {len(bad)} videos disagree with the checker (`vrkit cater check`)"
    for folder, seen in sorted(listed.items()):
        for q in sorted(folder.iterdir()) if folder.is_dir() else []:
            if q not in seen:
                yield f"{q}: not listed in any manifest"


def _world(path: Path) -> str | None:
    data = read_json(path, "manifest")
    return data.get("world") if isinstance(data, dict) else None


def verify(root: Path) -> tuple[int, list[str]]:
    """``(files verified, problems)`` of a generated dataset directory (a COG, CLEVR or CATER --out, or one COG
    split folder)."""
    if not root.is_dir():
        raise InputError("not a directory", root)
    cog_dirs: set[Path] = set()
    cater: list[Path] = []
    clevr = False
    if any(_world(m) == "cog" for m in beside(root) + legacy_inside(root)):
        cog_dirs.add(root)  # a COG split folder itself
    for m in sorted(root.glob(f"{PREFIX}*.json")) + ([root / MANIFEST] if (root / MANIFEST).is_file() else []):
        split, world = split_of(m.name), _world(m)
        if world == "clevr":
            clevr = True
        elif world == "cater" and split is not None:
            cater.append(m)
        elif world == "cog" and split is not None:
            cog_dirs.add(root / split)
    for d in sorted(q for q in root.iterdir() if q.is_dir() and not q.name.startswith(".")):
        if any(_world(m) == "cog" for m in legacy_inside(d)):
            cog_dirs.add(d)
    if not cog_dirs and not clevr and not cater:
        raise InputError(f"no {PREFIX}<split>.json beside a split folder (not a vrkit-generated dataset?)", root)
    lines: list[str] = []
    if clevr:
        from vrkit.worlds.clevr.writer import read_manifest

        lines += _clevr(root, read_manifest(root))
    for d in sorted(cog_dirs):
        lines += _cog_split(d)
    lines += _cater(root, cater)
    problems = [line for line in lines if line]
    return len(lines) - len(problems), problems


def _cmd_verify(args: argparse.Namespace) -> int:
    files, problems = verify(Path(args.dir))
    for line in problems:
        print(line)
    print(f"verified {files} files, {len(problems)} problems")
    return 0 if not problems else 2


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="check a generated dataset against its manifest (sha256, counts, answers)",
                       description=__doc__.split("\n\n", 1)[1])
    p.add_argument("dir", help="a generated COG --out (or one split directory), CLEVR --out or CATER --out")
    p.set_defaults(handler=_cmd_verify)


