"""``vrkit generate clevr``: images, scenes and questions of one split in the official CLEVR layout.

Wired from vrkit/cli/generate.py with ``register_clevr(gsub)`` (``gsub`` = the sub-parsers of ``generate``).
"""

from __future__ import annotations

import argparse
import sys

from vrkit.errors import InputError


def register_clevr(gsub: argparse._SubParsersAction) -> None:
    c = gsub.add_parser(
        "clevr", help="CLEVR images + scenes + questions in the official layout",
        description="Generate one CLEVR split under OUT: images/<split>/CLEVR_<split>_NNNNNN.png, "
                    "scenes/CLEVR_<split>_scenes.json, questions/CLEVR_<split>_questions.json and, beside "
                    "those folders, OUT/manifest.<split>.json. The split is written whole (refused if it exists, "
                    "unless --overwrite). With --condition A or B the split is named as in CLEVR_CoGenT_v1.0 "
                    "(trainA, valA, valB, testA, testB; trainB is also allowed). The same seed gives the "
                    "same bytes for any --workers.")
    c.add_argument("--condition", default="all",
                   help="CoGenT condition A or B, or 'all' (unrestricted, default)")
    c.add_argument("--n-images", type=int, default=100, help="number of images (default 100)")
    c.add_argument("--questions-per-image", type=int, default=10,
                   help="at most this many questions per image (default 10)")
    c.add_argument("--size", type=int, default=128, help="square image size (default 128)")
    c.add_argument("--width", type=int, help="image width (overrides --size)")
    c.add_argument("--height", type=int, help="image height (overrides --size)")
    c.add_argument("--split", default="train", help="train, val or test (default train)")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--workers", type=int, default=1)
    c.add_argument("--hide-answers", action="store_true",
                   help="write questions in the released test form (no answer, no program) and no scenes file")
    c.add_argument("--strip-render", action="store_true",
                   help="drop each scene's 'render' key (camera/lamps); images then no longer "
                        "re-render exactly")
    c.add_argument("--templates", default=None, help="directory of template *.json (default: vrkit's own)")
    c.add_argument("--synonyms", default=None,
                   help="synonyms JSON, value -> alternatives (the original engine's format; default: vrkit's own)")
    c.add_argument("--date", default="",
                   help="INFO date string (default empty, for identical bytes on any day)")
    c.add_argument("--out", required=True, help="output root directory")
    c.add_argument("--overwrite", action="store_true",
                   help="replace an existing split (its images folder, scenes, questions and manifest) as a whole")
    c.add_argument("--quiet", action="store_true", help="no progress bar")
    c.set_defaults(handler=_generate_clevr)


def _generate_clevr(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from vrkit.utils.files import check_output_dir
    from vrkit.worlds.clevr.writer import ClevrGenerateConfig, generate_clevr

    if args.condition not in ("A", "B", "all", "unrestricted"):
        raise InputError(f"--condition must be A, B or all, got {args.condition!r}")
    width = args.size if args.width is None else args.width
    height = args.size if args.height is None else args.height
    if args.templates is not None:
        from vrkit.worlds.clevr.templates import load_templates

        load_templates(args.templates)  # fail early with file:line on a bad template directory
    if args.synonyms is not None:
        from vrkit.worlds.clevr.text import load_synonyms

        load_synonyms(args.synonyms)  # likewise for a bad synonyms file
    try:
        cfg = ClevrGenerateConfig(
            n_images=args.n_images, questions_per_image=args.questions_per_image, split=args.split,
            condition=args.condition, seed=args.seed, width=width, height=height, out=args.out,
            workers=args.workers, hide_answers=args.hide_answers, keep_render=not args.strip_render,
            templates=args.templates, synonyms=args.synonyms, date=args.date)
    except ValueError as err:
        raise InputError(f"generate clevr: {err}") from None
    bars: dict[str, tqdm] = {}

    def progress(stage: str, n: int) -> None:
        if stage not in bars:
            for b in bars.values():
                b.close()
            bars[stage] = tqdm(total=cfg.n_images, unit="img", desc=f"clevr {cfg.name} {stage}",
                               disable=args.quiet or None, file=sys.stderr)
        bars[stage].update(n)

    check_output_dir(args.out)
    try:
        entry = generate_clevr(cfg, progress, overwrite=args.overwrite)
    finally:
        for b in bars.values():
            b.close()
    print(f"wrote {entry['images']} images and {entry['questions']} questions ({cfg.name}) to {args.out}")
    return 0
