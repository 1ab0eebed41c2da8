"""The COG generator: one example per call, the original's semantics (docs/world-cog.md, 'Scene construction').

    rng = random.Random(seed)
    example = generate_example("GetColorSpace", VARIANTS["hard"], rng)   # official example dict

Determinism: everything is drawn from the ``random.Random`` passed in. (``random.Random`` rather
than a numpy Generator because the generator makes many scalar draws, where the stdlib's per-call
cost is ~10x lower; :func:`make_rng` derives it from a seed and a stream index, so shards and workers
get independent, reproducible streams.)
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator, Sequence

from vrkit.worlds.cog._fixed import build_fixed_scene
from vrkit.worlds.cog._logic import guess_order, question_text
from vrkit.worlds.cog._nodes import INVALID, UNSET
from vrkit.worlds.cog._scene import Scene
from vrkit.worlds.cog.combos import COMBO_SPLITS, outside, variant_named
from vrkit.worlds.cog.constants import FAMILIES, FIXED_SCENE_FAMILIES, Variant
from vrkit.worlds.cog.families import TEMPLATES

Example = dict
MAX_DRAWS = 10_000  # split variants: draws per example before giving up (measured: a few on average)


def make_rng(seed: int, *stream: int | str) -> random.Random:
    """A random source for (seed, stream...) — e.g. (seed, shard) or (seed, split, family)."""
    key = "/".join(map(str, (seed, *stream))).encode()
    return random.Random(int.from_bytes(hashlib.sha256(key).digest()[:16], "little"))


def resolve_variant(variant: str | Variant) -> Variant:
    """A :class:`Variant` or its name (``canonical``, ``hard``, ``canonical-A`` ...; ValueError if unknown)."""
    if isinstance(variant, Variant):
        return variant
    return variant_named(variant)


def _serialise(v) -> object:
    if v is INVALID:
        return "invalid"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, tuple):
        return [v[0], v[1]]
    return v


def generate_example(family: str, variant: str | Variant, rng: random.Random) -> Example:
    """One example of ``family`` as the official dict (answers, epochs, family, objects, question).

    A variant with a compositional split (``variant.combos``, combos.py) draws examples from ``rng`` until one
    has every object's colour × shape pair in the split (free attributes are drawn inside the split, so only
    questions that force a pair of the other half are drawn again)."""
    if family not in TEMPLATES:
        raise ValueError(f"unknown COG family {family!r}")
    variant = resolve_variant(variant)
    if variant.combos is None:
        return _example(family, variant, rng)
    if variant.combos not in COMBO_SPLITS:
        raise ValueError(f"unknown compositional split {variant.combos!r}; expected one of {COMBO_SPLITS}")
    for _ in range(MAX_DRAWS):
        ex = _example(family, variant, rng)
        if not outside(ex["objects"], variant.combos):
            return ex
    raise RuntimeError(f"no {family} example inside split {variant.combos} in {MAX_DRAWS} draws")  # pragma: no cover


def _example(family: str, variant: Variant, rng: random.Random) -> Example:
    E = variant.frames
    root = TEMPLATES[family](rng)
    if family in FIXED_SCENE_FAMILIES:
        scene = build_fixed_scene(family, root, E, rng, variant.combos)
    else:
        scene = Scene(E, variant.lookback, rng, variant.combos)
        n_distractors = rng.randint(1, variant.distractors) if variant.distractors > 0 else 0
        order = guess_order(root)
        for t in range(E - 1, -1, -1):
            if n_distractors:
                scene.add_distractors(n_distractors, t)
            for node in order:
                node.target = UNSET
            for node in order:
                node.guess(scene, t)
    answers = [_serialise(root.evaluate(scene, t)) for t in range(E)]
    return {"answers": answers, "epochs": E, "family": family, "objects": scene.to_json(),
            "question": question_text(root)}


def example_stream(families: Sequence[str], variant: str | Variant, seed: int, *stream: int | str
                   ) -> Iterator[Example]:
    """An endless deterministic stream cycling through ``families`` in order."""
    families = list(families) or list(FAMILIES)
    rng = make_rng(seed, "stream", *stream)
    variant = resolve_variant(variant)
    while True:
        for family in families:
            yield generate_example(family, variant, rng)
