"""Reference Relation Network weights (mesnico/RelationNetworks-CLEVR) → vrkit's ``relation_net``.

The reference (``model.py``, hyper-parameters in ``config.json``) has three CLEVR variants, reproduced here
as model options (:data:`VARIANTS`, on top of the CLEVR IO presets; the counts below are with the reference's
question vocabulary of 96 rows, which the converter reads off its embedding — vrkit's CLEVR data has 84 tokens):

* ``original-fp`` — pixels, question injected at g-layer 0 (Santoro et al.), 484,996 parameters;
* ``ir-fp`` — pixels, question injected at g-layer 2 (Messina et al.'s 2S-RN for relational retrieval),
  484,996 parameters;
* ``original-sd`` — state descriptions of 7 features, g 4 × 512, f 512 then 1024, LSTM 256, dropout 0.05.
  The reference builds an image CNN it never uses for this variant (16,488 parameters); vrkit does not, so
  its count is 2,059,908 − 16,488 = 2,043,420.

:func:`map_reference_state` renames the reference's ``state_dict`` to vrkit's keys. Nothing else is needed:
both sides concatenate a pair as [object, object, question] in the same order, and the g sum runs over all
ordered pairs, so which object of a pair comes first does not change any output.

:func:`reference_objects` turns vrkit's 18-feature CLEVR state description into the reference's 7
(``clevr_dataset_connector.py``: the object's keys in sorted order — 3D coordinates, colour, material,
shape, size — with each attribute as its 1-based index in the reference's class lists of ``utils.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

from vrkit.data.clevr import COORD_FEATURE, ONE_HOT_OFFSET, STATE_FEATURES
from vrkit.worlds.clevr.constants import ATTRIBUTES, PLACEMENT_RANGE

REFERENCE_TAG = "mesnico/RelationNetworks-CLEVR b8e0e7a (model.py, config.json)"

#: model options of each reference variant (``config.json``), on top of the ``clevr_pixels`` /
#: ``clevr_state`` IO presets (vrkit.models.presets). The reference defaults of ``relation_net`` (linspace
#: coordinates, full padding, whole-row inversion, no temporal LSTM, unmasked state slots) apply.
VARIANTS: dict[str, dict[str, Any]] = {
    "original-fp": {"path": "pixels", "image_size": 128, "embedding_size": 32, "question_units": 128,
                    "g_layers": 4, "g_width": 256, "f_width": 256, "f_dropout": 0.5, "q_inject_layer": 0},
    "ir-fp": {"path": "pixels", "image_size": 128, "embedding_size": 32, "question_units": 128,
              "g_layers": 4, "g_width": 256, "f_width": 256, "f_dropout": 0.5, "q_inject_layer": 2},
    "original-sd": {"path": "state", "embedding_size": 32, "question_units": 256, "g_layers": 4,
                    "g_width": 512, "f_width": [512, 1024], "f_dropout": 0.05, "q_inject_layer": 0,
                    "state_features": "reference", "object_mask": "none", "state_slots": 12},
}
#: parameter counts of the reference's variants (``original-sd`` includes its unused 16,488-parameter CNN)
REFERENCE_PARAMS: dict[str, int] = {"original-fp": 484_996, "ir-fp": 484_996, "original-sd": 2_059_908}
UNUSED_CNN_PARAMS = 16_488

# The reference's attribute classes (utils.py ``classes``), written out: index + 1 is the feature value.
REFERENCE_CLASSES: dict[str, tuple[str, ...]] = {
    "color": ("cyan", "blue", "yellow", "purple", "red", "green", "gray", "brown"),
    "material": ("rubber", "metal"),
    "shape": ("sphere", "cube", "cylinder"),
    "size": ("large", "small"),
}
_SORTED_ATTRIBUTES = ("color", "material", "shape", "size")  # after 3d_coords in sorted key order


class ConversionError(ValueError):
    """The reference state dict does not fit (missing, unexpected or wrong-shaped tensors)."""


def reference_objects(objects: Tensor, mask: Tensor) -> Tensor:
    """vrkit CLEVR objects [..., N, 18] (one-hots in vrkit's orders, coordinates / 3) + mask [..., N] ->
    the reference's [..., N, 7]: x, y, z (scene units), colour, material, shape, size as 1-based indices.
    Masked slots become all zeros (the reference's padding)."""
    if objects.shape[-1] != STATE_FEATURES:
        raise ValueError(f"relation_net: state_features 'reference' reads vrkit's {STATE_FEATURES}-feature CLEVR "
                         f"objects, got {objects.shape[-1]} features")
    cols = [objects[..., COORD_FEATURE:COORD_FEATURE + 3] * PLACEMENT_RANGE]
    for attr in _SORTED_ATTRIBUTES:
        values = ATTRIBUTES[attr]  # vrkit's order of the one-hot
        code = torch.tensor([REFERENCE_CLASSES[attr].index(v) + 1 for v in values], dtype=objects.dtype,
                            device=objects.device)
        off = ONE_HOT_OFFSET[attr]
        cols.append((objects[..., off:off + len(values)] * code).sum(-1, keepdim=True))
    return torch.cat(cols, dim=-1) * mask.unsqueeze(-1).to(objects.dtype)


def _renames(n_g: int) -> dict[str, str]:
    out = {"text.wembedding.weight": "question_encoder.embed.weight"}
    for p in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
        out[f"text.lstm.{p}"] = f"question_encoder.lstm.{p}"
    for k in range(4):  # conv_stack blocks: conv (3k), batch norm (3k + 1), ReLU
        for p in ("weight", "bias"):
            out[f"conv.conv{k + 1}.{p}"] = f"cnn.{3 * k}.{p}"
        for p in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
            out[f"conv.batchNorm{k + 1}.{p}"] = f"cnn.{3 * k + 1}.{p}"
    for i in range(n_g):
        for p in ("weight", "bias"):
            out[f"rl.g_layers.{i}.{p}"] = f"g.layers.{i}.{p}"
    for p in ("weight", "bias"):
        out[f"rl.f_fc1.{p}"] = f"f.0.{p}"
        out[f"rl.f_fc2.{p}"] = f"f.2.{p}"
        out[f"rl.f_fc3.{p}"] = f"head.{p}"
    return out


def map_reference_state(ref: Mapping[str, Any], target: Mapping[str, Tensor]) -> tuple[dict[str, Tensor], list[str]]:
    """(vrkit state dict for ``target`` holding the reference weights ``ref``, reference keys left unused).

    ``target`` is a vrkit ``relation_net``'s ``state_dict()`` built with a :data:`VARIANTS` entry. The
    reference's CNN is left unused (and listed) when ``target`` has none (state descriptions). Raises
    :class:`ConversionError` naming the first unexpected, missing or wrong-shaped tensors."""
    ref = {k: v if isinstance(v, Tensor) else torch.as_tensor(np.asarray(v)) for k, v in ref.items()}
    n_g = sum(1 for k in target if k.startswith("g.layers.") and k.endswith(".weight"))
    names = _renames(n_g)
    unexpected = [k for k in ref if k not in names]
    if unexpected:
        raise ConversionError(f"unexpected tensor(s) in the reference state dict: {', '.join(unexpected[:5])}")
    has_cnn = any(k.startswith("cnn.") for k in target)
    unused = [k for k in ref if names[k].startswith("cnn.") and not has_cnn]
    out = {names[k]: v for k, v in ref.items() if k not in unused}
    wanted = {v: k for k, v in names.items()}
    missing = [wanted.get(k, k) for k in target if k not in out]
    if missing:
        raise ConversionError(f"missing tensor(s) in the reference state dict: {', '.join(missing[:5])}")
    bad = [f"{wanted[k]} {tuple(v.shape)} (vrkit {tuple(target[k].shape)})" for k, v in out.items()
           if tuple(v.shape) != tuple(target[k].shape)]
    if bad:
        raise ConversionError(f"wrong shape: {'; '.join(bad[:3])}")
    return {k: out[k].to(target[k].dtype) for k in target}, unused
