"""`vrkit generate cog|clevr|cater`: write datasets (COG and CLEVR in the official layouts)."""

from __future__ import annotations

import argparse
import sys

from vrkit.cli import _generate_cater, _generate_clevr
from vrkit.cli._args import add_group, non_negative_int, positive_int
from vrkit.errors import InputError


def _shard(text: str) -> tuple[int, int]:
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected I/N (e.g. 0/4), got {text!r}") from None
    return i, n


def _families(text: str) -> list[str]:
    from vrkit.worlds.cog.constants import resolve_families

    names = [t.strip() for t in text.split(",") if t.strip()]
    try:
        return resolve_families(names[0] if len(names) == 1 else names)
    except ValueError as err:
        raise InputError(f"{err} (see `vrkit generate cog --help`)") from None


def register(sub: argparse._SubParsersAction) -> None:
    _, gsub = add_group(sub, "generate", "generate datasets (COG, CLEVR in the official layouts; CATER-style videos)",
                        "world", "WORLD")
    c = gsub.add_parser(
        "cog", help="COG videos: official gzipped JSON lines",
        description="Generate COG data. Families: 'all', 'classification', 'pointing', or a comma list of "
                    "family and group names (groups: Basic, Obj-Attr, Compare, Spatial, Cognitive, Point-*).")
    c.add_argument("--variant", choices=["canonical", "hard"], default="canonical")
    c.add_argument("--frames", type=positive_int, help="override frames per example (E)")
    c.add_argument("--memory", type=positive_int, help="override the look-back (max_memory)")
    c.add_argument("--distractors", type=non_negative_int, help="override the maximum distractors per frame")
    c.add_argument("--split-combos", choices=["A", "B"],
                   help="compositional split: every object's colour x shape pair from half A or B of the pairs "
                        "(A: colour index + shape index even, B: odd; docs/world-cog.md)")
    c.add_argument("--families", default="all")
    c.add_argument("--n-per-family", type=positive_int, default=100)
    c.add_argument("--split", choices=["train", "val", "test"], default="train")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--workers", type=positive_int, default=1)
    c.add_argument("--train-files", type=positive_int, help="number of train files (default: one per 100k examples)")
    c.add_argument("--shard", type=_shard, default=(0, 1), help="generate only shard I of N (files k with k %% N == I)")
    c.add_argument("--out", required=True, help="output root; the split is written whole to OUT/<split>_<E>_<M>_<D>")
    c.add_argument("--overwrite", action="store_true",
                   help="replace an existing split directory as a whole (default: refuse a non-empty one)")
    c.add_argument("--quiet", action="store_true", help="no progress bar")
    c.set_defaults(handler=_generate_cog)
    _generate_clevr.register_clevr(gsub)
    _generate_cater.register_cater(gsub, _shard)


def _generate_cog(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from tqdm import tqdm

    from vrkit.utils.files import check_output_dir
    from vrkit.worlds.cog.constants import VARIANTS
    from vrkit.worlds.cog.writer import GenerateConfig, generate_dataset, plan_files

    variant = VARIANTS[args.variant]
    name = args.variant
    overrides = {k: v for k, v in (("frames", args.frames), ("memory", args.memory),
                                   ("distractors", args.distractors)) if v is not None}
    if overrides:
        variant, name = replace(variant, **overrides), "custom"
    if args.split_combos:
        variant, name = replace(variant, combos=args.split_combos), f"{name}-{args.split_combos}"
    try:
        cfg = GenerateConfig(variant, name, _families(args.families), args.n_per_family, args.split, args.seed,
                             args.out, args.train_files, args.workers, args.shard)
    except ValueError as err:
        raise InputError(str(err)) from None
    check_output_dir(args.out)
    total = sum(len(j.families) for j in plan_files(cfg) if j.index % cfg.shard[1] == cfg.shard[0])
    with tqdm(total=total, unit="ex", desc=f"cog {cfg.split_dir}", disable=args.quiet or None,
              file=sys.stderr) as bar:
        manifest = generate_dataset(cfg, progress=bar.update, overwrite=args.overwrite)
    print(f"wrote {manifest['examples']} examples in {len(manifest['files'])} files to {args.out}/{cfg.split_dir}")
    return 0
