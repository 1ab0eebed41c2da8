"""The numpy CLEVR renderer: image shapes, determinism, projection vs silhouettes, visibility, materials,
shadows, input errors, and the ``show clevr`` picture."""

from __future__ import annotations

import argparse
import copy
import json
import math

import numpy as np
import pytest

from vrkit.errors import InputError
from vrkit.worlds.clevr._render_camera import Camera, RenderParams
from vrkit.worlds.clevr.constants import DIRECTIONS
from vrkit.worlds.clevr.render import (
    camera_directions,
    check_visibility,
    pixel_coords,
    render_ids,
    render_scene,
    sample_render_params,
    visible_pixel_counts,
)


def obj(shape: str, x: float, y: float, size: str = "large", color: str = "gray", material: str = "rubber",
        rotation: float = 0.0) -> dict:
    r = 0.7 if size == "large" else 0.35
    return {"shape": shape, "size": size, "color": color, "material": material, "3d_coords": [x, y, r],
            "rotation": rotation, "pixel_coords": [0, 0, 0.0]}


def scene(*objects: dict) -> dict:
    return {"image_index": 0, "image_filename": "CLEVR_test_000000.png", "objects": list(objects)}


@pytest.fixture(scope="module")
def sample_scenes(clevr_sample) -> list[dict]:
    return json.loads((clevr_sample / "scenes.json").read_text())["scenes"]


@pytest.mark.parametrize("w,h", [(128, 128), (480, 320), (64, 48), (33, 50)])
def test_shape_dtype(w: int, h: int) -> None:
    img = render_scene(scene(obj("cube", 0, 0), obj("sphere", 1.5, -1.5, "small", "red", "metal")), w, h)
    assert img.shape == (h, w, 3) and img.dtype == np.uint8
    assert img.std() > 5  # not a flat image
    assert render_ids(scene(obj("cube", 0, 0)), w, h).shape == (h, w)


def test_deterministic_and_jitter(sample_scenes: list[dict]) -> None:
    s = sample_scenes[0]
    a = render_scene(s, 96, 64)
    assert np.array_equal(a, render_scene(s, 96, 64))
    j1 = render_scene(s, 96, 64, rng=np.random.default_rng(7))
    j2 = render_scene(s, 96, 64, rng=np.random.default_rng(7))
    j3 = render_scene(s, 96, 64, rng=np.random.default_rng(8))
    assert np.array_equal(j1, j2)
    assert not np.array_equal(j1, j3) and not np.array_equal(j1, a)
    # params stored in the scene reproduce the rng-drawn render
    p = sample_render_params(np.random.default_rng(7))
    stored = dict(s, render=p.to_json())
    assert np.array_equal(render_scene(stored, 96, 64), j1)
    assert pixel_coords(stored, 480, 320) == pixel_coords(s, 480, 320, params=p)


def test_jitter_ranges() -> None:
    base = RenderParams()
    for seed in range(20):
        p = sample_render_params(np.random.default_rng(seed))
        assert np.all(np.abs(np.subtract(p.camera, base.camera)) <= 0.5)
        for k in ("lamp_key", "lamp_fill", "lamp_back"):
            assert np.all(np.abs(np.subtract(getattr(p, k), getattr(base, k))) <= 1.0)


def test_directions_match_released_constants() -> None:
    d = camera_directions()
    for k, v in DIRECTIONS.items():
        assert np.allclose(d[k], v, atol=1e-6), k


def test_pixel_coords_origin_and_depth() -> None:
    # the camera aims at the origin: a point there projects to the image centre at depth |camera|
    s = scene(obj("sphere", 0, 0))
    s["objects"][0]["3d_coords"] = [0.0, 0.0, 0.0]
    (px, py, depth), = pixel_coords(s, 480, 320)
    assert (px, py) == (240, 160)
    assert math.isclose(depth, float(np.linalg.norm(RenderParams().camera)), rel_tol=1e-6)


@pytest.mark.parametrize("shape", ["cube", "sphere", "cylinder"])
@pytest.mark.parametrize("pos", [(0.0, 0.0), (-2.5, 2.0), (2.5, -2.5)])
def test_single_object_centre_inside_silhouette(shape: str, pos: tuple[float, float]) -> None:
    for size in ("large", "small"):
        s = scene(obj(shape, *pos, size=size, rotation=1.234))
        for w, h in ((128, 128), (480, 320)):
            ids = render_ids(s, w, h)
            (px, py, depth), = pixel_coords(s, w, h)
            assert 0 <= px <= w and 0 <= py <= h and 6 < depth < 16
            assert ids[min(py, h - 1), min(px, w - 1)] == 0


def test_sample_centres_inside_silhouettes_or_occluded(sample_scenes: list[dict]) -> None:
    w, h = 480, 320
    for s in sample_scenes[:6]:
        ids = render_ids(s, w, h)
        pcs = pixel_coords(s, w, h)
        for i, (px, py, depth) in enumerate(pcs):
            seen = int(ids[min(py, h - 1), min(px, w - 1)])
            assert seen == i or (seen >= 0 and pcs[seen][2] < depth), (s["image_index"], i, seen)
        assert visible_pixel_counts(s, w, h) == [int((ids == k).sum()) for k in range(len(pcs))]


def _behind(dist: float) -> tuple[float, float]:
    b = DIRECTIONS["behind"]
    return b[0] * dist, b[1] * dist


def test_fully_hidden_object_fails_visibility() -> None:
    hidden = scene(obj("cube", 0, 0), obj("sphere", *_behind(1.1), size="small"))
    counts = visible_pixel_counts(hidden)
    assert counts[0] > 1000 and counts[1] == 0
    assert not check_visibility(hidden)
    right = DIRECTIONS["right"]
    shown = scene(obj("cube", 0, 0), obj("sphere", 2.0 * right[0], 2.0 * right[1], size="small"))
    assert min(visible_pixel_counts(shown)) >= 200
    assert check_visibility(shown)
    assert not check_visibility(shown, min_pixels=10**6)


def _object_max(s: dict, w: int = 240, h: int = 160) -> int:
    img = render_scene(s, w, h).astype(int).sum(axis=2)
    ids = render_ids(s, w, h)
    return int(img[ids == 0].max())


@pytest.mark.parametrize("color", ["blue", "gray", "red"])
def test_metal_has_brighter_highlight_than_rubber(color: str) -> None:
    for size, pos in (("large", (0.5, -0.5)), ("small", (-1.5, 1.0))):
        metal = _object_max(scene(obj("sphere", *pos, size, color=color, material="metal")))
        rubber = _object_max(scene(obj("sphere", *pos, size, color=color, material="rubber")))
        assert metal > rubber + 60, (size, metal, rubber)


def test_shadow_on_ground_away_from_key_light() -> None:
    w, h = 240, 160
    key = np.array(RenderParams().lamp_key[:2])
    away = -key / np.linalg.norm(key)
    cam = Camera.make(RenderParams().camera, w, h)
    with_obj = scene(obj("cube", 0, 0, rotation=0.3))
    img_o = render_scene(with_obj, w, h).astype(float).mean(axis=2)
    img_e = render_scene(scene(), w, h).astype(float).mean(axis=2)
    ids = render_ids(with_obj, w, h)
    ang = np.linspace(0, 2 * np.pi, 72, endpoint=False)
    ring = np.concatenate([np.stack([d * np.cos(ang), d * np.sin(ang), 0 * ang], 1) for d in (1.2, 1.5, 1.8)])
    px = cam.project(ring).astype(int)
    side = ring[:, :2] @ away / np.linalg.norm(ring[:, :2], axis=1)
    shown = ids[px[:, 1], px[:, 0]] == -1
    away_pts = px[shown & (side > 0.3)]
    lit_pts = px[shown & (side < -0.3)]
    assert len(away_pts) >= 5 and len(lit_pts) >= 5
    ratio_away = img_o[away_pts[:, 1], away_pts[:, 0]] / img_e[away_pts[:, 1], away_pts[:, 0]]
    ratio_lit = img_o[lit_pts[:, 1], lit_pts[:, 0]] / img_e[lit_pts[:, 1], lit_pts[:, 0]]
    assert ratio_away.min() < 0.75  # the key light's shadow
    assert ratio_lit.min() > 0.85  # nothing blocks the key light on its own side
    far = cam.project(np.array([[2.5, -2.5, 0.0]])).astype(int)[0]
    assert img_o[away_pts[:, 1], away_pts[:, 0]].min() < img_o[far[1], far[0]] - 20
    assert abs(img_o[far[1], far[0]] - img_e[far[1], far[0]]) <= 3  # far ground unaffected


@pytest.mark.parametrize(
    "mutate, needle",
    [
        (lambda s: s.update(objects="nope"), "objects"),
        (lambda s: s["objects"][0].update(shape="cone"), "shape"),
        (lambda s: s["objects"][0].update(color="pink"), "color"),
        (lambda s: s["objects"][0].update({"3d_coords": [1, 2]}), "3d_coords"),
        (lambda s: s["objects"][0].update({"3d_coords": [1, float("nan"), 0.7]}), "3d_coords"),
        (lambda s: s["objects"][0].update(rotation="x"), "rotation"),
        (lambda s: s.update(render={"camera": [1, 2]}), "camera"),
        (lambda s: s.update(render={"camera": [0, 0, 0]}), "camera"),
    ],
)
def test_bad_scene_raises_input_error(mutate, needle: str) -> None:
    s = scene(obj("cube", 0, 0))
    mutate(s)
    with pytest.raises(InputError, match=needle):
        render_scene(s)
    with pytest.raises(InputError):
        check_visibility(s)


def test_bad_size_and_non_dict() -> None:
    with pytest.raises(InputError, match="size"):
        render_scene(scene(obj("cube", 0, 0)), 0, 10)
    with pytest.raises(InputError):
        render_scene([1, 2, 3])  # type: ignore[arg-type]


def test_show_image_and_cli(clevr_sample, tmp_path) -> None:
    from vrkit.cli._show_clevr import register_clevr
    from vrkit.viz.clevr_show import questions_for, show_image

    scenes = json.loads((clevr_sample / "scenes.json").read_text())["scenes"]
    qs = json.loads((clevr_sample / "questions.json").read_text())["questions"]
    mine = questions_for(scenes[1], qs)
    assert mine and all(q["image_index"] == scenes[1]["image_index"] for q in mine)
    img = show_image(copy.deepcopy(scenes[1]), mine, 160, 120, panel_width=300)
    assert img.dtype == np.uint8 and img.shape[1] == 460 and img.shape[0] >= 120

    ap = argparse.ArgumentParser()
    register_clevr(ap.add_subparsers())
    out = tmp_path / "show.png"
    args = ap.parse_args(["clevr", "--scenes", str(clevr_sample / "scenes.json"), "--questions",
                          str(clevr_sample / "questions.json"), "--index", "1", "--out", str(out),
                          "--width", "96", "--height", "64"])
    assert args.handler(args) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = ap.parse_args(["clevr", "--scenes", str(clevr_sample / "scenes.json"), "--index", "999",
                         "--out", str(tmp_path / "x.png")])
    with pytest.raises(InputError, match="999"):
        bad.handler(bad)


def test_aspect_squeezes_the_released_frame(sample_scenes: list[dict]) -> None:
    s = sample_scenes[2]
    assert np.array_equal(render_scene(s, 120, 80, aspect=1.5), render_scene(s, 120, 80))
    full = pixel_coords(s, 480, 320)
    small = pixel_coords(s, 128, 128, aspect=1.5)
    for (x, y, d), (xs, ys, ds) in zip(full, small):
        assert abs(xs - x * 128 / 480) <= 1 and abs(ys - y * 128 / 320) <= 1 and math.isclose(d, ds)
    with pytest.raises(InputError, match="aspect"):
        render_scene(s, 32, 32, aspect=0)


def test_camera_fitted_from_stored_pixel_coords(sample_scenes: list[dict]) -> None:
    from vrkit.worlds.clevr.render import fit_camera_to_pixel_coords

    s = copy.deepcopy(sample_scenes[4])
    assert fit_camera_to_pixel_coords(s) is None  # engine-only scenes store zeros
    p = sample_render_params(np.random.default_rng(3))
    for o, pc in zip(s["objects"], pixel_coords(s, 480, 320, params=p)):
        o["pixel_coords"] = pc
    cam = fit_camera_to_pixel_coords(s)
    assert cam is not None and np.abs(np.subtract(cam, p.camera)).max() < 0.05
    # a released-style scene renders with the fitted camera: same ids as with the true camera
    ids_fit = render_ids(s, 120, 80)
    ids_true = render_ids(s, 120, 80, params=RenderParams(camera=p.camera))
    assert (ids_fit != ids_true).mean() < 0.01


def test_empty_scene_and_options() -> None:
    empty = scene()
    img = render_scene(empty, 64, 48)
    assert img.shape == (48, 64, 3) and img.std() > 1  # the ground still shades (light falloff)
    assert pixel_coords(empty) == [] and visible_pixel_counts(empty) == [] and check_visibility(empty)
    s = scene(obj("cylinder", 0, 0, color="cyan", material="metal"), obj("cube", 1.5, 1.5, "small"))
    hq = render_scene(s, 64, 48, quality=2)
    raw = render_scene(s, 64, 48, antialias=False)
    base = render_scene(s, 64, 48)
    assert hq.shape == raw.shape == base.shape
    assert not np.array_equal(raw, base)  # edges were smoothed
    ids = render_ids(s, 64, 48)
    inner = ids == cv_erode(ids)
    assert np.array_equal(raw[inner], base[inner])  # ...and only edges


def cv_erode(ids: np.ndarray) -> np.ndarray:
    """ids where the whole 3x3 neighbourhood has the same id, else a sentinel."""
    p = np.pad(ids, 1, mode="edge")
    same = np.ones(ids.shape, dtype=bool)
    for dy in range(3):
        for dx in range(3):
            same &= p[dy:dy + ids.shape[0], dx:dx + ids.shape[1]] == ids
    return np.where(same, ids, -99)
