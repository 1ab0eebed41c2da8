"""The COG generator: determinism, agreement with the independent checker, per-family statistics."""

from __future__ import annotations

import functools
import math
import random

import pytest

from vrkit.worlds.cog import io
from vrkit.worlds.cog._reference_stats import REFERENCE
from vrkit.worlds.cog.checker import check_example, template_problem
from vrkit.worlds.cog.constants import (
    COLOR_INDEX,
    FAMILIES,
    FIXED_SCENE_FAMILIES,
    POINTING_FAMILIES,
    SHAPE_INDEX,
    VARIANTS,
    Variant,
)
from vrkit.worlds.cog.generator import example_stream, generate_example, make_rng
from vrkit.worlds.cog.stats import TOL_INVALID, TOL_OBJECTS, TOL_PTRUE, collect

LOOKBACK = {"canonical": 3, "hard": 7}


def _lookback(family: str, variant: str) -> int:
    return 4 if family in FIXED_SCENE_FAMILIES else LOOKBACK[variant]


@functools.cache
def _generated(variant: str) -> dict[str, list[dict]]:
    """300 examples per family (the issue's minimum), fixed seed."""
    out = {}
    for fam in FAMILIES:
        rng = make_rng(2024, variant, fam)
        out[fam] = [generate_example(fam, variant, rng) for _ in range(300)]
    return out


#: One test case per variant and family, so a failure names its family.
PER_FAMILY = pytest.mark.parametrize(("variant", "family"), [(v, f) for v in ("canonical", "hard") for f in FAMILIES])


def test_same_seed_same_bytes_and_different_seed_differs():
    a = [io.dumps(generate_example(f, "hard", make_rng(5, f))) for f in FAMILIES]
    b = [io.dumps(generate_example(f, "hard", make_rng(5, f))) for f in FAMILIES]
    c = [io.dumps(generate_example(f, "hard", make_rng(6, f))) for f in FAMILIES]
    assert a == b
    assert sum(x != y for x, y in zip(a, c)) >= 40


@PER_FAMILY
def test_examples_are_valid_official_records(variant, family):
    exs = _generated(variant)[family]
    E = VARIANTS[variant].frames
    for ex in exs:
        line = io.dumps(ex)
        assert io.parse_line(line) == ex  # passes the reader's validation and round-trips
        assert ex["epochs"] == E and len(ex["answers"]) == E
        for o in ex["objects"]:
            assert o["color"] in COLOR_INDEX and o["shape"] in SHAPE_INDEX
            assert 0.0 <= o["location"][0] <= 1.0 and 0.0 <= o["location"][1] <= 1.0
            assert isinstance(o["epochs"], int) or o["epochs"] == list(range(E))
        ends = [(o["epochs"] if isinstance(o["epochs"], int) else E - 1) for o in ex["objects"]]
        assert ends == sorted(ends)  # objects ordered by ascending span end


@PER_FAMILY
def test_every_generated_answer_agrees_with_the_independent_checker(variant, family):
    exs = _generated(variant)[family]
    bad = [(ex["family"], frames) for ex in exs if (frames := check_example(ex, _lookback(ex["family"], variant)))]
    assert bad == []
    assert [ex["family"] for ex in exs if template_problem(ex["question"], ex["family"])] == []


@PER_FAMILY
def test_distractors_never_change_answers(variant, family):
    """Query-matched distractors are deleted (docs/world-cog.md, 'Quirks kept'): making every remaining
    distractor a real object changes no answer. Every 7th example of the variant's run over all families."""
    exs = _generated(variant)[family]
    changed = 0
    for ex in exs[(-len(exs) * FAMILIES.index(family)) % 7::7]:
        visible = dict(ex, objects=[dict(o, is_distractor=False) for o in ex["objects"]])
        changed += bool(check_example(visible, _lookback(ex["family"], variant)))
    assert changed == 0


@PER_FAMILY
def test_question_lengths_and_answer_types(variant, family):
    exs = _generated(variant)[family]
    ref = REFERENCE[variant]
    for ex in exs:
        assert len(ex["question"].split()) == ref[ex["family"]][4]
        for a in ex["answers"]:
            if a == "invalid":
                continue
            assert isinstance(a, list) == (ex["family"] in POINTING_FAMILIES)


def _bound(tol: float, p: float, n: int) -> float:
    """The issue's tolerance, widened to 4 standard errors of the difference when the sample is small
    (REF itself rests on 3,000 examples), so the fixed-seed test is not a coin flip."""
    return max(tol, 4 * math.sqrt(max(p * (1 - p), 0.01) * (1 / max(n, 1) + 1 / 3000)))


@PER_FAMILY
def test_statistics_match_the_original_generator(variant, family):
    exs = _generated(variant)[family]
    stats = collect(exs)
    failures = []
    for fam, s in stats.items():
        p_ref, inv_ref, obj_ref, dis_ref, _q = REFERENCE[variant][fam]
        if p_ref is not None and abs(s.p_true - p_ref) > _bound(TOL_PTRUE, p_ref, s.bool_last):
            failures.append((fam, "p_true", s.p_true, p_ref))
        for t, (ours, theirs) in enumerate(zip(s.invalid_share, inv_ref)):
            if abs(ours - theirs) > _bound(TOL_INVALID, theirs, s.n):
                failures.append((fam, f"invalid[{t}]", ours, theirs))
        if abs(s.mean_objects - obj_ref) > TOL_OBJECTS * obj_ref:
            failures.append((fam, "objects", s.mean_objects, obj_ref))
        if abs(s.mean_distractors - dis_ref) > 0.1 * max(dis_ref, 1.0):
            failures.append((fam, "distractors", s.mean_distractors, dis_ref))
    assert failures == []


@functools.cache
def _fixed_scene_examples(variant: str) -> dict[str, list[dict]]:
    """30 examples per fixed-scene family, drawn one family after the other from one stream."""
    rng = make_rng(1, variant)
    return {fam: [generate_example(fam, variant, rng) for _ in range(30)] for fam in sorted(FIXED_SCENE_FAMILIES)}


@pytest.mark.parametrize(("variant", "fam"),
                         [(v, f) for v in ("canonical", "hard") for f in sorted(FIXED_SCENE_FAMILIES)])
def test_fixed_scene_families_have_their_fixed_frames(variant, fam):
    for ex in _fixed_scene_examples(variant)[fam]:
        assert ex["answers"][0] == "invalid" and ex["answers"][2] == "invalid"
        assert ex["answers"][3] != "invalid"
        assert all(a == "invalid" for a in ex["answers"][4:])
        assert not any(o["is_distractor"] for o in ex["objects"])
        frames = {1, 2, 3} if fam.startswith("Go") else {1, 3}
        assert {o["epochs"] for o in ex["objects"]} <= frames


def test_quirk_always_true_statement_of_simple_exist_go():
    """SimpleExistGo and its kin (docs/world-cog.md, 'Quirks kept'): Go[A] makes A exist in every frame, so
    the answer is always A's location."""
    rng = random.Random(3)
    for _ in range(50):
        ex = generate_example("SimpleExistGo", "canonical", rng)
        words = ex["question"].split()
        color, shape = words[2], words[3]
        for t, ans in enumerate(ex["answers"]):
            objs = [o for o in ex["objects"] if o["epochs"] == t and not o["is_distractor"]
                    and o["color"] == color and o["shape"] == shape]
            assert len(objs) == 1 and ans == objs[0]["location"]


def test_custom_variant_and_stream():
    v = Variant(frames=6, memory=2, distractors=3)
    exs = [generate_example(f, v, make_rng(0, f)) for f in FAMILIES]
    assert all(len(ex["answers"]) == 6 for ex in exs)
    assert all(not check_example(ex, _lookback(ex["family"], "canonical") if ex["family"] in FIXED_SCENE_FAMILIES
                                 else 2) for ex in exs)
    s1, s2 = example_stream(["GetColor", "ExistSpace"], "canonical", 9), example_stream(
        ["GetColor", "ExistSpace"], "canonical", 9)
    first = [next(s1) for _ in range(6)]
    assert first == [next(s2) for _ in range(6)]
    assert [e["family"] for e in first] == ["GetColor", "ExistSpace"] * 3


def test_unknown_family_is_rejected():
    with pytest.raises(ValueError, match="unknown COG family"):
        generate_example("Nope", "canonical", random.Random(0))
