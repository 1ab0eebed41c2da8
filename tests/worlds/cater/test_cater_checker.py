"""The independent checker finds every kind of disagreement between a record's labels and its per-frame state;
the cone of the renderer hides what fits under it."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vrkit.errors import InputError
from vrkit.worlds.cater import CaterConfig, generate_video
from vrkit.worlds.cater.checker import check_video, derive
from vrkit.worlds.cater.io import check_record
from vrkit.worlds.clevr.render import BOUND, CONE, SPHERE, Objects, RenderParams, render_objects

CFG = CaterConfig(size=16)
_BASE = json.loads(json.dumps(generate_video(11, CaterConfig(size=12, antialias=False)).meta))


def _record(pred=lambda r: True) -> dict:
    for seed in range(300):
        rec = json.loads(json.dumps(generate_video(seed, CFG).meta))
        if pred(rec):
            return rec
    raise AssertionError("no such video")


def test_a_generated_record_agrees() -> None:
    rec = _record()
    assert check_video(rec) == []
    d = derive(rec)
    assert d["snitch_cell"] == rec["labels"]["snitch_cell"] and d["actions"] == sorted(rec["labels"]["actions"])


def test_moving_the_snitch_at_the_end_changes_the_derived_cell() -> None:
    rec = _record(lambda r: r["objects"][0]["contained_by"][-1] < 0)
    x, y, z = rec["objects"][0]["positions"][-1]
    rec["objects"][0]["positions"][-1] = [-x if abs(x) > 0.6 else x + 2.5, y, z]
    probs = check_video(rec)
    assert any("snitch_cell" in p for p in probs)
    assert any("no recorded action explains" in p for p in probs)  # the jump is a motion nobody made


def test_a_wrong_label_is_reported() -> None:
    rec = _record()
    rec["labels"]["snitch_cell"] = (rec["labels"]["snitch_cell"] + 1) % 36
    rec["labels"]["snitch_contained_at_end"] = not rec["labels"]["snitch_contained_at_end"]
    probs = check_video(rec)
    assert any("label snitch_cell" in p for p in probs) and any("snitch_contained_at_end" in p for p in probs)


def test_a_covered_object_marked_visible_is_reported() -> None:
    rec = _record(lambda r: r["containment"])
    c = rec["containment"][0]
    rec["objects"][c["object"]]["visible"][c["start"]] = True
    assert any("visible True" in p for p in check_video(rec))


def test_a_dropped_or_changed_action_is_reported() -> None:
    rec = _record(lambda r: any(a["action"] == "slide" for a in r["actions"]))
    dropped = copy.deepcopy(rec)
    n = next(i for i, a in enumerate(rec["actions"]) if a["action"] == "slide")
    del dropped["actions"][n]
    assert any("no recorded action explains" in p for p in check_video(dropped))
    moved = copy.deepcopy(rec)
    moved["actions"][n]["to"] = [moved["actions"][n]["to"][0] + 1.0, moved["actions"][n]["to"][1]]
    assert any("'to'" in p for p in check_video(moved))
    renamed = copy.deepcopy(rec)
    renamed["actions"][n]["action"] = "rotate"
    assert any("the state shows no such motion" in p for p in check_video(renamed))


def test_a_contain_with_the_wrong_target_is_reported() -> None:
    rec = _record(lambda r: any(a["action"] == "contain" for a in r["actions"]))
    a = next(a for a in rec["actions"] if a["action"] == "contain")
    a["target"] = next(i for i in range(len(rec["objects"])) if i not in (a["target"], a["object"]))
    assert any("is not under the cone" in p for p in check_video(rec))


def test_interpenetration_is_reported() -> None:
    rec = _record(lambda r: len(r["objects"]) >= 4)
    a, b = rec["objects"][3], rec["objects"][1]
    for t in range(rec["frames"]):  # put object 3 on top of object 1 throughout (no motion changes)
        a["positions"][t] = [b["positions"][t][0] + 0.05, b["positions"][t][1], a["positions"][t][2]]
    assert any("interpenetrate" in p for p in check_video(rec))


@pytest.mark.parametrize("edit, words", [
    (lambda r: r.update(format="other"), "not a CATER video record"),
    (lambda r: r["actions"].append({"action": "jump", "object": 0, "start": 0, "end": 1}), "unknown action"),
    (lambda r: r["objects"][1].update(shape="pyramid"), "unknown shape"),
    (lambda r: r["objects"][0]["positions"].pop(), "'positions' must be"),
    (lambda r: r["labels"]["actions"].append("cube_fly"), "unknown action label"),
])
def test_malformed_records_are_refused(edit, words: str) -> None:
    rec = _record()
    edit(rec)
    with pytest.raises(InputError, match=words):
        check_record(rec)


def _cone_scene(inner_r: float, inner_shape: int = SPHERE) -> Objects:
    R = 0.7
    r = np.array([R, inner_r], dtype=np.float32)
    shape = np.array([CONE, inner_shape], dtype=np.int8)
    return Objects(centre=np.array([[0.3, -0.2, R], [0.3, -0.2, inner_r]], dtype=np.float32), r=r, shape=shape,
                   cos=np.ones(2, np.float32), sin=np.zeros(2, np.float32),
                   bound=r * np.array([BOUND[CONE], BOUND[int(inner_shape)]], dtype=np.float32),
                   albedo=np.full((2, 3), 0.5, np.float32), metal=np.zeros(2, bool))


def test_what_fits_under_a_cone_is_never_seen_and_what_does_not_fit_is() -> None:
    _, ids = render_objects(_cone_scene(0.7 / 1.618), RenderParams(), 96, 96)
    assert (ids == 0).sum() > 100 and (ids == 1).sum() == 0  # the largest ball that fits: hidden by geometry
    _, ids = render_objects(_cone_scene(0.5), RenderParams(), 96, 96)
    assert (ids == 1).sum() > 0  # a larger ball pokes through the slanted side
    _, ids = render_objects(_cone_scene(0.35, CONE), RenderParams(), 96, 96)
    assert (ids == 1).sum() == 0  # a smaller cone stacks inside


def test_cone_silhouette_narrows_to_the_apex() -> None:
    objs = _cone_scene(0.1)
    _, ids = render_objects(objs, RenderParams(camera=(12.0, 0.0, 0.7)), 96, 96)  # side view, nearly level
    rows = np.flatnonzero((ids == 0).any(1))
    widths = [(ids[r] == 0).sum() for r in rows]
    assert widths[0] <= 2 and max(widths) >= 10  # a point at the top, the base at the bottom
    body = widths[:-1]  # (the last row is the near rim of the base, seen slightly from above)
    assert all(b > a for a, b in zip(body, body[1:]))  # straight sides: one pixel wider per row


_SCALARS = st.none() | st.booleans() | st.integers(-3, 40) | st.floats(allow_nan=True) | st.text(max_size=4) \
    | st.lists(st.integers(-1, 3), max_size=3)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(where=st.sampled_from(["object", "action", "label", "top", "config"]), pick=st.integers(0, 10**6),
       value=_SCALARS)
def test_a_damaged_record_is_refused_or_checked_never_a_crash(where: str, pick: int, value) -> None:
    rec = copy.deepcopy(_BASE)
    if where == "object":
        o = rec["objects"][pick % len(rec["objects"])]
        key = sorted(o)[pick % len(o)]
        if isinstance(o[key], list) and pick % 2:
            o[key][pick % len(o[key])] = value  # one frame's entry
        else:
            o[key] = value
    elif where == "action" and rec["actions"]:
        a = rec["actions"][pick % len(rec["actions"])]
        a[sorted(a)[pick % len(a)]] = value
    elif where == "label":
        rec["labels"][sorted(rec["labels"])[pick % len(rec["labels"])]] = value
    elif where == "config":
        rec["config"][sorted(rec["config"])[pick % len(rec["config"])]] = value
    else:
        rec[sorted(rec)[pick % len(rec)]] = value
    try:
        check_record(rec)
    except InputError as err:
        assert "\n" not in str(err)
        return
    assert isinstance(check_video(rec), list)
