"""Checkpoints written before the models followed their reference implementations keep computing what they did.

SAMNet, the Relation Network and MAC changed their defaults to the computations of their reference
implementations (docs/samnet-reference.md, docs/rn-reference.md, docs/mac-reference.md). A checkpoint saves only
the options its config set, so an older checkpoint loaded with the new defaults would rebuild a different
function, and for the Relation Network with tensors of the same shapes: it would load without error and answer
differently. Checkpoints now carry ``vrkit_model_format``; one without it (and without a converter's
``vrkit_origin``, which only newer releases write) gets the earlier defaults for every option its config left
unset, and the loader says so in one line.
"""

from __future__ import annotations

import copy
from typing import Any

MODEL_FORMAT = 2  # 2: reference defaults for samnet, relation_net and mac
FORMAT_KEY = "vrkit_model_format"

# The defaults of each option before format 2 (the values that select vrkit's earlier computation).
EARLIER_DEFAULTS: dict[str, dict[str, Any]] = {
    "samnet": {"visual_values": "projected", "question_padding": "masked", "init": "torch",
               "init_dropout": "per_frame"},
    "relation_net": {"coordinates": "unit", "question_padding": "masked", "inversion": "tokens",
                     "object_mask": "pairs", "temporal": True},
    "mac": {"sizes": "compact", "word_attention": "masked", "self_attention_variant": "earlier",
            "dropout_placement": "kb_output", "init": "torch"},
}
# relation_net's ``coordinates`` was a flag before it named the layout
_EARLIER_VALUES: dict[tuple[str, str], dict[Any, Any]] = {("relation_net", "coordinates"): {True: "unit",
                                                                                          False: "none"}}


def is_earlier_format(checkpoint: dict[str, Any]) -> bool:
    """True for a vrkit checkpoint written before :data:`MODEL_FORMAT` 2 (converted checkpoints are never)."""
    return FORMAT_KEY not in checkpoint and "vrkit_origin" not in checkpoint


def with_earlier_defaults(config: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """``config`` (a run's config as a dict) with the pre-format-2 defaults filled in for the options it left
    unset, and the ``key=value`` list of what was filled in (empty for models whose defaults did not change)."""
    config = copy.deepcopy(config)
    model = config.get("model") or {}
    name = model.get("name", "samnet")
    filled = []
    for key, value in EARLIER_DEFAULTS.get(name, {}).items():
        if key in model:
            model[key] = _EARLIER_VALUES.get((name, key), {}).get(model[key], model[key])
        else:
            model[key] = value
            filled.append(f"{key}={value}")
    config["model"] = model
    return config, filled
