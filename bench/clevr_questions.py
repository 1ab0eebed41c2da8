"""Question-generation speed of the CLEVR engine (single process, 10 questions per scene).

Usage: .venv/bin/python bench/clevr_questions.py [--scenes 300] [--seed 0]
Writes bench/results/clevr_questions.json and prints one JSON line last (key ``scenes_per_s``).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from vrkit.utils.atomic import atomic_write_text
from vrkit.worlds.clevr.executor import SceneIndex, answer
from vrkit.worlds.clevr.questions import QuestionGenerator, question_type
from vrkit.worlds.clevr.scenes import generate_scenes

OUT = Path(__file__).resolve().parent / "results" / "clevr_questions.json"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenes", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    t0 = time.perf_counter()
    scenes = generate_scenes(args.seed, args.scenes)
    t_scenes = time.perf_counter() - t0

    gen = QuestionGenerator()
    rng = np.random.default_rng(args.seed)
    t0, c0 = time.perf_counter(), time.process_time()
    qs = gen.generate(scenes, rng)
    t_q, c_q = time.perf_counter() - t0, time.process_time() - c0

    idx = {s["image_index"]: SceneIndex(s) for s in scenes}
    disagree = sum(answer(q["program"], idx[q["image_index"]]) != q["answer"] for q in qs)
    by_type: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for q in qs:
        by_type[question_type(q)][q["answer"]] += 1
    lengths = [len(q["program"]) for q in qs]
    result = {
        "scenes": len(scenes),
        "questions": len(qs),
        "questions_per_scene": len(qs) / max(1, len(scenes)),
        "question_seconds": round(t_q, 3),
        "scenes_per_s": round(len(scenes) / t_q, 1),
        "cpu_seconds": round(c_q, 3),
        "scenes_per_cpu_s": round(len(scenes) / c_q, 1),
        "scene_sampling_per_s": round(len(scenes) / t_scenes, 1),
        "families_used": len({q["question_family_index"] for q in qs}),
        "reexecution_disagree": disagree,
        "program_length_mean": round(statistics.mean(lengths), 2),
        "answers_by_type": {k: dict(v.most_common()) for k, v in sorted(by_type.items())},
        "python": platform.python_version(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "note": "single process; the machine was shared with other jobs (scenes_per_s is wall-clock)",
    }
    atomic_write_text(OUT, json.dumps(result, indent=1) + "\n")
    keys = ("scenes", "questions", "scenes_per_s", "scenes_per_cpu_s", "families_used", "reexecution_disagree")
    print(json.dumps({k: result[k] for k in keys}))


if __name__ == "__main__":
    main()
