"""`vrkit pretrain ivcl`: IV-CL self-supervised pretraining on generated CATER videos (docs/ivcl.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vrkit.cli._args import add_group, positive_float
from vrkit.utils.threads import add_threads_argument, apply_thread_policy

DEFAULT_CONFIG = "cater/ivcl_cpu.yaml"
RECON_PNG = "reconstruction.png"


def write_reconstructions(run: Path, videos: int = 2, frames: int = 8, source: object = None) -> Path:
    """``reconstruction.png`` of a finished mae run: its first validation videos (or training videos when it
    has none) through the final weights."""
    import torch

    from vrkit.data.cater import CaterStream, collate_cater, frames_float
    from vrkit.engine.datamodules.cater import split_seed
    from vrkit.engine.pretrain import PretrainTask, load_pretrain_config
    from vrkit.viz.ivcl_show import reconstruction_rows, write_grid

    cfg = load_pretrain_config(run / "config.yaml")
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    task = PretrainTask(ckpt["hyper_parameters"]["config"])
    task.load_state_dict(ckpt["state_dict"])
    stream = CaterStream(max(1, min(videos, cfg.data.val_n or videos)),
                         split_seed(cfg.seed, "val" if cfg.data.val_n else "train"), cfg.world(), source=source)
    batch = collate_cater([stream[i] for i in range(len(stream))])
    clip = frames_float(batch["frames"])
    rows = reconstruction_rows(task.model, clip)
    step = max(1, clip.shape[1] // frames)
    return write_grid(rows[:, ::step][:, :frames], run / RECON_PNG)


def _cmd_ivcl(args: argparse.Namespace) -> int:
    threads = apply_thread_policy(args.threads)
    from vrkit.configs import resolve_recipe
    from vrkit.engine.pretrain import load_pretrain_config
    from vrkit.engine.pretrain_run import pretrain, resume_config
    from vrkit.errors import InputError

    run = Path(args.out)
    budget: dict[str, object] = {}
    if args.minutes is not None:
        budget["trainer.max_minutes"] = args.minutes
    if args.resume:
        if args.config or args.seed is not None or args.image_only:
            raise InputError("--resume continues the saved config; only budgets may change it", run)
        from vrkit.engine.config import apply_overrides

        for section, values in apply_overrides({}, list(args.overrides)).items():
            if not isinstance(values, dict):
                raise InputError(f"--resume cannot change {section}", run)
            budget.update({f"{section}.{k}": v for k, v in values.items()})
        cfg = resume_config(run, budget)
    else:
        overrides = list(args.overrides) + [f"{k}={v}" for k, v in budget.items()]
        if args.seed is not None:
            overrides.append(f"seed={args.seed}")
        if args.image_only:
            overrides.append("model.temporal=false")
        cfg = load_pretrain_config(resolve_recipe(args.config or DEFAULT_CONFIG), overrides)
        if cfg.objective != "mae":
            raise InputError(f"vrkit pretrain ivcl trains objective mae, not {cfg.objective!r} (the supervised "
                             "objectives run inside vrkit transfer pretrain)", args.config)
    print(f"torch threads: {threads['threads']} ({threads['source']})", file=sys.stderr)
    result = pretrain(cfg, run, resume=args.resume)
    png = write_reconstructions(run)
    print(f"run: {run}  steps: {result['steps']}  epochs: {result['epochs']}  train loss: {result['train_loss']}  "
          f"val loss: {result['val_loss']}")
    print(f"wrote {run / 'loss_curve.csv'}, {png} and {run / 'encoder.pt'}", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    _, ps = add_group(sub, "pretrain", "self-supervised pretraining (IV-CL on generated CATER videos)", "method",
                      "METHOD")
    p = ps.add_parser("ivcl", help="IV-CL: slot tokens per frame, temporal transformer, masked reconstruction",
                      description="Pretrain IV-CL on fresh generated CATER videos; writes loss_curve.csv, "
                                  "reconstruction.png, encoder.pt and checkpoints to --out (docs/ivcl.md).")
    p.add_argument("--out", required=True, help="run directory")
    p.add_argument("--config", "-c", help=f"YAML recipe (default configs/{DEFAULT_CONFIG}; also ivcl_paper.yaml)")
    p.add_argument("--minutes", type=positive_float, help="wall-clock budget (trainer.max_minutes)")
    p.add_argument("--seed", type=int, help="run seed (videos, masks, initialisation)")
    p.add_argument("--image-only", action="store_true", help="the ablation without the temporal transformer")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from checkpoints/last.ckpt")
    add_threads_argument(p)
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. model.mask_ratio=0.9")
    p.set_defaults(handler=_cmd_ivcl)
