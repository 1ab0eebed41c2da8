"""`vrkit clevr ...` commands: check (re-execute every program of a questions file against its scenes),
scenes (symbolic scene generation, no rendering) and questions (question generation for a scenes file)."""

from __future__ import annotations

import argparse
import sys

from vrkit.cli._args import add_group
from vrkit.errors import InputError
from vrkit.worlds.clevr.constants import CONDITIONS
from vrkit.worlds.clevr.executor import SceneIndex, answer
from vrkit.worlds.clevr.io import make_info, read_questions, read_scenes, write_questions, write_scenes


def register(sub: argparse._SubParsersAction) -> None:
    _, clevr_sub = add_group(sub, "clevr", "CLEVR tools: check question programs against scenes", "clevr_command")
    c = clevr_sub.add_parser("check", help="re-execute every program and compare with the stored answer")
    c.add_argument("--scenes", required=True, help="official scenes JSON")
    c.add_argument("--questions", required=True, help="official questions JSON")
    c.add_argument("--show", type=int, default=10, help="print at most this many disagreements (default 10)")
    c.set_defaults(handler=_check)
    g = clevr_sub.add_parser("scenes", help="sample symbolic scenes (official scenes JSON; pixel_coords unset)")
    g.add_argument("--num", type=int, required=True, help="number of scenes")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--start", type=int, default=0, help="first image index (each scene seeded by (seed, index))")
    g.add_argument("--split", default="new")
    g.add_argument("--condition", choices=CONDITIONS, default="unrestricted", help="CoGenT condition")
    g.add_argument("--visibility", action="store_true",
                   help="apply the minimum-visible-pixels check with the numpy renderer and fill pixel_coords")
    g.add_argument("--jittered-directions", action="store_true",
                   help="axes from the jittered camera (default: the released constant axes, quirk Q1)")
    g.add_argument("--width", type=int, default=480, help="image width for --visibility (default 480)")
    g.add_argument("--height", type=int, default=320, help="image height for --visibility (default 320)")
    g.add_argument("--date", default=None, help="INFO date (default today, MM/DD/YYYY); fix it for identical bytes")
    g.add_argument("--out", required=True, help="output scenes JSON")
    g.set_defaults(handler=_scenes)
    q = clevr_sub.add_parser("questions", help="generate questions for a scenes file")
    q.add_argument("--scenes", required=True, help="official scenes JSON")
    q.add_argument("--out", required=True, help="output questions JSON")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--templates", default=None, help="directory of template *.json (default: vrkit's own)")
    q.add_argument("--synonyms", default=None, help="synonyms JSON (value -> alternatives; default: vrkit's)")
    q.add_argument("--per-image", type=int, default=10, help="questions per image (default 10)")
    q.add_argument("--test-split", action="store_true", help="drop answers and programs (released test form)")
    q.set_defaults(handler=_questions)


def check_answers(scenes: list[dict], questions: list[dict], where: str) -> tuple[int, int, list[str]]:
    """Re-execute every program: ``(checked, skipped, one line per disagreement)``; a question naming no scene
    is an InputError located at ``where``. Shared by ``clevr check`` and ``vrkit verify``."""
    index: dict[int, SceneIndex] = {}
    for s in scenes:
        index[s.get("image_index", len(index))] = SceneIndex(s)
    checked = skipped = 0
    problems: list[str] = []
    for i, q in enumerate(questions):
        if "program" not in q or "answer" not in q:
            skipped += 1
            continue
        scene = index.get(q["image_index"])
        if scene is None:
            raise InputError(f"questions[{i}]: no scene with image_index {q['image_index']}", where)
        got = answer(q["program"], scene)
        checked += 1
        if got != q["answer"]:
            problems.append(f"questions[{i}] (image {q['image_index']}): stored {q['answer']!r}, executed {got!r}: "
                            f"{q.get('question', '')}")
    return checked, skipped, problems


def _check(args: argparse.Namespace) -> int:
    _, scenes = read_scenes(args.scenes)
    _, questions = read_questions(args.questions)
    checked, skipped, problems = check_answers(scenes, questions, args.questions)
    for line in problems[:args.show]:
        print(line)
    if skipped:
        print(f"skipped {skipped} questions without program or answer")
    print(f"checked {checked} questions, {len(problems)} disagree")
    sys.stdout.flush()
    return 0 if not problems else 1


def _scenes(args: argparse.Namespace) -> int:
    from vrkit.worlds.clevr.scenes import generate_scenes, render_visibility_hook

    if args.num < 0:
        raise InputError(f"--num must be >= 0, got {args.num}")
    if args.width < 8 or args.height < 8:
        raise InputError(f"--width/--height must be >= 8, got {args.width}x{args.height}")
    hook = render_visibility_hook(args.width, args.height) if args.visibility else None
    scenes = generate_scenes(args.seed, args.num, start=args.start, split=args.split, condition=args.condition,
                             visibility_fn=hook, jittered_directions=args.jittered_directions)
    # the "render" key (jittered camera/lamps) is kept so that rendering reproduces the checked view
    write_scenes(args.out, scenes, make_info(args.split, date=args.date))
    print(f"wrote {len(scenes)} scenes to {args.out}")
    return 0


def _questions(args: argparse.Namespace) -> int:
    from vrkit.worlds.clevr.io import for_test_split
    from vrkit.worlds.clevr.questions import GeneratorConfig, generate_questions
    from vrkit.worlds.clevr.templates import load_templates
    from vrkit.worlds.clevr.text import load_synonyms

    info, scenes = read_scenes(args.scenes)
    synonyms = None if args.synonyms is None else load_synonyms(args.synonyms)
    qs = generate_questions(scenes, args.seed, load_templates(args.templates),
                            GeneratorConfig(templates_per_image=args.per_image), synonyms)
    if args.test_split:
        qs = [for_test_split(q) for q in qs]
    write_questions(args.out, qs, info or make_info("new"))
    print(f"wrote {len(qs)} questions for {len(scenes)} scenes to {args.out}")
    return 0
