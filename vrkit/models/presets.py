"""Named data configurations (the IOConfig fields) used to size and compare models.

* ``cog_pixels`` — the reference COG setting: 112×112 RGB frames, 79 input tokens, 55 answers, 7×7 pointing.
* ``cog_state``  — COG scene states: objects of 55 features (colour 21, shape 32, x, y; worlds/cog/state.py).
* ``clevr_pixels`` — CLEVR at CPU scale (our choice): 128×128 frames (an 8×8 feature map for the COG CNN
  instead of the reference era's frozen ResNet features), T = 1, 28 answers, no pointing, and a question
  vocabulary bound of 96 tokens (the real CLEVR vocabulary is ~80 words plus punctuation and padding;
  a data layer with its own vocabulary passes its exact size).
* ``clevr_state`` — CLEVR "state descriptions" as in Relation Networks: 18 features per object
  (3D coordinates 3, size 2, colour 8, material 2, shape 3).
* ``clevr_features`` — CLEVR on precomputed ResNet-101 conv4 maps [1024, 14, 14] (the MAC paper's input;
  ``mac`` reads them, vrkit.data.features_h5). ``mac`` with its defaults on this preset is mi-prometheus's
  ``mac_clevr`` (20,138,526 parameters, plus the word embedding its problem class holds).
"""

from __future__ import annotations

from typing import Any

PRESETS: dict[str, dict[str, Any]] = {
    "cog_pixels": {"path": "pixels", "vocab_size": 79, "num_answers": 55, "image_size": 112,
                   "pointing": True, "grid": 7},
    "cog_state": {"path": "state", "vocab_size": 79, "num_answers": 55, "object_features": 55,
                  "pointing": True, "grid": 7},
    "clevr_pixels": {"path": "pixels", "vocab_size": 96, "num_answers": 28, "image_size": 128,
                     "pointing": False},
    "clevr_state": {"path": "state", "vocab_size": 96, "num_answers": 28, "object_features": 18,
                    "pointing": False},
    "clevr_features": {"path": "features", "vocab_size": 96, "num_answers": 28, "pointing": False},
}


def preset(name: str, **overrides: Any) -> dict[str, Any]:
    """A copy of preset ``name`` with ``overrides`` applied."""
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; available: {', '.join(PRESETS)}")
    return {**PRESETS[name], **overrides}
