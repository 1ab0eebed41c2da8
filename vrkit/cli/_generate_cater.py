"""``vrkit generate cater``: CATER-style videos (vrkit/worlds/cater, docs/world-cater.md).

Wired from vrkit/cli/generate.py with ``register_cater(gsub)`` (``gsub`` = the sub-parsers of ``generate``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from vrkit.cli._args import positive_int
from vrkit.errors import InputError


def register_cater(gsub: argparse._SubParsersAction, shard: Callable[[str], tuple[int, int]]) -> None:
    """``shard``: the argparse type of ``--shard I/N`` (shared with ``generate cog``)."""
    c = gsub.add_parser(
        "cater", help="CATER-style videos: objects that move, turn, are picked up and covered by cones",
        description="Generate one split of CATER-style videos under OUT: OUT/cater_<split>/part-NNNNN.jsonl "
                    "(one JSON record per video: objects, per-frame 3D positions, visibility, covers, actions, "
                    "labels) and part-NNNNN.npz (frames and labels), --part-size videos a part, and beside the folder "
                    "OUT/manifest.cater_<split>.json. The same seed gives the same bytes for any --workers; "
                    "--shard I/N writes the parts k with k %% N == I (docs/world-cater.md).")
    c.add_argument("--out", required=True, help="output root directory")
    c.add_argument("--n", type=positive_int, default=100, help="number of videos (default 100)")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--split", choices=["train", "val", "test"], default="train")
    c.add_argument("--frames", type=positive_int, default=16, help="frames per video (default 16)")
    c.add_argument("--size", type=positive_int, default=64, help="square frame size in pixels (default 64)")
    c.add_argument("--min-objects", type=positive_int, default=5)
    c.add_argument("--max-objects", type=positive_int, default=8)
    c.add_argument("--moving-camera", action="store_true",
                   help="the camera orbits the scene during each video (default: CLEVR's fixed camera)")
    c.add_argument("--quality", type=int, choices=[0, 1, 2], default=0,
                   help="render quality: 0 one hard key-lamp shadow (default, fast), 1 CLEVR's soft shadows")
    c.add_argument("--no-antialias", action="store_true",
                   help="no edge anti-aliasing (about 20 %% faster; jagged silhouettes)")
    c.add_argument("--part-size", type=positive_int, default=100,
                   help="videos per part file (default 100; the layout only, never a video)")
    c.add_argument("--workers", type=positive_int, default=1)
    c.add_argument("--shard", type=shard, default=(0, 1), help="write only shard I of N (parts k with k %% N == I)")
    c.add_argument("--overwrite", action="store_true",
                   help="replace an existing split (for a shard: its parts) as a whole")
    c.add_argument("--quiet", action="store_true", help="no progress bar")
    c.set_defaults(handler=_generate_cater)


def _generate_cater(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from vrkit.utils.files import check_output_dir
    from vrkit.worlds.cater.video import CaterConfig
    from vrkit.worlds.cater.writer import CaterGenerateConfig, generate_cater

    try:
        video = CaterConfig(frames=args.frames, size=args.size, min_objects=args.min_objects,
                            max_objects=args.max_objects, moving_camera=args.moving_camera, quality=args.quality,
                            antialias=not args.no_antialias)
        cfg = CaterGenerateConfig(out=args.out, n=args.n, seed=args.seed, split=args.split, video=video,
                                  workers=args.workers, shard=args.shard, part_size=args.part_size)
    except ValueError as err:
        raise InputError(f"generate cater: {err}") from None
    check_output_dir(args.out)
    total = sum(len(cfg.part_videos(k)) for k in cfg.parts())
    with tqdm(total=total, unit="video", desc=f"cater {cfg.split_dir}", disable=args.quiet or None,
              file=sys.stderr) as bar:
        manifest = generate_cater(cfg, progress=bar.update, overwrite=args.overwrite)
    print(f"wrote {manifest['videos']} videos in {len(manifest['parts'])} parts to {args.out}/{cfg.split_dir}")
    return 0
