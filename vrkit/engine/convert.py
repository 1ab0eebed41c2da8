"""Reference checkpoints → vrkit checkpoints (``vrkit convert mi-prometheus``).

:func:`convert_mi_prometheus` reads a checkpoint of IBM mi-prometheus: a torch file holding its ``state_dict``,
mi-prometheus's checkpoint dict around it (``{"name", "state_dict", "episode", ...}``), or an ``.npz`` of the
same arrays. From the key names it tells SAMNet (model ``VWM``) from MAC (``MACNetwork``):

* SAMNet: :func:`vrkit.models.mi_prometheus.map_reference_state` maps the weights into a pixel SAMNet in the
  reference configuration (COG canonical, 112 px);
* MAC: :func:`vrkit.models.mi_prometheus.map_reference_mac_state` maps them into a ``mac`` on the CLEVR
  ``features`` path, its sizes read off the tensors (docs/mac-reference.md).

The checkpoint loads in ``vrkit eval``, ``predict``, ``explain`` and the transfer functions like any trained
run's. Its ``vrkit_origin`` records where the weights came from (reference tag, source file and sha256, and
per model the input scale and vocabulary mapping, or the answer order and the word embedding's origin);
``vrkit eval`` prints it.
"""

from __future__ import annotations

import datetime
import hashlib
import zipfile
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch

from vrkit.engine.config import DataConfig, ModelConfig, OptimConfig, TrainConfig, to_dict
from vrkit.engine.module import ReasoningTask
from vrkit.errors import InputError
from vrkit.models.mi_prometheus import (
    MAC_REFERENCE_TAG,
    REFERENCE_TAG,
    ConversionError,
    map_reference_mac_state,
    map_reference_state,
    reference_mac_options,
    reference_model,
    vocabulary_mapping,
)
from vrkit.utils.atomic import atomic_path


def reference_config(seed: int = 0) -> TrainConfig:
    """The run configuration a converted reference model carries: COG canonical on 112 px pixels, SAMNet
    with its reference defaults, the reference optimiser settings (for fine-tuning it further)."""
    return TrainConfig(model=ModelConfig(name="samnet"),
                       data=DataConfig(world="cog", variant="canonical", families="all", path="pixels",
                                       image_size=112),
                       optim=OptimConfig(lr=2e-4, weight_decay=2e-5, clip=10.0, clip_mode="value"), seed=seed)


def read_reference_state(path: str | Path) -> dict[str, Any]:
    """The reference ``state_dict`` in ``path`` (torch file or ``.npz``); InputError if it holds none."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", path)
    if zipfile.is_zipfile(path) and path.suffix == ".npz":
        try:
            with np.load(path) as z:
                return {k: z[k] for k in z.files}
        except (ValueError, OSError) as err:
            raise InputError(f"not a readable .npz ({err})", path) from None
    try:
        # Weights only (no arbitrary code): mi-prometheus checkpoints also hold datetimes and numpy statistics.
        with torch.serialization.safe_globals([datetime.datetime, *_numpy_globals()]):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch.load raises many types for a file that is no checkpoint
        why = [ln.strip() for ln in str(err).splitlines() if "Unsupported global" in ln]
        detail = f": {why[0][:160]} (only tensors, numbers and dates are loaded)" if why else ""
        raise InputError(f"not a torch checkpoint ({type(err).__name__}{detail})", path) from None
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise InputError("not a checkpoint: expected a state_dict or a dict with a 'state_dict' of tensors", path)
    return obj


def _numpy_globals() -> list[Any]:
    """numpy arrays and scalars as pickled in training statistics (data only, no code)."""
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 2
        from numpy.core import multiarray  # type: ignore[no-redef]
    dtypes = [type(np.dtype(t)) for t in ("float32", "float64", "int64", "int32", "bool")]
    return [np.dtype, np.ndarray, multiarray._reconstruct, multiarray.scalar, *dtypes]


def convert_mi_prometheus(ref_path: str | Path, out: str | Path, input_scale: float = 255.0,
                          seed: int = 0, answers: str | Path | None = None) -> dict[str, Any]:
    """Convert the reference checkpoint ``ref_path`` (SAMNet or MAC) to a vrkit checkpoint ``out`` (written
    atomically).

    ``input_scale`` (SAMNet): the pixel scale the reference was trained on (255: its COG class feeds 0–255
    frames; 1 for weights used on [0, 1] frames). ``answers`` (MAC): a JSON file with the reference's answer
    order (:func:`read_answer_order`). Returns the origin record stored in the checkpoint."""
    ref = read_reference_state(ref_path)
    try:
        kind = reference_model(ref)
    except ConversionError as err:
        raise InputError(str(err), ref_path) from None
    if kind == "mac":
        return _convert_mac(ref, ref_path, out, seed, answers)
    if answers is not None:
        raise InputError("--answers applies to a MAC checkpoint; this is a SAMNet (VWM) one", ref_path)
    cfg = reference_config(seed)
    L.seed_everything(seed, workers=False, verbose=False)  # the pointing head (no reference counterpart)
    task = ReasoningTask(to_dict(cfg))
    vocab = vocabulary_mapping()
    try:
        state = map_reference_state(ref, task.model.state_dict(), steps=task.model.cfg.steps,
                                    input_scale=input_scale, vocab=vocab)
    except ConversionError as err:
        raise InputError(str(err), ref_path) from None
    task.model.load_state_dict(state)
    origin = {"reference": REFERENCE_TAG, "source": str(Path(ref_path).resolve()),
              "sha256": hashlib.sha256(Path(ref_path).read_bytes()).hexdigest(), "input_scale": input_scale,
              "vocabulary": vocab, "pointing_head": "not in the reference; vrkit's initialisation (seed "
              f"{seed})"}
    ckpt = {"state_dict": task.state_dict(), "hyper_parameters": dict(task.hparams),
            "pytorch-lightning_version": L.__version__, "epoch": 0, "global_step": 0, "vrkit_origin": origin}
    with atomic_path(out) as tmp:
        torch.save(ckpt, tmp)
    return origin


# ------------------------------------------------------------------------------------------------------- MAC
def mac_reference_config(options: dict[str, Any], seed: int = 0) -> TrainConfig:
    """The run configuration of a converted reference MAC: CLEVR on precomputed feature maps (``features``
    path; the sources name no files: give them to ``vrkit eval`` / fine-tuning), ``mac`` with the reference
    sizes ``options`` (:func:`~vrkit.models.mi_prometheus.reference_mac_options`), and the reference's
    optimiser settings (configs/mac/default_clevr.yaml: Adam 1e-4, gradient values clipped to 10)."""
    from vrkit.engine.datamodules.clevr import ClevrDataModule

    opts = {k: v for k, v in options.items() if k != "num_answers"}
    opts["vocab_size"] = ClevrDataModule.io_config()["vocab_size"]
    return TrainConfig(model=ModelConfig(name="mac", options=opts),
                       data=DataConfig(world="clevr", variant="unrestricted", families="all", path="features"),
                       optim=OptimConfig(lr=1e-4, weight_decay=0.0, clip=10.0, clip_mode="value"), seed=seed)


def read_answer_order(path: str | Path) -> list[int]:
    """For each vrkit CLEVR answer its index in the reference's classifier, from a JSON file holding the
    reference's answers either as a list in index order or as its ``{answer: index}`` dict (mi-prometheus
    keeps it as ``answer_dic`` in ``generated_files/CLEVR_dics.pkl``). InputError when an answer is missing."""
    from vrkit.utils.files import read_json
    from vrkit.worlds.clevr.constants import ANSWERS

    path = Path(path)
    obj = read_json(path, "answer list")
    if isinstance(obj, dict) and isinstance(obj.get("answer_dic"), dict):
        obj = obj["answer_dic"]
    if isinstance(obj, list) and all(isinstance(a, str) for a in obj):
        index = {a: i for i, a in enumerate(obj)}
    elif isinstance(obj, dict) and all(isinstance(v, int) for v in obj.values()):
        index = {str(k): int(v) for k, v in obj.items()}
    else:
        raise InputError("expected a list of answers in index order or an {answer: index} object", path)
    missing = [a for a in ANSWERS if a not in index]
    if missing:
        raise InputError(f"answer(s) {', '.join(missing[:5])} not in the reference's answers", path)
    return [index[a] for a in ANSWERS]


def _convert_mac(ref: dict[str, Any], ref_path: str | Path, out: str | Path, seed: int,
                 answers: str | Path | None) -> dict[str, Any]:
    try:
        options = reference_mac_options(ref)
    except ConversionError as err:
        raise InputError(str(err), ref_path) from None
    order = read_answer_order(answers) if answers is not None else None
    cfg = mac_reference_config(options, seed)
    L.seed_everything(seed, workers=False, verbose=False)  # the word embedding (no reference counterpart)
    task = ReasoningTask(to_dict(cfg))
    try:
        state = map_reference_mac_state(ref, task.model.state_dict(), answer_order=order)
    except ConversionError as err:
        raise InputError(str(err), ref_path) from None
    task.model.load_state_dict(state)
    origin = {"reference": MAC_REFERENCE_TAG, "model": "mac", "source": str(Path(ref_path).resolve()),
              "sha256": hashlib.sha256(Path(ref_path).read_bytes()).hexdigest(),
              "answer_order": (f"mapped by answer from {Path(answers).resolve()}" if order is not None
                               else "the reference's (not mapped; pass --answers)"),
              "word_embedding": "not in the reference (its problem class embeds the questions); vrkit's "
              f"initialisation (seed {seed})",
              "detail": "MAC on features maps; answer order " + ("mapped by answer" if order is not None
                                                                  else "the reference's, unmapped")}
    ckpt = {"state_dict": task.state_dict(), "hyper_parameters": dict(task.hparams),
            "pytorch-lightning_version": L.__version__, "epoch": 0, "global_step": 0, "vrkit_origin": origin}
    with atomic_path(out) as tmp:
        torch.save(ckpt, tmp)
    return origin


# -------------------------------------------------------------------------------------------- Relation Network
def rn_reference_config(variant: str, vocab_size: int, num_answers: int, seed: int = 0) -> TrainConfig:
    """The run configuration of a converted RelationNetworks-CLEVR model: CLEVR on 128 px pixels or on state
    descriptions (vrkit's 18 features turned into the reference's 7 inside the model), ``relation_net`` with
    the variant's options, and the reference's training settings (``train.py``: batch 640, lr doubled every 20
    epochs from 5e-6 to 5e-4, gradient norm clipped to 50, questions inverted)."""
    from vrkit.models.rn_clevr import VARIANTS

    opts = {k: v for k, v in VARIANTS[variant].items() if k not in ("path", "image_size")}
    opts.update(vocab_size=vocab_size, num_answers=num_answers)
    path = VARIANTS[variant]["path"]
    return TrainConfig(model=ModelConfig(name="relation_net", options=opts),
                       data=DataConfig(world="clevr", variant="unrestricted", families="all", path=path,
                                       image_size=128, batch_size=640),
                       optim=OptimConfig(lr=5e-4, weight_decay=1e-4, clip=50.0, clip_mode="norm",
                                         warmup_start_lr=5e-6, warmup_every=20, warmup_unit="epoch",
                                         reverse_question=True), seed=seed)


def read_word_ids(path: str | Path) -> dict[str, int]:
    """The reference's question words → embedding rows, from a JSON file holding its ``quest_to_ix`` dict
    (``{word: id}``, 0 = padding) or a list of words in row order. InputError when it is neither."""
    from vrkit.utils.files import read_json

    path = Path(path)
    obj = read_json(path, "word list")
    if isinstance(obj, list) and all(isinstance(w, str) for w in obj):
        return {w: i for i, w in enumerate(obj)}
    if isinstance(obj, dict) and obj and all(isinstance(v, int) for v in obj.values()):
        return {str(k): int(v) for k, v in obj.items()}
    raise InputError("expected the reference's {word: id} object or a list of words in row order", path)


def convert_rn_clevr(ref_path: str | Path, out: str | Path, variant: str, words: str | Path | None = None,
                     answers: str | Path | None = None, seed: int = 0) -> dict[str, Any]:
    """Convert a RelationNetworks-CLEVR ``state_dict`` (``variant`` of its ``config.json``) to a vrkit
    checkpoint ``out`` (written atomically). ``words`` / ``answers``: JSON files of the reference's
    dictionaries (:func:`read_word_ids`, :func:`read_answer_order`) to map the embedding rows to vrkit's CLEVR
    vocabulary and the classifier rows to vrkit's answer order; without them both stay in the reference's
    order (and sizes). Returns the origin record stored in the checkpoint."""
    from vrkit.engine.datamodules.clevr import template_vocab
    from vrkit.models.rn_clevr import REFERENCE_TAG as RN_TAG
    from vrkit.models.rn_clevr import VARIANTS
    from vrkit.models.rn_clevr import ConversionError as RNConversionError
    from vrkit.models.rn_clevr import map_reference_state as map_rn_state

    if variant not in VARIANTS:
        raise InputError(f"unknown --variant {variant!r} (one of {', '.join(VARIANTS)})", ref_path)
    ref = read_reference_state(ref_path)
    word_ids = read_word_ids(words) if words is not None else None
    order = read_answer_order(answers) if answers is not None else None
    emb, head = ref.get("text.wembedding.weight"), ref.get("rl.f_fc3.weight")
    if emb is None or head is None or np.ndim(emb) != 2 or np.ndim(head) != 2:
        what = "text.wembedding.weight" if emb is None or np.ndim(emb) != 2 else "rl.f_fc3.weight"
        raise InputError(f"missing tensor(s) in the reference state dict: {what} (a RelationNetworks-CLEVR "
                         "state_dict?)", ref_path)
    unmapped: list[str] = []
    if word_ids is not None:  # embedding rows in vrkit's token order
        tokens = template_vocab().tokens
        rows = []
        for t in tokens:
            row = 0 if t in ("<pad>", "<unk>") else word_ids.get(t)
            if row is None or row >= np.shape(emb)[0]:
                unmapped.append(t)
                row = 0
            rows.append(row)
        ref = {**ref, "text.wembedding.weight": torch.as_tensor(np.asarray(emb))[rows]}
    if order is not None:
        if max(order) >= np.shape(head)[0]:
            raise InputError(f"rl.f_fc3.weight has {np.shape(head)[0]} rows; the answers file needs "
                             f"{max(order) + 1}", ref_path)
        ref = {**ref, "rl.f_fc3.weight": torch.as_tensor(np.asarray(head))[order],
               "rl.f_fc3.bias": torch.as_tensor(np.asarray(ref["rl.f_fc3.bias"]))[order]}
    vocab = int(np.shape(ref["text.wembedding.weight"])[0])
    cfg = rn_reference_config(variant, vocab, int(np.shape(ref["rl.f_fc3.weight"])[0]), seed)
    task = ReasoningTask(to_dict(cfg))
    try:
        state, unused = map_rn_state(ref, task.model.state_dict())
    except RNConversionError as err:
        raise InputError(f"{err} (is --variant {variant} the reference's variant?)", ref_path) from None
    task.model.load_state_dict(state)
    origin = {"reference": RN_TAG, "model": "relation_net", "variant": variant,
              "source": str(Path(ref_path).resolve()),
              "sha256": hashlib.sha256(Path(ref_path).read_bytes()).hexdigest(),
              "vocabulary": (f"mapped by word from {Path(words).resolve()}" if word_ids is not None
                             else "the reference's token ids (not mapped; pass --words)"),
              "unmapped_words": unmapped,
              "answer_order": (f"mapped by answer from {Path(answers).resolve()}" if order is not None
                               else "the reference's (not mapped; pass --answers)"),
              "unused_reference_tensors": len(unused),
              "detail": f"RelationNetworks-CLEVR {variant}"
              + (f"; its unused CNN ({len(unused)} tensors) dropped" if unused else "")}
    ckpt = {"state_dict": task.state_dict(), "hyper_parameters": dict(task.hparams),
            "pytorch-lightning_version": L.__version__, "epoch": 0, "global_step": 0, "vrkit_origin": origin}
    with atomic_path(out) as tmp:
        torch.save(ckpt, tmp)
    return origin
