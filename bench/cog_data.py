"""Throughput and memory of the COG data layer (vrkit.data) on the official sample and the stream.

    .venv/bin/python bench/cog_data.py [--seconds 6] [--workers 0 2]

Measures: CogFileDataset load time and bytes per example (compressed and raw), DataLoader examples/s of the
state path (batch 48, per worker count; also without the schema check), of the pixel path (112 px) and of the
generator stream (state path).
Writes bench/results/cog_data.json; the last line printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vrkit.data import CogFileDataset, CogStreamDataset, collate_cog  # noqa: E402
from vrkit.utils.atomic import atomic_write_text  # noqa: E402

SAMPLE = REPO.parent / "shared" / "data" / "cog-official-sample"


def rate(dataset, workers: int, seconds: float, shuffle: bool = True) -> float:
    """DataLoader (batch 48) examples per second over repeated passes, for about ``seconds``."""
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        loader = DataLoader(dataset, 48, shuffle=shuffle, num_workers=workers, collate_fn=collate_cog)
        for batch in loader:
            n += batch["answer"].shape[0]
            if time.perf_counter() - t0 >= seconds:
                break
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    args = ap.parse_args()
    torch.set_num_threads(1)
    out: dict = {"machine": platform.processor() or platform.machine(), "note": "2 shared cores, under load"}
    for variant in ("val_4_3_1", "val_8_7_10"):
        res: dict = {}
        for compress in (True, False):
            t0 = time.perf_counter()
            ds = CogFileDataset(SAMPLE / variant, compress=compress)
            key = "compressed" if compress else "raw"
            res[f"load_us_per_example_{key}"] = round((time.perf_counter() - t0) / len(ds) * 1e6, 1)
            res[f"bytes_per_example_{key}"] = round(ds.store.nbytes() / len(ds), 1)
        for w in args.workers:
            res[f"state_examples_per_s_w{w}"] = round(rate(ds, w, args.seconds), 1)
        fast = CogFileDataset(SAMPLE / variant, validate=False)
        res["state_examples_per_s_w0_novalidate"] = round(rate(fast, 0, args.seconds), 1)
        px = CogFileDataset(SAMPLE / variant, path="pixels")
        res["pixels_examples_per_s_w0"] = round(rate(px, 0, args.seconds), 1)
        name = "canonical" if variant == "val_4_3_1" else "hard"
        stream = CogStreamDataset(name, seed=0, length=480)
        res["stream_state_examples_per_s_w0"] = round(rate(stream, 0, args.seconds, shuffle=False), 1)
        out[name] = res
    path = REPO / "bench" / "results" / "cog_data.json"
    atomic_write_text(path, json.dumps(out, indent=1) + "\n")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
