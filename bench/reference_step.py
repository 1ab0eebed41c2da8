"""SAMNet's training step, vrkit vs the reference implementation, measured in one run on this machine.

    .venv/bin/python bench/reference_step.py --mi-prometheus PATH [--threads 1] [--repeats 2]

PATH is a checkout of IBM mi-prometheus at tag SAM-Net_v13 (the directory holding ``miprometheus/``). The
reference model is imported from there unmodified: the few framework pieces it imports (the ``Model`` base class,
``AppState``, nltk) are replaced by minimal stand-ins that do nothing during a forward pass. Both models get the
same batch shape (48 questions of 24 tokens, 4 frames of 112 px; the reference's frames in 0–255, vrkit's in
[0, 1]), the same loss on the answer logits (+ vrkit's pointing loss), backward, and Adam; vrkit's model is built
the way ``vrkit train`` builds it from ``configs/cog/samnet_paper.yaml`` (channels-last CNN). Precisions: fp32
and bf16 autocast (the reference's best setting here; as shipped it runs fp32). Each measurement is the median
of ``--steps`` steps after 2 warm-up steps; vrkit and the reference alternate ``--repeats`` times, so the ratio
compares the two under the same machine load. Writes bench/results/reference_step.json.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import statistics
import sys
import time
import types
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from _common import machine, write_result  # noqa: E402
from train_step import build_run_model, loss_fn, make_batch  # noqa: E402

from vrkit.models.perf import cpu_speedups  # noqa: E402
from vrkit.utils.threads import add_threads_argument, apply_thread_policy  # noqa: E402


def load_reference(checkout: Path) -> type:
    """The reference ``VWM`` class from ``checkout`` with stand-ins for its framework imports."""
    pkg = checkout / "miprometheus" / "models" / "vwm_model"
    if not (pkg / "model.py").is_file():
        raise SystemExit(f"{checkout}: no miprometheus/models/vwm_model/model.py (a mi-prometheus checkout?)")

    def module(name: str, path: list[str] | None = None, **attrs: object) -> types.ModuleType:
        m = types.ModuleType(name)
        if path is not None:
            m.__path__ = path
        m.__dict__.update(attrs)
        sys.modules[name] = m
        return m

    class AppState:  # what the model reads of the framework's global state
        dtype = torch.FloatTensor
        visualize = False

    class Model(torch.nn.Module):  # the framework base class: keeps params, app state and a logger
        def __init__(self, params: dict, problem_default_values_: dict) -> None:
            super().__init__()
            self.params, self.app_state, self.logger = params, AppState(), logging.getLogger("reference")
            self.plotWindow = None

    module("nltk", download=lambda *a, **k: None, word_tokenize=str.split)
    module("miprometheus", path=[])
    module("miprometheus.utils", path=[])
    module("miprometheus.utils.app_state", AppState=AppState)
    module("miprometheus.models", path=[])
    module("miprometheus.models.model", Model=Model)
    module("miprometheus.models.vwm_model", path=[str(pkg)])
    return importlib.import_module("miprometheus.models.vwm_model.model").VWM


def reference_model(VWM: type) -> torch.nn.Module:
    params = {"dim": 128, "embed_hidden": 64, "max_step": 8, "slot": 8, "classes": 49, "words_embed_length": 64,
              "nwords": 24, "dropout": 0.15}  # configs/cog/cog_vwm.yaml
    return VWM(params, {"embed_vocab_size": 79, "nb_classes": 55, "nb_classes_pointing": 49})


def timer(model: torch.nn.Module, forward, loss, bf16: bool, steps: int) -> float:
    opt = torch.optim.Adam(model.parameters(), lr=2e-4, weight_decay=2e-5)
    model.train()

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = forward()
        opt.zero_grad(set_to_none=True)
        loss(out).backward()
        torch.nn.utils.clip_grad_value_(model.parameters(), 10.0)
        opt.step()

    for _ in range(2):
        step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mi-prometheus", required=True, type=Path, help="checkout of IBM mi-prometheus SAM-Net_v13")
    ap.add_argument("--batch", type=int, default=48)
    ap.add_argument("--steps", type=int, default=9)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--precisions", default="fp32,bf16")
    ap.add_argument("--tag", default=None, help="suffix of the results file")
    add_threads_argument(ap)
    args = ap.parse_args(argv)
    policy = apply_thread_policy(args.threads)
    switches = cpu_speedups()
    torch.manual_seed(0)
    ref = reference_model(load_reference(args.mi_prometheus.resolve()))
    batch = make_batch(args.batch, "canonical", "pixels")
    batch["question"] = torch.randint(1, 79, (args.batch, 24))
    batch["question_len"] = torch.full((args.batch,), 24)
    ref_in = {"images": batch["frames"] * 255.0, "questions": batch["question"]}
    answers = batch["answer"].flatten()

    def ref_loss(out: tuple) -> torch.Tensor:
        return F.cross_entropy(out[0].float().flatten(0, 1), answers, ignore_index=-100)

    cells = []
    for precision in args.precisions.split(","):
        bf16 = precision == "bf16"
        ours = build_run_model("samnet", "pixels", precision, "canonical")
        runs: dict[str, list[float]] = {"vrkit": [], "reference": []}
        for _ in range(args.repeats):
            runs["reference"].append(timer(ref, lambda: ref(ref_in), ref_loss, bf16, args.steps))
            runs["vrkit"].append(timer(ours, lambda m=ours: m(batch), lambda o: loss_fn(o, batch), bf16, args.steps))
        cell = {"precision": precision, "load_avg_1m": round(os.getloadavg()[0], 2)}
        for name, med in runs.items():
            cell[f"{name}_samples_per_s"] = round(args.batch / statistics.median(med), 2)
            cell[f"{name}_runs"] = [round(args.batch / m, 2) for m in med]
        cell["ratio"] = round(cell["vrkit_samples_per_s"] / cell["reference_samples_per_s"], 2)
        print(json.dumps(cell), file=sys.stderr, flush=True)
        cells.append(cell)
    result = {"bench": "reference_step", "batch": args.batch, "frames": 4, "image": 112, "question_tokens": 24,
              "steps": args.steps, "repeats": args.repeats, "threads": torch.get_num_threads(),
              "threads_source": policy["source"], **switches, "torch": torch.__version__,
              "reference": "IBM mi-prometheus SAM-Net_v13 models/vwm_model (cog_vwm.yaml)", "machine": machine(),
              "command": " ".join(["python", "bench/reference_step.py", *(argv or sys.argv[1:])]), "cells": cells}
    write_result(f"reference_step{'_' + args.tag if args.tag else ''}", result)
    print(json.dumps({c["precision"]: c["ratio"] for c in cells}))
    return result


if __name__ == "__main__":
    main()
