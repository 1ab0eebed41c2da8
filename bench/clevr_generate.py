"""CLEVR dataset generation speed (`vrkit generate clevr`): images (scene sampling + visibility check +
render + PNG) and questions per second, with 1 and --workers processes.

    python bench/clevr_generate.py [--n-images 100] [--size 128] [--workers 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result  # noqa: E402

from vrkit.worlds.clevr.writer import ClevrGenerateConfig, generate_clevr  # noqa: E402


def run(n: int, width: int, height: int, workers: int, qpi: int) -> dict:
    stage_end: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        cfg = ClevrGenerateConfig(n_images=n, questions_per_image=qpi, width=width, height=height, out=tmp,
                                  workers=workers)
        start = time.perf_counter()
        entry = generate_clevr(cfg, progress=lambda s, k: stage_end.__setitem__(s, time.perf_counter()))
        wall = time.perf_counter() - start
    t_img = stage_end["images"] - start
    t_q = wall - t_img
    return {"images": n, "questions": entry["questions"], "seconds": round(wall, 2),
            "images_per_s": round(n / t_img, 1), "questions_per_s": round(entry["questions"] / t_q, 1),
            "images_with_questions_per_s": round(n / wall, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n-images", type=int, default=100)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--questions-per-image", type=int, default=10)
    args = ap.parse_args()
    result: dict = {"size": args.size, "questions_per_image": args.questions_per_image}
    for w in sorted({1, args.workers}):
        result[f"workers_{w}"] = run(args.n_images, args.size, args.size, w, args.questions_per_image)
    n_big = max(4, args.n_images // 10)
    result["workers_1_480x320"] = run(n_big, 480, 320, 1, args.questions_per_image)
    if args.workers > 1:
        a, b = result["workers_1"], result[f"workers_{args.workers}"]
        result["scaling"] = round(b["images_with_questions_per_s"] / a["images_with_questions_per_s"], 2)
    result["images_with_questions_per_s"] = result["workers_1"]["images_with_questions_per_s"]
    write_result("clevr_generate", result)


if __name__ == "__main__":
    main()
