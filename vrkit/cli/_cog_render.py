"""`vrkit cog render FILE --limit K --out OUT.npz [--size 112]`: render official COG examples to frames.

The output is an ``.npz`` holding one array per example, keyed by its 0-based index in FILE ("0", "1", ...),
each (frames, size, size, 3) uint8 RGB. Arrays are streamed into the archive one at a time (memory stays
bounded by one render chunk), and the file appears atomically.
"""

from __future__ import annotations

import argparse
import itertools
import zipfile

import numpy as np

from vrkit.cli._args import add_cog_example_args, add_command
from vrkit.errors import InputError
from vrkit.utils.atomic import atomic_open
from vrkit.worlds.cog.io import iter_file
from vrkit.worlds.cog.render import check_size, render_batch

_CHUNK = 256  # examples rendered per call


def register(cog_sub: argparse._SubParsersAction) -> None:
    p = add_command(
        cog_sub, "render", run,
        help="render COG examples to frames (.npz)",
        description="Render the first K examples of an official COG file (gz JSON lines) to uint8 RGB frames, "
        "pixel-identical to the original renderer. Writes an .npz with one (frames, H, W, 3) array per example, "
        "keyed by its 0-based index in the file.",
    )
    add_cog_example_args(p, ("--limit", 16, "K", "render the first K examples (default 16)"),
                         ("OUT.npz", "output .npz file"), "image size in pixels")


def write_npz_stream(fh, arrays) -> tuple[int, int]:
    """Write ``(key, array)`` pairs into the binary file ``fh`` as a deflate-compressed ``.npz`` (what
    ``np.savez_compressed`` writes, but one array at a time).

    Returns (number of arrays, number of frames).
    """
    n = frames = 0
    with zipfile.ZipFile(fh, mode="w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for key, arr in arrays:
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))  # fixed: same bytes each run
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with zf.open(info, mode="w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.ascontiguousarray(arr), allow_pickle=False)
            n += 1
            frames += arr.shape[0]
    return n, frames


def run(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise InputError(f"--limit must be >= 1, got {args.limit}")
    size = check_size(args.size)
    from vrkit.utils.files import check_output_file

    check_output_file(args.out)  # before any work
    examples = iter_file(args.file)
    first = list(itertools.islice(examples, min(args.limit, _CHUNK)))
    if not first:
        raise InputError("file holds no examples", args.file)

    def arrays():
        index = 0
        chunk = first
        while chunk:
            for arr in render_batch(chunk, size):
                yield str(index), arr
                index += 1
            remaining = args.limit - index
            chunk = list(itertools.islice(examples, min(remaining, _CHUNK))) if remaining > 0 else []

    with atomic_open(args.out, "wb") as fh:
        n, frames = write_npz_stream(fh, arrays())
    shortfall = f" (file has only {n})" if n < args.limit else ""
    print(f"rendered {n} examples{shortfall}, {frames} frames at {size}x{size} from {args.file} -> {args.out}")
    return 0
