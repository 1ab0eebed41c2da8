"""Evaluation and prediction from a checkpoint, outside Lightning's fit loop (plain ``torch.no_grad`` loops).

Data specs (CLI ``--data``): paths of official files/directories, or ``gen:VARIANT:N[:SEED]`` for N freshly
generated examples (e.g. ``gen:hard:2000``).
"""

from __future__ import annotations

import csv
import io
import json
import pickle
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from vrkit.engine.checkpoint_format import saved_format, upgrade_config
from vrkit.engine.config import SourceConfig
from vrkit.engine.metrics import FamilyAccuracy, frame_correct, summarize
from vrkit.engine.module import ReasoningTask
from vrkit.engine.recipe import datamodule_class
from vrkit.errors import InputError
from vrkit.utils.atomic import atomic_open, atomic_write_text


def load_task(ckpt: str | Path) -> ReasoningTask:
    """A trained task (model + config) from a checkpoint, in eval mode on CPU."""
    ckpt = Path(ckpt)
    if not ckpt.is_file():
        raise InputError("no such checkpoint", ckpt)
    try:
        saved = torch.load(ckpt, map_location="cpu", weights_only=False)
        config, notes = (upgrade_config(saved["hyper_parameters"]["config"], saved_format(saved))
                         if isinstance(saved, dict) else (None, []))
        for note in notes:
            print(f"vrkit: {ckpt}: {note}", file=sys.stderr)
        overrides = {} if config is None else {"config": config}
        task = ReasoningTask.load_from_checkpoint(str(ckpt), map_location="cpu", weights_only=False, **overrides)
    except (KeyError, RuntimeError, TypeError, EOFError, ValueError, AttributeError, ImportError,
            pickle.UnpicklingError) as err:  # a text file, a truncated or foreign pickle
        raise InputError(f"not a vrkit checkpoint ({type(err).__name__}: {err})", ckpt) from None
    return task.eval()


def describe_origin(task: ReasoningTask) -> str | None:
    """One line on where a converted checkpoint's weights came from (None for vrkit-trained weights)."""
    o = task.origin
    if not o:
        return None
    detail = o.get("detail") or f"input scale {o.get('input_scale')}, vocabularies mapped by word"
    return (f"weights converted from {o.get('reference')} ({o.get('source')}, sha256 {str(o.get('sha256'))[:12]}, "
            f"{detail})")


def parse_data_spec(spec: Sequence[str], families: str | list[str] | None = None) -> SourceConfig:
    """Source of ``--data`` values: file/directory paths or ``gen:VARIANT:N[:SEED]``."""
    if not spec:
        raise InputError("--data needs at least one path or gen:VARIANT:N[:SEED]")
    if spec[0].startswith("gen:"):
        parts = spec[0].split(":")
        if len(parts) not in (3, 4) or len(spec) > 1:
            raise InputError(f"bad data spec {spec[0]!r}; expected gen:VARIANT:N[:SEED]")
        try:
            n, seed = int(parts[2]), (int(parts[3]) if len(parts) == 4 else 12345)
        except ValueError:
            raise InputError(f"bad data spec {spec[0]!r}; N and SEED must be integers") from None
        return SourceConfig(kind="stream", n=n, seed=seed, variant=parts[1], families=families)
    return SourceConfig(kind="files", paths=list(spec), families=families)


def eval_dataset(task: ReasoningTask, source: SourceConfig):
    """(dataset, datamodule) of ``source`` built with the checkpoint's data config; a bad source is an
    InputError (``--data``). Shared by ``vrkit eval``/``predict`` and ``vrkit explain``."""
    dcfg = task.cfg.data
    dm_cls = datamodule_class(dcfg.world)
    try:
        dm_cls.check_source(source, "--data")
    except InputError:
        raise
    except ValueError as err:
        raise InputError(str(err)) from None
    dm = dm_cls(dcfg, task.cfg.optim, task.cfg.seed)
    return dm.make_dataset(source, "test"), dm


def _loader(task: ReasoningTask, source: SourceConfig, batch_size: int | None):
    ds, dm = eval_dataset(task, source)
    return ds, dm.eval_loader(ds, batch_size)


def _autocast(precision: str):
    import contextlib

    if precision == "bf16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def evaluate(task: ReasoningTask, source: SourceConfig, batch_size: int | None = None, precision: str = "fp32",
             progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Summary (:func:`vrkit.engine.metrics.summarize`) of ``task`` on ``source``; adds ``examples``."""
    _, loader = _loader(task, source, batch_size)
    # every caller reads the whole source in this process: summing across DDP ranks would wait for ranks that
    # are not evaluating (a callback on rank 0 hangs) or count each example once per rank
    metric = FamilyAccuracy(len(task.family_names), sync_on_compute=False)
    n = 0
    task.eval()
    for batch in loader:
        with _autocast(precision):
            out = task(batch)
        metric.update(*frame_correct(out, batch), batch["family"])
        n += batch["answer"].shape[0]
        if progress:
            progress(batch["answer"].shape[0])
    res = summarize(metric.compute(), task.family_names, task.groups)
    res["examples"] = n
    return res


@torch.no_grad()
def answer_baselines(task: ReasoningTask, source: SourceConfig, batch_size: int | None = None) -> dict[str, Any]:
    """What answering without looking scores on ``source``, per family with word answers: ``prior`` (always the
    family's most frequent answer on these examples) and ``chance`` (uniform over the answers the family gives).
    ``acc_prior`` / ``acc_chance``: their means over families, comparable to a summary's ``acc``."""
    _, loader = _loader(task, source, batch_size)
    counts: dict[int, dict[int, int]] = {}
    for batch in loader:
        ans, fam = batch["answer"], batch["family"]
        for b in range(ans.shape[0]):
            per = counts.setdefault(int(fam[b]), {})
            for a in ans[b][ans[b] >= 0].tolist():
                per[a] = per.get(a, 0) + 1
    fams = {task.family_names[f]: {"prior": max(c.values()) / sum(c.values()), "chance": 1.0 / len(c),
                                   "answers": len(c)} for f, c in sorted(counts.items()) if c}
    mean = (lambda key: sum(v[key] for v in fams.values()) / len(fams)) if fams else (lambda key: float("nan"))
    return {"families": fams, "acc_prior": mean("prior"), "acc_chance": mean("chance")}


def format_table(summary: dict[str, Any], groups: dict[str, Sequence[str]] | None = None) -> str:
    """Per-family table (grouped when ``groups`` is given), then groups and the overall line."""
    fams = summary["families"]
    lines = [f"{'family':<28} {'frames':>7} {'acc %':>7}"]
    order = [f for g in (groups or {}).values() for f in g if f in fams] or list(fams)
    order += [f for f in fams if f not in order]
    for f in order:
        lines.append(f"{f:<28} {fams[f]['frames']:>7d} {100 * fams[f]['acc']:>7.2f}")
    if summary.get("groups"):
        lines.append("")
        for g, v in summary["groups"].items():
            lines.append(f"{'[' + g + ']':<28} {v['frames']:>7d} {100 * v['acc']:>7.2f}")
    lines.append("")
    lines.append(f"{'overall (mean of families)':<28} {summary['frames']:>7d} {100 * summary['acc']:>7.2f}")
    lines.append(f"{'overall (pooled frames)':<28} {summary['frames']:>7d} {100 * summary['frames_acc']:>7.2f}")
    return "\n".join(lines)


def write_eval(summary: dict[str, Any], out_prefix: str | Path) -> tuple[Path, Path]:
    """``<prefix>.json`` (the whole summary) and ``<prefix>.csv`` (kind, name, frames, acc), atomically."""
    prefix = Path(out_prefix)
    js, cs = prefix.with_name(prefix.name + ".json"), prefix.with_name(prefix.name + ".csv")
    atomic_write_text(js, json.dumps(summary, indent=1, sort_keys=True))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["kind", "name", "frames", "acc"])
    for f, v in summary["families"].items():
        w.writerow(["family", f, v["frames"], f"{v['acc']:.6f}"])
    for g, v in summary["groups"].items():
        w.writerow(["group", g, v["frames"], f"{v['acc']:.6f}"])
    w.writerow(["overall", "mean_of_families", summary["frames"], f"{summary['acc']:.6f}"])
    w.writerow(["overall", "pooled_frames", summary["frames"], f"{summary['frames_acc']:.6f}"])
    atomic_write_text(cs, buf.getvalue())
    return js, cs


@torch.no_grad()
def predict(task: ReasoningTask, source: SourceConfig, out: str | Path, batch_size: int | None = None,
            logits: bool = False) -> int:
    """Write one JSON line per example: index, family, per-frame prediction (word or [x, y]), target, correct;
    with ``logits`` also each frame's ``logits``, a ``{answer word: logit}`` map. Returns the number of
    examples."""
    from vrkit.data.targets import grid_readout

    vocab = datamodule_class(task.cfg.data.world).ANSWER_VOCAB
    _, loader = _loader(task, source, batch_size)
    n = 0
    with atomic_open(Path(out), "w") as fh:
        for batch in loader:
            o = task(batch)
            correct, valid = frame_correct(o, batch)
            words = o["logits"].argmax(-1)  # (B, T)
            pts = grid_readout(o["point_logits"].float()) if o.get("point_logits") is not None else None
            for b in range(words.shape[0]):
                frames = []
                for t in range(words.shape[1]):
                    is_point = bool(batch["point_mask"][b, t]) and int(batch["answer"][b, t]) == -100
                    a = int(batch["answer"][b, t])
                    frames.append({
                        "pred": ([round(float(x), 4) for x in pts[b, t]] if is_point and pts is not None
                                 else vocab[int(words[b, t])]),
                        "target": ([round(float(x), 4) for x in batch["point"][b, t]] if is_point
                                   else (vocab[a] if a >= 0 else "invalid")),
                        "correct": bool(correct[b, t]) if bool(valid[b, t]) else None,
                    })
                    if logits:
                        frames[-1]["logits"] = dict(zip(vocab, o["logits"][b, t].float().tolist(), strict=False))
                fam = task.family_names[int(batch["family"][b])]
                fh.write(json.dumps({"index": n, "family": fam, "frames": frames}) + "\n")
                n += 1
    return n
