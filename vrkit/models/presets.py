"""Named data configurations (the IOConfig fields) used to size and compare models outside a run.

Each preset is a world and a perception path: the IO sizes are the world's, read from its data module's
``io_config`` (the same function each datamodule states and the run engine sizes models with,
:func:`vrkit.engine.module.model_kwargs`), plus the path and a standard image size. None is typed here.

* ``cog_pixels`` — the reference COG setting: 112×112 RGB frames, 79 input tokens, 55 answers, 7×7 pointing.
* ``cog_state``  — COG scene states: objects of 55 features (colour 21, shape 32, x, y; worlds/cog/state.py).
* ``clevr_pixels`` — CLEVR at CPU scale (our choice): 128×128 frames (an 8×8 feature map for the COG CNN
  instead of the reference era's frozen ResNet features), T = 1, 28 answers, no pointing, and the question
  vocabulary of every CLEVR source (vrkit.data.clevr_vocab.template_vocab: 84 tokens).
* ``clevr_state`` — CLEVR "state descriptions" as in Relation Networks: 18 features per object
  (3D coordinates 3, size 2, colour 8, material 2, shape 3).
* ``clevr_features`` — CLEVR on precomputed ResNet-101 conv4 maps [1024, 14, 14] (the MAC paper's input;
  ``mac`` reads them, vrkit.data.features_h5). ``mac`` with its defaults on this preset is mi-prometheus's
  ``mac_clevr`` (20,138,526 parameters, plus the word embedding its problem class holds).

A reference whose weights were made with another vocabulary passes its own ``vocab_size`` on top (the
Relation Network reference's 96, vrkit.models.rn_clevr).
"""

from __future__ import annotations

from typing import Any

from vrkit.data.clevr import io_config as _clevr_io
from vrkit.data.cog import io_config as _cog_io

PRESETS: dict[str, dict[str, Any]] = {
    "cog_pixels": {"path": "pixels", **_cog_io(), "image_size": 112},
    "cog_state": {"path": "state", **_cog_io()},
    "clevr_pixels": {"path": "pixels", **_clevr_io(), "image_size": 128},
    "clevr_state": {"path": "state", **_clevr_io()},
    "clevr_features": {"path": "features", **_clevr_io()},
}


def preset(name: str, **overrides: Any) -> dict[str, Any]:
    """A copy of preset ``name`` with ``overrides`` applied."""
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; available: {', '.join(PRESETS)}")
    return {**PRESETS[name], **overrides}
