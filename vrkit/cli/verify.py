"""`vrkit verify DIR`: a generated dataset checked against its own proof.

COG: every split directory's manifests (``manifest.json``, ``manifest.shard-*``): each listed file exists, has
its sha256, its example count and its per-family counts; no unlisted data file; every answer agrees with the
independent checker. CLEVR: each split of ``manifest.json``: the scenes and questions files' sha256, the number
and combined sha256 of the PNGs, and every question's answer re-executed on its scene. One line per problem
(``PATH: problem``), then ``verified N files, M problems``; exit 0 only if M = 0, else 2.
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
from vrkit.worlds.cog import io as cog_io


def _cog_split(directory: Path) -> Iterator[str]:
    """Problems of one COG split directory (``files`` counts into the caller's tally via the yielded lines)."""
    from vrkit.cli._cog_check import _dir_lookback, _problems

    listed = cog_io.manifest_listing(directory) or {}
    data = [q for q in directory.iterdir() if q.is_file() and cog_io.COG_FILE_RE.match(q.name)]
    for q in sorted(data):
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


def _clevr(root: Path, manifest: dict) -> Iterator[str]:
    from vrkit.cli.clevr import check_answers
    from vrkit.worlds.clevr.io import read_questions, read_scenes

    for name, entry in sorted(manifest.get("splits", {}).items()):
        files = entry.get("files", {})
        for kind in ("scenes", "questions"):
            path = root / files.get(kind, {}).get("path", f"<{kind} of {name}>")
            if not path.is_file():
                yield f"{path}: listed in manifest.json but missing"
            elif sha256_file(path) != files[kind].get("sha256"):
                yield f"{path}: sha256 differs from manifest.json"
            yield ""
        images = root / entry.get("images_dir", f"images/{name}")
        pngs = sorted(images.glob("*.png")) if images.is_dir() else []
        combined = hashlib.sha256()
        for png in pngs:
            combined.update(f"{png.name} {sha256_file(png)}\n".encode())
        if len(pngs) != entry.get("images"):
            yield f"{images}: {len(pngs)} images, manifest.json says {entry.get('images')}"
        elif combined.hexdigest() != entry.get("images_sha256"):
            yield f"{images}: image sha256 differs from manifest.json"
        yield ""
        try:
            _, scenes = read_scenes(root / files["scenes"]["path"])
            _, questions = read_questions(root / files["questions"]["path"])
            _, _, disagree = check_answers(scenes, questions, str(root / files["questions"]["path"]))
        except (InputError, KeyError) as err:
            yield err.format() if isinstance(err, InputError) else f"{root}: split {name}: bad manifest entry"
            continue
        if disagree:
            yield f"{root / files['questions']['path']}: {len(disagree)} answers disagree with the executor"


def verify(root: Path) -> tuple[int, list[str]]:
    """``(files verified, problems)`` of a generated dataset directory (COG split(s) or CLEVR root)."""
    if not root.is_dir():
        raise InputError("not a directory", root)
    lines: list[str] = []
    clevr = root / "manifest.json"
    if clevr.is_file() and isinstance(m := read_json(clevr, "manifest"), dict) and m.get("world") == "clevr":
        lines = list(_clevr(root, m))
    else:
        splits = sorted({p.parent for p in root.rglob("manifest*.json")
                         if not any(part.startswith(".") for part in p.relative_to(root).parts)})
        if not splits:
            raise InputError("no manifest.json (not a vrkit-generated dataset?)", root)
        for d in splits:
            lines += _cog_split(d)
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
    p.add_argument("dir", help="a generated COG --out (or one split directory) or CLEVR --out")
    p.set_defaults(handler=_cmd_verify)


