"""Checkpoints written by earlier releases keep computing what they did.

A checkpoint saves only the options its config set, so one loaded with today's defaults could rebuild another
function. Checkpoints carry ``vrkit_model_format`` (:data:`MODEL_FORMAT`); the loaders (``load_task``, resuming a
run) fill in, for every option an older checkpoint's config left unset, the value its release used, and say so
in one line.

* Format 2: SAMNet, the Relation Network and MAC changed their defaults to the computations of their reference
  implementations (docs/samnet-reference.md, docs/rn-reference.md, docs/mac-reference.md) — for the Relation
  Network with tensors of the same shapes, so an older checkpoint would load without error and answer
  differently. A checkpoint without the key (and without a converter's ``vrkit_origin``, which only newer
  releases write) is format 1 and gets :data:`EARLIER_DEFAULTS`.
* Format 3: the run engine sizes every model from its world's datamodule (``io_config``) instead of a preset;
  CLEVR's vocabulary went from a bound of 96 tokens to the 84 its questions use. A CLEVR checkpoint before
  format 3 gets :data:`EARLIER_IO`.
"""

from __future__ import annotations

import copy
from typing import Any

MODEL_FORMAT = 3  # 2: reference defaults for samnet, relation_net and mac; 3: IO sizes from the datamodule
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
# The IO sizes of each world before format 3 where its datamodule's io_config now gives others (every model).
EARLIER_IO: dict[str, dict[str, Any]] = {"clevr": {"vocab_size": 96}}


def saved_format(checkpoint: dict[str, Any]) -> int:
    """The model format a vrkit checkpoint was written in: its ``vrkit_model_format``; without one 1, except
    for converted checkpoints (``vrkit_origin``), whose configs state every option and size."""
    if FORMAT_KEY in checkpoint:
        return int(checkpoint[FORMAT_KEY])
    return MODEL_FORMAT if "vrkit_origin" in checkpoint else 1


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


def with_earlier_io(config: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """``config`` with the pre-format-3 IO sizes of its world (:data:`EARLIER_IO`) for the sizes its model
    fields left unset, and the ``key=value`` list of what was filled in."""
    config = copy.deepcopy(config)
    model = config.get("model") or {}
    world = (config.get("data") or {}).get("world", "cog")
    filled = []
    for key, value in EARLIER_IO.get(world, {}).items():
        if key not in model:
            model[key] = value
            filled.append(f"{key}={value}")
    config["model"] = model
    return config, filled


def upgrade_config(config: dict[str, Any], fmt: int) -> tuple[dict[str, Any] | None, list[str]]:
    """The config (a run's config as a dict) a model saved in format ``fmt`` must be rebuilt with (None: ``config``
    as it is) and one notice per format step that filled something in. Used by every loader of a checkpoint:
    evaluation (``load_task``) and resuming a run."""
    new, notes = config, []
    if fmt < 2:
        new, filled = with_earlier_defaults(new)
        if filled:
            notes.append(f"written before the reference defaults; keeping its model's earlier options "
                         f"({', '.join(filled)})")
    if fmt < 3:
        new, filled = with_earlier_io(new)
        if filled:
            notes.append(f"written before the model sizes came from the datamodule; keeping its model's earlier "
                         f"sizes ({', '.join(filled)})")
    return (None if new == config else new), notes
