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

from vrkit.worlds.clevr.constants import ANSWERS as _CLEVR_ANSWERS
from vrkit.worlds.cog.constants import INPUT_VOCAB as _COG_WORDS
from vrkit.worlds.cog.constants import OUTPUT_VOCAB as _COG_ANSWERS
from vrkit.worlds.cog.state import GRID_SIZE as _COG_GRID
from vrkit.worlds.cog.state import STATE_FEATURES as _COG_OBJECT_FEATURES

# The COG sizes are the world's (79 words, 55 answers, 55 object features, 7x7 grid; the datamodule's
# io_config states the same); CLEVR's question vocabulary is a bound (96), its answers the world's 28.
_COG_IO = {"vocab_size": len(_COG_WORDS), "num_answers": len(_COG_ANSWERS), "pointing": True, "grid": _COG_GRID}
_CLEVR_IO = {"vocab_size": 96, "num_answers": len(_CLEVR_ANSWERS), "pointing": False}
CLEVR_OBJECT_FEATURES = 18  # 3D coordinates 3, size 2, colour 8, material 2, shape 3

PRESETS: dict[str, dict[str, Any]] = {
    "cog_pixels": {"path": "pixels", **_COG_IO, "image_size": 112},
    "cog_state": {"path": "state", **_COG_IO, "object_features": _COG_OBJECT_FEATURES},
    "clevr_pixels": {"path": "pixels", **_CLEVR_IO, "image_size": 128},
    "clevr_state": {"path": "state", **_CLEVR_IO, "object_features": CLEVR_OBJECT_FEATURES},
    "clevr_features": {"path": "features", **_CLEVR_IO},
}


def preset(name: str, **overrides: Any) -> dict[str, Any]:
    """A copy of preset ``name`` with ``overrides`` applied."""
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; available: {', '.join(PRESETS)}")
    return {**PRESETS[name], **overrides}
