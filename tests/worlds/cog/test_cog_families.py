"""The COG family table: one record per family, and every other per-family table agrees with it."""

from __future__ import annotations

import pytest

from vrkit.worlds.cog._cog_templates import FAMILY_TEMPLATES
from vrkit.worlds.cog._fixed import FIXED_SCENE_BUILDERS, build_fixed_scene
from vrkit.worlds.cog._reference_stats import REFERENCE
from vrkit.worlds.cog.constants import (
    CLASSIFICATION_FAMILIES,
    COLORS,
    FAMILIES,
    FAMILY_INDEX,
    FAMILY_RECORDS,
    FAMILY_TABLE,
    FIXED_SCENE_FAMILIES,
    GROUPS,
    POINTING_FAMILIES,
    SHAPES,
)
from vrkit.worlds.cog.families import TEMPLATES
from vrkit.worlds.cog.generator import generate_example, make_rng

ANSWER_KINDS = ("bool", "color", "shape", "point")


def test_the_table_has_one_record_per_family_and_index():
    assert len(FAMILY_TABLE) == 44
    assert len({r.name for r in FAMILY_TABLE}) == 44
    assert sorted(r.index for r in FAMILY_TABLE) == list(range(44))
    assert {r.answer for r in FAMILY_TABLE} == set(ANSWER_KINDS)


@pytest.mark.parametrize("table", ["TEMPLATES", "FAMILY_TEMPLATES", "REFERENCE canonical", "REFERENCE hard",
                                   "FAMILY_INDEX", "GROUPS"])
def test_every_per_family_table_has_exactly_the_families(table):
    keys = {"TEMPLATES": set(TEMPLATES), "FAMILY_TEMPLATES": set(FAMILY_TEMPLATES),
            "REFERENCE canonical": set(REFERENCE["canonical"]), "REFERENCE hard": set(REFERENCE["hard"]),
            "FAMILY_INDEX": set(FAMILY_INDEX), "GROUPS": {f for g in GROUPS.values() for f in g}}[table]
    assert sorted(keys) == sorted(FAMILIES)


def test_groups_partition_the_families_in_table_order():
    flat = [f for g in GROUPS.values() for f in g]
    assert flat == [r.name for r in FAMILY_TABLE]  # each family in exactly one group, groups in table order
    assert list(GROUPS)[:5] == ["Basic", "Obj-Attr", "Compare", "Spatial", "Cognitive"]
    assert all(all(FAMILY_RECORDS[f].pointing for f in fams) == name.startswith("Point-")
               for name, fams in GROUPS.items())


def test_derived_sets_follow_the_records():
    assert tuple(sorted(FAMILY_RECORDS, key=lambda f: FAMILY_RECORDS[f].index)) == FAMILIES
    assert tuple(f for f in FAMILIES if FAMILY_RECORDS[f].answer != "point") == CLASSIFICATION_FAMILIES
    assert (len(POINTING_FAMILIES), len(CLASSIFICATION_FAMILIES), len(FIXED_SCENE_FAMILIES)) == (21, 23, 5)


@pytest.mark.parametrize("family", FAMILIES)
def test_the_original_naming_rule_agrees_with_the_answer_kind(family):
    """The original names every pointing family Go* or *Go."""
    assert FAMILY_RECORDS[family].pointing == (family.startswith("Go") or family.endswith("Go"))


@pytest.mark.parametrize("family", FAMILIES)
def test_reference_statistics_give_p_true_exactly_for_boolean_families(family):
    for variant in ("canonical", "hard"):
        assert (REFERENCE[variant][family][0] is not None) == (FAMILY_RECORDS[family].answer == "bool")


def _valid(answer: object, kind: str) -> bool:
    if kind == "point":
        return isinstance(answer, list) and len(answer) == 2 and all(0.0 <= v <= 1.0 for v in answer)
    return answer in {"bool": ("true", "false"), "color": COLORS, "shape": SHAPES}[kind]


@pytest.mark.parametrize("family", FAMILIES)
def test_generated_answers_are_of_the_recorded_kind(family):
    kind = FAMILY_RECORDS[family].answer
    rng = make_rng(11, family)
    answers = [a for _ in range(40) for a in generate_example(family, "hard", rng)["answers"] if a != "invalid"]
    assert answers and all(_valid(a, kind) for a in answers)


@pytest.mark.parametrize("family", FAMILIES)
def test_a_fixed_scene_builder_exists_exactly_for_fixed_scene_families(family):
    assert (family in FIXED_SCENE_BUILDERS) == FAMILY_RECORDS[family].fixed_scene
    rng = make_rng(3, family)
    root = TEMPLATES[family](rng)
    if FAMILY_RECORDS[family].fixed_scene:
        objects = build_fixed_scene(family, root, 4, rng).to_json()
        assert objects and {o["epochs"] for o in objects} <= {1, 2, 3}
    else:
        with pytest.raises(ValueError, match="not a fixed-scene family"):
            build_fixed_scene(family, root, 4, rng)
