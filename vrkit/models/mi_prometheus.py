"""Reference SAMNet weights (IBM mi-prometheus, tag ``SAM-Net_v13``, model ``VWM``) → vrkit's SAMNet.

:func:`map_reference_state` turns the reference's ``state_dict`` (its own key names) into a state dict of
vrkit's pixel SAMNet in the reference configuration (``SAMNetConfig()`` defaults, COG sizes), which then computes
the same function as the reference on frames in [0, 1] (docs/samnet-reference.md). What the mapping does beyond
renaming:

* the controller's merge layer reads [previous control, step question] in the reference and
  [step question, previous control] in vrkit: its two column blocks are swapped;
* the per-step question projections (one ``Linear`` each) are stacked into one [K, d, 2h] parameter;
* word-embedding rows and answer-classifier rows are permuted from the reference vocabularies
  (:data:`REFERENCE_INPUT_VOCAB`, :data:`REFERENCE_OUTPUT_VOCAB`) to vrkit's (identical for COG today, but
  mapped by word so that neither side's order is assumed);
* the reference feeds frames in 0–255, vrkit in [0, 1]: the first convolution's weights are multiplied by 255
  (exact: the convolution is linear and its bias is not scaled);
* the initial control state and summary are stored [1, d] in the reference, [d] in vrkit.

vrkit's pointing head has no reference counterpart (the reference returns zero pointing logits); it keeps the
values of the model it is loaded into.

The same repository's MAC (``miprometheus/models/mac/``, ``MACNetwork``) maps with
:func:`map_reference_mac_state` into vrkit's ``mac`` on the ``features`` path (docs/mac-reference.md);
:func:`reference_model` tells the two apart by their key names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from vrkit.worlds.cog.constants import INPUT_VOCAB, OUTPUT_VOCAB

REFERENCE_TAG = "IBM/mi-prometheus SAM-Net_v13 (models/vwm_model, configs/cog/cog_vwm.yaml)"

# The vocabularies of the reference's COG problem (index = position; 0, "invalid", doubles as padding), written
# out rather than built from vrkit's constants, so that a change of vrkit's order is mapped, not mirrored.
_REF_COLORS = ("red", "green", "blue", "yellow", "purple", "orange", "cyan", "magenta", "lime", "pink", "teal",
               "lavender", "brown", "beige", "maroon", "mint", "olive", "coral", "navy", "grey", "white")
_REF_SHAPES = ("circle", "square", "cross", "triangle", "vbar", "hbar",
               *(chr(c) for c in range(ord("a"), ord("z") + 1)))
REFERENCE_INPUT_VOCAB: tuple[str, ...] = (
    "invalid", ".", ",", "?", "object", "color", "shape", "loc", "on", "if", "then", "else", "exist", "equal", "and",
    "the", "of", "with", "point", "left", "right", "top", "bottom", *_REF_COLORS, *_REF_SHAPES, "now", "latest",
    "last1")
REFERENCE_OUTPUT_VOCAB: tuple[str, ...] = ("true", "false", *_REF_COLORS, *_REF_SHAPES)

_D = "question_driven_controller."
_V = "vwm_cell.visual_retrieval_unit."
_M = "vwm_cell.memory_retrieval_unit."
# reference name prefix → vrkit name prefix (suffixes .weight/.bias/... are kept)
_RENAMES: tuple[tuple[str, str], ...] = (
    ("question_encoder.lstm.", "question_encoder.lstm."),
    ("question_encoder.lstm_proj.", "question_encoder.word_proj."),
    (_D + "attention_module.attn.0.", "controller.word_attention.score."),
    (_D + "temporal_classifier.0.", "controller.temporal.0."),
    (_D + "temporal_classifier.2.", "controller.temporal.2."),
    ("image_encoder.cnn_module.", "image_encoder.cnn.net."),
    ("feature_maps_proj_layer.", "image_encoder.feature_proj."),
    (_V + "interaction_module.base_object_proj_layer.", "reasoning_cell.visual_interaction.object_proj."),
    (_V + "interaction_module.modifier.", "reasoning_cell.visual_interaction.combine."),
    (_V + "attention_module.attn.0.", "reasoning_cell.visual_attention.score."),
    (_M + "interaction_module.base_object_proj_layer.", "reasoning_cell.memory_interaction.object_proj."),
    (_M + "interaction_module.feature_objects_proj_layer.", "reasoning_cell.memory_interaction.item_proj."),
    (_M + "interaction_module.modifier.", "reasoning_cell.memory_interaction.combine."),
    (_M + "attention_module.attn.0.", "reasoning_cell.memory_attention.score."),
    ("vwm_cell.reasoning_unit.reasoning_module.", "reasoning_cell.gates."),
    ("vwm_cell.summary_unit.concat_layer.", "reasoning_cell.summary_update."),
    ("output_unit_answer.classifier.", "output_unit."),
)
# handled one by one below
_SPECIAL = ("mem_0", "control_0", "question_encoder.Embedding.weight", _D + "ctrl_question.weight",
            _D + "ctrl_question.bias")


class ConversionError(ValueError):
    """The reference state dict does not fit (missing, unexpected or wrong-shaped tensors)."""


def _permutation(src: Sequence[str], dst: Sequence[str], what: str) -> list[int]:
    """For each word of ``dst`` its index in ``src``."""
    index = {w: i for i, w in enumerate(src)}
    missing = [w for w in dst if w not in index]
    if missing:
        raise ConversionError(f"{what}: vrkit word(s) {', '.join(missing[:5])} not in the reference vocabulary")
    return [index[w] for w in dst]


def _tensors(ref: Mapping[str, Any]) -> dict[str, Tensor]:
    return {k: torch.as_tensor(np.asarray(v)) if not isinstance(v, Tensor) else v for k, v in ref.items()}


def _renamed(ref: Mapping[str, Tensor], renames: Sequence[tuple[str, str]],
             mapped_apart: Callable[[str], bool]) -> dict[str, Tensor]:
    """The reference tensors under vrkit names, by prefix (``renames``: reference prefix → vrkit prefix), all but
    those ``mapped_apart`` (the caller maps them); a tensor matching no prefix is a :class:`ConversionError`."""
    out: dict[str, Tensor] = {}
    unexpected = []
    for key, value in ref.items():
        if mapped_apart(key):
            continue
        for src, dst in renames:
            if key.startswith(src):
                out[dst + key[len(src):]] = value
                break
        else:
            unexpected.append(key)
    if unexpected:
        raise ConversionError(f"unexpected tensor(s) in the reference state dict: {', '.join(unexpected[:5])}")
    return out


def vocabulary_mapping(ref_input: Sequence[str] = REFERENCE_INPUT_VOCAB,
                       ref_output: Sequence[str] = REFERENCE_OUTPUT_VOCAB) -> dict[str, Any]:
    """Reference id of every vrkit input token and answer class (recorded in a converted checkpoint)."""
    return {"input": _permutation(ref_input, INPUT_VOCAB, "input vocabulary"),
            "output": _permutation(ref_output, OUTPUT_VOCAB, "answer vocabulary"),
            "reference_input_vocab": list(ref_input), "reference_output_vocab": list(ref_output)}


def map_reference_state(ref: Mapping[str, Any], target: Mapping[str, Tensor], steps: int = 8,
                        input_scale: float = 255.0,
                        vocab: Mapping[str, Sequence[int]] | None = None) -> dict[str, Tensor]:
    """vrkit state dict for ``target`` (a vrkit SAMNet's ``state_dict()``) holding the reference weights ``ref``.

    Tensors of ``target`` that the reference lacks (the pointing head) are taken from ``target``. Raises
    :class:`ConversionError` naming the first missing, unexpected or wrong-shaped tensors."""
    ref = _tensors(ref)
    vocab = vocab or vocabulary_mapping()
    out = _renamed(ref, _RENAMES, lambda key: key in _SPECIAL or key.startswith(_D + "pos_aware_layers."))
    need = [k for k in (*_SPECIAL, *(f"{_D}pos_aware_layers.{k}.{p}" for k in range(steps)
                                     for p in ("weight", "bias"))) if k not in ref]
    if need:
        raise ConversionError(f"missing tensor(s) in the reference state dict: {', '.join(need[:5])}")
    out["reasoning_cell.init_summary"] = ref["mem_0"].reshape(-1)
    out["controller.init_control"] = ref["control_0"].reshape(-1)
    out["controller.step_weight"] = torch.stack([ref[f"{_D}pos_aware_layers.{k}.weight"] for k in range(steps)])
    out["controller.step_bias"] = torch.stack([ref[f"{_D}pos_aware_layers.{k}.bias"] for k in range(steps)])
    w = ref[_D + "ctrl_question.weight"]  # [d, 2d] over [control, step question]
    d = w.shape[0]
    out["controller.merge.weight"] = torch.cat([w[:, d:], w[:, :d]], dim=1) if w.dim() == 2 else w
    out["controller.merge.bias"] = ref[_D + "ctrl_question.bias"]
    emb = ref["question_encoder.Embedding.weight"]
    out["question_encoder.embedding.weight"] = _rows(emb, vocab["input"], "question_encoder.Embedding.weight")
    for p in ("weight", "bias"):
        key = f"output_unit.2.{p}"
        if key in out:
            out[key] = _rows(out[key], vocab["output"], f"output_unit_answer.classifier.2.{p}")
    conv = "image_encoder.cnn.net.0.weight"
    if conv in out:
        out[conv] = out[conv] * input_scale
    return _check_against(out, target)


def _rows(t: Tensor, order: Sequence[int], name: str) -> Tensor:
    if t.dim() == 0 or t.shape[0] <= max(order):
        raise ConversionError(f"{name} has {t.shape[0] if t.dim() else 0} rows; the reference vocabulary needs "
                              f"{max(order) + 1}")
    return t[list(order)]


def _check_against(out: dict[str, Tensor], target: Mapping[str, Tensor], keep: tuple[str, ...] = ("pointing_head.",),
                   model: str = "SAMNet") -> dict[str, Tensor]:
    extra = sorted(set(out) - set(target))
    if extra:
        raise ConversionError(f"reference tensor(s) with no place in this vrkit {model}: {', '.join(extra[:5])}")
    bad = [f"{k} {tuple(out[k].shape)} (vrkit {tuple(target[k].shape)})" for k in out
           if tuple(out[k].shape) != tuple(target[k].shape)]
    if bad:
        raise ConversionError(f"wrong shape: {'; '.join(bad[:3])}")
    missing = [k for k in target if k not in out and not k.startswith(keep)]
    if missing:
        raise ConversionError(f"missing tensor(s) in the reference state dict for {', '.join(missing[:5])}")
    return {k: (out[k].to(target[k].dtype) if k in out else target[k]) for k in target}


# ------------------------------------------------------------------------------------------------------- MAC
MAC_REFERENCE_TAG = "IBM/mi-prometheus SAM-Net_v13 (models/mac, configs/mac/mac_clevr.yaml)"
_MAC_RENAMES: tuple[tuple[str, str], ...] = (
    ("input_unit.conv.conv.0.", "knowledge.0."),
    ("input_unit.conv.conv.2.", "knowledge.2."),
    ("input_unit.kb_proj_layer.", "read.kb."),
    ("input_unit.lstm.", "question_encoder.lstm."),
    ("input_unit.lstm_proj.", "word_proj."),
    ("mac_unit.control.pos_aware_layers.", "control.q_step."),
    ("mac_unit.control.ctrl_question.", "control.cq."),
    ("mac_unit.control.attn.", "control.score."),
    ("mac_unit.read.mem_proj_layer.", "read.mem."),
    ("mac_unit.read.concat_layer.", "read.combine."),
    ("mac_unit.read.attn.", "read.score."),
    ("mac_unit.write.concat_layer.", "write.info."),
    ("mac_unit.write.attn.", "write.sa_score."),
    ("mac_unit.write.mi_sa_proj.", "write.sa_mem."),
    ("mac_unit.write.mi_info_proj.", "write.sa_info."),
    ("mac_unit.write.control.", "write.gate."),
    ("output_unit.classifier.2.", "head."),
)
_MAC_SPECIAL = ("mac_unit.mem_0", "mac_unit.control_0", "output_unit.classifier.0.weight",
                "output_unit.classifier.0.bias")
# vrkit tensors the reference does not hold: the word embedding (the reference's problem class embeds the
# questions) and the pointing head (COG only)
_MAC_NOT_IN_REFERENCE = ("question_encoder.embed.", "point_")


def reference_model(ref: Mapping[str, Any]) -> str:
    """``"samnet"`` or ``"mac"``: which mi-prometheus model a state dict belongs to (ConversionError if
    neither)."""
    if any(k.startswith("vwm_cell.") for k in ref):
        return "samnet"
    if any(k.startswith("mac_unit.") for k in ref):
        return "mac"
    raise ConversionError("neither a SAMNet (VWM: vwm_cell.*) nor a MAC (MACNetwork: mac_unit.*) state dict of "
                          f"mi-prometheus (first keys: {', '.join(list(ref)[:3])})")


def reference_mac_options(ref: Mapping[str, Any]) -> dict[str, Any]:
    """vrkit ``mac`` options read off a reference MAC state dict: d, steps, embedding_size, feature_channels,
    self_attention, memory_gate, num_answers (ConversionError when a tensor they come from is missing)."""
    need = ("mac_unit.mem_0", "input_unit.lstm.weight_ih_l0", "input_unit.conv.conv.0.weight",
            "output_unit.classifier.2.weight")
    missing = [k for k in need if k not in ref]
    if missing:
        raise ConversionError(f"missing tensor(s) in the reference state dict: {', '.join(missing)}")
    steps = sum(1 for k in ref if k.startswith("mac_unit.control.pos_aware_layers.") and k.endswith(".weight"))
    return {"d": int(np.shape(ref["mac_unit.mem_0"])[-1]), "steps": steps,
            "embedding_size": int(np.shape(ref["input_unit.lstm.weight_ih_l0"])[1]),
            "feature_channels": int(np.shape(ref["input_unit.conv.conv.0.weight"])[1]),
            "self_attention": "mac_unit.write.attn.weight" in ref,
            "memory_gate": "mac_unit.write.control.weight" in ref,
            "num_answers": int(np.shape(ref["output_unit.classifier.2.weight"])[0])}


def map_reference_mac_state(ref: Mapping[str, Any], target: Mapping[str, Tensor],
                            answer_order: Sequence[int] | None = None) -> dict[str, Tensor]:
    """vrkit ``mac`` state dict for ``target`` (a features-path MAC's ``state_dict()`` in the reference sizes)
    holding the reference MAC weights ``ref``.

    Beyond renaming: the initial states [1, d] become [d]; the first output layer reads [memory, question] in
    the reference and [question, memory] in vrkit, so its column blocks are swapped; ``answer_order`` (for each
    vrkit answer its reference index) permutes the classifier rows (None: kept in the reference's order).
    The word embedding and the pointing head keep ``target``'s values. Raises :class:`ConversionError` naming
    the first missing, unexpected or wrong-shaped tensors."""
    ref = _tensors(ref)
    out = _renamed(ref, _MAC_RENAMES, lambda key: key in _MAC_SPECIAL)
    need = [k for k in _MAC_SPECIAL if k not in ref]
    if need:
        raise ConversionError(f"missing tensor(s) in the reference state dict: {', '.join(need)}")
    out["write.m0"] = ref["mac_unit.mem_0"].reshape(-1)
    out["control.c0"] = ref["mac_unit.control_0"].reshape(-1)
    w = ref["output_unit.classifier.0.weight"]  # [d, 3d] over [memory (d), question (2d)]
    d = w.shape[0]
    out["out_hidden.0.weight"] = torch.cat([w[:, d:], w[:, :d]], dim=1) if w.dim() == 2 else w
    out["out_hidden.0.bias"] = ref["output_unit.classifier.0.bias"]
    if answer_order is not None:
        for p in ("weight", "bias"):
            if f"head.{p}" in out:
                out[f"head.{p}"] = _rows(out[f"head.{p}"], answer_order, f"output_unit.classifier.2.{p}")
    return _check_against(out, target, keep=_MAC_NOT_IN_REFERENCE, model="mac")
