"""The COG stage group of ``vrkit transfer pretrain``: does IV-CL generalise best to held-out colour × shape
pairs? (issue 17's goal "IV-CL has the smallest A−B gap on the COG combination split"; docs/ivcl.md, 'COG with
the combination split'). Stages per seed, after the CATER ones, in ``<out>/ivcl/seed<s>/``:

1. ``cog_pretrain__<name>`` — the four pretrainings of :data:`vrkit.transfer.pretrain.PRETRAININGS` (IV-CL,
   image-only, supervised attributes, supervised object sets) on COG videos of condition A: canonical COG
   examples of every family whose objects all use A's colour × shape pairs (:mod:`vrkit.worlds.cog.combos`),
   rendered at the IV-CL image size (:class:`vrkit.data.cog_video.CogVideoSource`).
2. ``cog_finetune__<init>`` — COG question answering on the 23 classification families, condition A, fine-tuned
   with the same examples, epochs, batch and learning rate from each of :data:`COG_INITS` (the four encoders
   and scratch) with a question-conditioned head (:class:`vrkit.models.ivcl_qa.QuestionClipClassifier`); its
   logits on the A and B test sets are kept.
3. ``cog_test__cog_finetune__<init>__A`` / ``__B`` — accuracy (mean over families, :mod:`vrkit.engine.metrics`)
   on fresh condition-A examples and on condition-B examples, whose every object is a held-out pair; recipe
   ``pretrain_cog``. The test sets are the same for every seed.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from vrkit.transfer.pretrain_fit import INITS
from vrkit.transfer.pretrain_sizes import PRETRAININGS, SIZES, PretrainSizes, pretrain_tree, sizes_settings
from vrkit.transfer.stages import Stage

if TYPE_CHECKING:
    from vrkit.transfer.pretrain import PretrainSpec

COG_RECIPE = "pretrain_cog"
VARIANT = "canonical"  # 4 frames; the pretraining videos and the question-answering examples
TRAIN_SPLIT = "A"
CONDITIONS = {"A": "A: pairs seen in training", "B": "B: held-out pairs"}
COG_INITS = ("ivcl", "image_only", "attributes", "sets", "scratch")  # labels: pretrain_fit.INITS
COG_TEST_SEED, COG_FT_SEED = 900_101, 910_100
LABEL_KEYS = ("answer", "point", "point_mask", "family")  # what scoring reads of a test set (kept beside logits)

# The CATER sizes of each scale (vrkit.transfer.pretrain_sizes.SIZES) with COG's differences. pre_*: each pretraining on
# condition-A videos (fresh every epoch); ft_*: question answering on a fixed set of ft_n condition-A examples;
# test_n: examples per test condition (cpu: 50 per family).
COG_SIZES: dict[str, PretrainSizes] = {
    scale: replace(SIZES[scale], frames=4, pool_epochs=0, **changes) for scale, changes in (  # no pool: fresh videos
        ("tiny", {}),
        ("cpu", {"pre_n": 2048, "pre_minutes": 15.0, "batch": 32, "ft_n": 5000, "ft_epochs": 5, "test_n": 1150}),
        ("paper", {}))}


def cog_sizes(spec: PretrainSpec) -> PretrainSizes:
    """The COG group's sizes at ``spec.scale``; ``spec.minutes`` replaces the pretraining cap as for CATER."""
    spec.sizes()  # InputError for an unknown scale
    s = COG_SIZES[spec.scale]
    return s if spec.minutes is None else replace(s, pre_minutes=spec.minutes if spec.minutes > 0 else None)


def cog_settings(spec: PretrainSpec) -> dict[str, Any]:
    """What a results directory's COG stages were made with (``vrkit.transfer.recipes.guard_settings``)."""
    return {"scale": spec.scale, "variant": VARIANT, "train_split": TRAIN_SPLIT, **sizes_settings(cog_sizes(spec))}


def cog_source() -> Any:
    """The pretraining videos: COG examples of every family under condition A."""
    from vrkit.data.cog_video import CogVideoSource

    return CogVideoSource(f"{VARIANT}-{TRAIN_SPLIT}")


def cog_examples(split: str, n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` official example dicts of condition ``split``, the 23 classification families in turn
    (:class:`vrkit.data.cog.CogStreamDataset`, epoch 0 of stream ``seed``)."""
    from vrkit.data.cog import CogStreamDataset
    from vrkit.worlds.cog.constants import CLASSIFICATION_FAMILIES

    ds = CogStreamDataset(f"{VARIANT}-{split}", CLASSIFICATION_FAMILIES, seed, path="pixels", length=n)
    return [ds.example(k) for k in range(n)]


_SETS: dict[tuple, dict[str, Tensor]] = {}


def cog_set(split: str, n: int, seed: int, image_size: int, cache_dir: Path | None = None) -> dict[str, Tensor]:
    """:func:`cog_examples` collated (``vrkit.data.collate``; uint8 frames at ``image_size``), kept for the
    process and, with ``cache_dir``, cached on disk there (:mod:`vrkit.data.set_cache`)."""
    from vrkit.data.cog import encode_example
    from vrkit.data.collate import collate_cog
    from vrkit.data.set_cache import cached_set, set_key
    from vrkit.worlds.cog.constants import CLASSIFICATION_FAMILIES

    mem = (split, n, seed, image_size, None if cache_dir is None else str(cache_dir))
    if mem not in _SETS:
        if len(_SETS) > 4:
            _SETS.clear()
        key = set_key(variant=f"{VARIANT}-{split}", families=list(CLASSIFICATION_FAMILIES), n=n, stream_seed=seed,
                      image_size=image_size, path="pixels", pixel_norm="uint8")
        _SETS[mem] = cached_set(cache_dir, f"cog-{split}-n{n}-s{seed}", key, lambda: collate_cog(
            [encode_example(ex, "pixels", image_size, pixel_norm="uint8") for ex in cog_examples(split, n, seed)]))
    return _SETS[mem]


def qa_logits(net: torch.nn.Module, batch: dict[str, Tensor]) -> Tensor:
    """Answer logits [B, T, 55] of a COG batch."""
    from vrkit.data.cater import frames_float

    return net(frames_float(batch["frames"]), batch["question"], batch["question_len"])


def qa_loss(net: torch.nn.Module, batch: dict[str, Tensor]) -> Tensor:
    """COG's answer loss (:func:`vrkit.engine.metrics.frame_losses`; invalid frames masked)."""
    from vrkit.engine.metrics import frame_losses

    return frame_losses({"logits": qa_logits(net, batch)}, batch)["loss"]


def cog_accuracy(logits: Tensor, data: dict[str, Tensor]) -> dict[str, Any]:
    """Accuracy as everywhere in vrkit (mean over families of per-family frame accuracy), the pooled frame
    accuracy, per-family accuracies and the example count."""
    from vrkit.engine.metrics import FamilyAccuracy, frame_correct, summarize
    from vrkit.worlds.cog.constants import FAMILIES

    correct, valid = frame_correct({"logits": logits}, data)
    counts = FamilyAccuracy(len(FAMILIES))
    counts.update(correct, valid, data["family"])
    res = summarize(counts.compute(), FAMILIES)
    return {"acc": res["acc"], "frames_acc": res["frames_acc"], "frames": res["frames"],
            "families": {k: round(v["acc"], 4) for k, v in res["families"].items()}, "examples": len(logits)}


def build_qa_net(init: str, encoder: Any, model_cfg: Any, seed: int) -> torch.nn.Module:
    """The question-answering network of ``init``: ``encoder`` (a pretrained IVCL) or a random one of
    ``model_cfg``; weights not loaded are drawn from ``seed``."""
    from vrkit.models.ivcl import IVCL
    from vrkit.models.ivcl_qa import QuestionClipClassifier
    from vrkit.transfer.pretrain_fit import seeded
    from vrkit.worlds.cog.constants import INPUT_VOCAB, OUTPUT_VOCAB

    torch.manual_seed(seeded("cog-init", init, seed))
    backbone = encoder if encoder is not None else IVCL(model_cfg)
    return QuestionClipClassifier(backbone, len(INPUT_VOCAB), len(OUTPUT_VOCAB), model_cfg.temporal_depth,
                                  model_cfg.temporal_depth)


def cog_stages(spec: PretrainSpec, seed: int) -> list[Stage]:
    """The COG group's stages for ``seed`` (module docstring)."""
    s, sets = cog_sizes(spec), spec.sets_dir()
    meta = {"model": "ivcl", "seed": seed, "scale": spec.scale, "batch": s.batch, "items": "COG examples"}

    def pretrain_stage(name: str) -> Stage:
        def fn(sdir: Path, done: dict) -> dict:
            from vrkit.engine.pretrain import from_tree
            from vrkit.engine.pretrain_run import pretrain

            cfg = from_tree(pretrain_tree(s, name, seed), f"<{spec.scale} scale, COG>")
            res = pretrain(cfg, sdir / "run", source=cog_source())
            return {**res, "run_dir": "run", "encoder": f"{sdir.name}/run/encoder.pt"}

        return Stage(f"cog_pretrain__{name}", "train", fn,
                     {**meta, "items": f"COG {VARIANT}-{TRAIN_SPLIT} videos", "objective": PRETRAININGS[name][0],
                      "videos": s.pre_n, "epochs": s.pre_epochs}, needs=())

    def finetune_stage(init: str) -> Stage:
        def fn(sdir: Path, done: dict) -> dict:
            from vrkit.engine.pretrain import from_tree, model_config
            from vrkit.engine.pretrain_run import load_encoder
            from vrkit.transfer.pretrain_fit import fit, predict, save_logits

            model_cfg = model_config(from_tree(pretrain_tree(s, "image_only", seed), "<scale>"))
            start = INITS[init][1]
            enc = None if start is None else load_encoder(sdir.parent / done[f"cog_pretrain__{start}"]["encoder"])[0]
            net = build_qa_net(init, enc, model_cfg, seed)
            data = cog_set(TRAIN_SPLIT, s.ft_n, COG_FT_SEED + seed, s.image_size, sets)
            res = fit(net, data, s.ft_epochs, s.batch, s.ft_lr, seed, s.ft_minutes, loss_fn=qa_loss)
            logits = {}
            for split in CONDITIONS:
                test = cog_set(split, s.test_n, COG_TEST_SEED, s.image_size, sets)
                save_logits(sdir / f"test_logits_{split}.pt", predict(net, test, s.batch, qa_logits))
                save_logits(sdir / f"test_labels_{split}.pt", {k: test[k] for k in LABEL_KEYS})
                logits[split] = f"{sdir.name}/test_logits_{split}.pt"
            return {**res, "logits": logits}

        start = INITS[init][1]
        return Stage(f"cog_finetune__{init}", "finetune", fn,
                     {**meta, "init": init, "label": INITS[init][0], "videos": s.ft_n, "epochs": s.ft_epochs},
                     needs=() if start is None else (f"cog_pretrain__{start}",))

    def test_stage(source: str, label: str, split: str) -> Stage:
        def fn(sdir: Path, done: dict) -> dict:
            logits = torch.load(sdir.parent / done[source]["logits"][split], map_location="cpu")
            labels = sdir.parent / source / f"test_labels_{split}.pt"  # a --jobs child need not regenerate
            data = torch.load(labels) if labels.is_file() else cog_set(split, s.test_n, COG_TEST_SEED, s.image_size,
                                                                       sets)
            return cog_accuracy(logits, data)

        return Stage(f"cog_test__{source}__{split}", "test", fn,
                     {**meta, "recipe": COG_RECIPE, "condition": label, "task": CONDITIONS[split],
                      "source": source, "test_n": s.test_n}, needs=(source,))

    stages = [pretrain_stage(name) for name in PRETRAININGS]
    for init in COG_INITS:
        ft = finetune_stage(init)
        stages += [ft, *(test_stage(ft.name, ft.meta["label"], split) for split in CONDITIONS)]
    return stages


def cog_plan_line(spec: PretrainSpec) -> str:
    """The COG group's budget line of ``vrkit transfer pretrain --dry-run``."""
    s = cog_sizes(spec)
    cap = lambda m: "no cap" if m is None else f"{m:g} min"  # noqa: E731
    return (f"COG: {VARIANT} examples ({s.frames} frames) at {s.image_size} px, pretraining on condition "
            f"{TRAIN_SPLIT} videos ({cap(s.pre_minutes)} each), question answering fine-tuned on {s.ft_n} "
            f"condition-{TRAIN_SPLIT} examples ({cap(s.ft_minutes)} each), tested on {s.test_n} A and {s.test_n} B "
            "(its fixed sets cached beside the CATER ones)")
