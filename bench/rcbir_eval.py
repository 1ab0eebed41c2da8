"""R-CBIR end to end at CPU scale: generate CLEVR, train Relation Networks from pixels, index, evaluate.

1. Generate (pixels, ``--size`` px, unrestricted CLEVR): the training questions (``--train-images`` x 10,
   the engine's cached stream source) and a separate evaluation split of ``--queries + --gallery`` images
   (``<work>/data``, split ``val``, one question per image: only the images and scenes are used).
2. Train two Relation Networks on CLEVR question answering (``vrkit.engine.run.train``), ``--minutes`` each:
   2S-RN (question injected at g-layer 2, pairs summed after g) and AVF-RN (question injected at g-layer 2,
   pairs aggregated before it: ``aggregate_layer = q_inject_layer = 2``). 4 g-layers of 128, f 128, CNN of
   4 stride-2 layers of 24 (64 px -> 4 x 4 cells), Adam 1e-3 with warm-up, early stopping on val accuracy.
3. Index the evaluation split: ``2s`` (2S-RN) and ``avf`` (AVF-RN) under each ``--pool`` (mean / max of the
   per-pair L2-normalised vectors, as RelationNetworks-CLEVR's ``extract.py``; sum, vrkit's earlier raw
   feature), ``cnn`` (the 2S-RN's own CNN, mean+max pooled) and ``cnn-untrained`` (the same CNN freshly
   initialised).
4. Evaluate ``--queries`` x ``--gallery`` against soft and hard GED (Spearman-rho, nDCG@10/100, random row).

Writes docs/results/rcbir/table.md (+ table.json, query_2s.png) and bench/results/rcbir_eval.json, and
prints the result as one JSON line last. Finished stages are reused when ``--work`` is kept (training resumes
from its last checkpoint). ``--smoke``: ~60 images, seconds of training, results to
bench/results/rcbir_eval_smoke.json and the work directory only.

    python bench/rcbir_eval.py [--minutes 12 --size 64 --queries 500 --gallery 5000]
    python bench/rcbir_eval.py --smoke
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs" / "results" / "rcbir"
RN = {"embedding_size": 32, "question_units": 64, "g_layers": 4, "g_width": 128, "f_width": 128,
      "cnn_channels": [24, 24, 24, 24], "temporal": False, "q_inject_layer": 2}
VARIANTS = {"2s": {"aggregate_layer": None}, "avf": {"aggregate_layer": 2}}
LABELS = {"2s": "2S-RN", "avf": "AVF-RN", "cnn": "CNN (2S-RN's)", "cnn-untrained": "CNN untrained"}


def _log(msg: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


def generate_eval_set(work: Path, n: int, size: int, seed: int, workers: int) -> Path:
    from vrkit.worlds.clevr.writer import ClevrGenerateConfig, generate_clevr

    out = work / "data"
    if not (out / "scenes" / "CLEVR_val_scenes.json").is_file():
        generate_clevr(ClevrGenerateConfig(n_images=n, questions_per_image=1, split="val", seed=seed + 101,
                                           width=size, height=size, out=str(out), workers=workers))
    return out


def train_rn(work: Path, variant: str, args: argparse.Namespace) -> dict:
    from vrkit.engine.config import from_dict
    from vrkit.engine.recipe import build_datamodule
    from vrkit.engine.run import train

    run = work / f"rn-{variant}"
    final = run / "final_metrics.json"
    if final.is_file():
        return json.loads(final.read_text())
    tree = {
        "seed": args.seed, "run_dir": str(run),
        "model": {"name": "relation_net", **RN, **VARIANTS[variant]},
        "data": {"world": "clevr", "variant": "unrestricted", "families": "all", "path": "pixels",
                 "image_size": args.size, "train": {"kind": "stream", "n": args.train_images * 10},
                 "val": {"kind": "stream", "n": args.val_questions}, "batch_size": args.batch_size,
                 "workers": 0},
        "optim": {"lr": 1e-3, "weight_decay": 0.0, "clip": 10.0, "clip_mode": "norm",
                  "warmup_start_lr": 2.5e-4, "warmup_every": 1, "warmup_unit": "epoch"},
        "trainer": {"max_epochs": args.max_epochs, "max_minutes": args.minutes, "early_stopping_patience": 6,
                    "log_every_n_steps": 50},
    }
    cfg = from_dict(tree)
    t = time.perf_counter()
    cfg.data.workers = args.workers  # generate the training images on every core (same bytes for any count)
    build_datamodule(cfg.data, cfg.optim, cfg.seed).prepare_data()
    cfg.data.workers = 0  # then load batches in the training process
    _log(f"training data for {variant} ready in {time.perf_counter() - t:.1f} s")
    return train(cfg, resume=(run / "checkpoints" / "last.ckpt").is_file())


def _ckpt(work: Path, variant: str) -> Path:
    best = work / f"rn-{variant}" / "checkpoints" / "best.ckpt"
    return best if best.is_file() else best.with_name("last.ckpt")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny run (~60 images, about a minute)")
    ap.add_argument("--minutes", type=float, help="training budget per model (default 12; smoke 0.15)")
    ap.add_argument("--size", type=int, default=64, help="image size in pixels (default 64)")
    ap.add_argument("--train-images", type=int, help="training images, 10 questions each (default 6000)")
    ap.add_argument("--val-questions", type=int, help="validation questions (default 1000)")
    ap.add_argument("--max-epochs", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--queries", type=int, help="query images (default 500; smoke 10)")
    ap.add_argument("--gallery", type=int, help="gallery images (default 5000; smoke 50)")
    ap.add_argument("--models", default="2s,avf", help="RN variants to train: 2s, avf (comma-separated)")
    ap.add_argument("--workers", type=int, default=2, help="generation and GED processes")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", help="work directory (default runs/rcbir_eval[_smoke])")
    ap.add_argument("--pool", default="mean,max,sum",
                    help="pair pooling of the 2s/avf features, comma-separated: mean / max (per-pair L2-normalised, "
                    "RelationNetworks-CLEVR extract.py) and sum (vrkit's earlier raw feature); default all three")
    ap.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    args = ap.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    pools = [p.strip() for p in args.pool.split(",") if p.strip()]
    smoke = args.smoke
    defaults = {"minutes": 0.15 if smoke else 12.0, "train_images": 40 if smoke else 6000,
                "val_questions": 40 if smoke else 1000, "queries": 10 if smoke else 500,
                "gallery": 50 if smoke else 5000}
    for k, v in defaults.items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    if smoke:
        args.max_epochs = min(args.max_epochs, 2)
    variants = [v.strip() for v in args.models.split(",") if v.strip()]
    work = Path(args.work or REPO / "runs" / ("rcbir_eval_smoke" if smoke else "rcbir_eval"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("VRKIT_CACHE_DIR", str(work / "cache"))

    from vrkit.retrieval.evaluation import evaluate_indexes, write_results
    from vrkit.retrieval.features import extract_index, index_paths, load_index, save_index
    from vrkit.retrieval.query import query_index, write_grid

    times: dict[str, float] = {}
    t = time.perf_counter()
    data = generate_eval_set(work, args.queries + args.gallery, args.size, args.seed, args.workers)
    times["generate_eval_set_s"] = round(time.perf_counter() - t, 1)
    _log(f"evaluation split ready in {times['generate_eval_set_s']} s: {data}")
    training = {}
    for v in variants:
        t = time.perf_counter()
        res = train_rn(work, v, args)
        times[f"train_{v}_s"] = round(time.perf_counter() - t, 1)
        val = res.get("val") or {}
        training[v] = {"epochs": res.get("epochs"), "steps": res.get("steps"), "val_acc": val.get("frames_acc"),
                       "train_acc": res.get("train_acc"), "ckpt": str(_ckpt(work, v))}
        _log(f"RN {v}: {training[v]}")
    jobs = [(v, v, pool) for v in variants for pool in pools]
    if variants:
        jobs += [("cnn", variants[0], "mean"), ("cnn-untrained", variants[0], "mean")]
    indexes = []
    for kind, v, pool in jobs:
        relational = kind in ("2s", "avf")
        name = f"{kind}-{pool}" if relational else kind
        out = work / "index" / name
        if not index_paths(out)[0].is_file():
            t = time.perf_counter()
            label = f"{LABELS[kind]} ({pool})" if relational else LABELS[kind]
            save_index(extract_index(_ckpt(work, v), data, kind, label=label, pool=pool), out)
            times[f"index_{name}_s"] = round(time.perf_counter() - t, 1)
        indexes.append(load_index(out))
    t = time.perf_counter()
    result = evaluate_indexes(indexes, args.queries, args.gallery, ("soft", "hard"), (10, 100), args.seed,
                              cache_dir=work / "ged-cache", workers=args.workers, log=_log)
    times["evaluate_s"] = round(time.perf_counter() - t, 1)
    title = f"R-CBIR on generated CLEVR ({args.size} px){' — SMOKE' if smoke else ''}"
    md, js = write_results(result, (work if smoke else DOCS) / "table.md", title)
    first = indexes[0]
    hits = query_index(first, 0, 8)
    grid = write_grid(first, hits, (work if smoke else DOCS) / f"query_{first.meta['kind']}.png", 0)
    summary = {"bench": "rcbir_eval", "smoke": smoke, "size": args.size, "minutes_per_model": args.minutes,
               "train_questions": args.train_images * 10, "training": training, "times": times,
               "table_md": str(md), "table_json": str(js), "query_grid": str(grid),
               "rows": {r["name"]: {m: {k: round(v["mean"], 4) for k, v in r[m].items()} for m in result["modes"]}
                        for r in result["rows"]},
               "queries": result["queries"], "gallery": result["gallery"], "ged": result["ged"],
               "note": "measured on a shared 2-core machine under load from other jobs"}
    write_result("rcbir_eval_smoke" if smoke else "rcbir_eval", summary)


if __name__ == "__main__":
    main()
