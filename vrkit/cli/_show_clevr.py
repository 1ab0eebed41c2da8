"""``vrkit show clevr``: one rendered CLEVR scene with its questions and answers beside it.

Wired from vrkit/cli/show.py with ``register_clevr(show_sub)`` (``show_sub`` = the sub-parsers of ``show``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vrkit.cli._args import add_command
from vrkit.errors import InputError


def register_clevr(show_sub: argparse._SubParsersAction) -> None:
    p = add_command(
        show_sub, "clevr", _run,
        help="render a CLEVR scene with its questions and answers beside it (PNG)",
        description="Render one scene of an official CLEVR scenes file (our numpy renderer) and list the "
        "questions of that image with their answers beside it.",
    )
    p.add_argument("--scenes", required=True, type=Path, help="official scenes JSON")
    p.add_argument("--index", type=int, default=0,
                   help="image_index of the scene (default 0; the list position if no scene has it)")
    p.add_argument("--questions", type=Path, default=None, help="official questions JSON (optional)")
    p.add_argument("--out", required=True, type=Path, help="output .png")
    p.add_argument("--width", type=int, default=480)
    p.add_argument("--height", type=int, default=320)


def _pick(scenes: list[dict], index: int, path: Path) -> dict:
    for s in scenes:
        if s.get("image_index") == index:
            return s
    if 0 <= index < len(scenes) and all("image_index" not in s for s in scenes):
        return scenes[index]
    raise InputError(f"no scene with image_index {index} ({len(scenes)} scenes in the file)", path)


def _run(args: argparse.Namespace) -> int:
    from vrkit.utils.files import check_output_file
    from vrkit.viz.clevr_show import write_show_png
    from vrkit.worlds.clevr.io import read_questions, read_scenes

    check_output_file(args.out)  # before any work
    _, scenes = read_scenes(args.scenes)
    scene = _pick(scenes, args.index, args.scenes)
    questions = read_questions(args.questions)[1] if args.questions is not None else []
    out = write_show_png(args.out, scene, questions, args.width, args.height)
    print(f"wrote {out}")
    return 0
