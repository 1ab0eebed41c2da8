"""COG renderer (docs/world-cog.md, 'Rendering'): pixel identity with the original, fast == reference, CLI render
and show."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vrkit.cli import main
from vrkit.errors import InputError
from vrkit.worlds.cog._render_shapes import sprite_table
from vrkit.worlds.cog.constants import COLOR_RGB, COLORS, SHAPE_INDEX, SHAPES
from vrkit.worlds.cog.io import read_file
from vrkit.worlds.cog.render import (
    render_batch,
    render_example,
    render_example_reference,
    render_into,
)

VARIANTS = ("4_3_1", "8_7_10")


def _load_ref(cog_sample: Path, suffix: str) -> list[tuple[str, dict, np.ndarray]]:
    base = cog_sample / f"render_ref_val_{suffix}"
    arrays = np.load(base.with_suffix(".npz"))
    rows = [json.loads(line) for line in base.with_suffix(".jsonl").read_text().splitlines() if line.strip()]
    assert sorted(r["key"] for r in rows) == sorted(arrays.files)
    return [(r["key"], r["example"], arrays[r["key"]]) for r in rows]


def _same_as_original(ours: np.ndarray, ref: np.ndarray, example: dict) -> bool:
    """Ours has E = epochs frames; the original renderer stopped after the last non-empty frame for the
    fixed-scene families of the hard variant (docs/world-cog.md, 'Fixed-scene families'): the frames it has must
    match, ours beyond are black."""
    k = ref.shape[0]
    return (ours.shape == (example["epochs"], *ref.shape[1:]) and ours.dtype == np.uint8
            and np.array_equal(ours[:k], ref) and not ours[k:].any())


@pytest.mark.parametrize("suffix", VARIANTS)
def test_pixel_identical_to_original(cog_sample: Path, suffix: str) -> None:
    refs = _load_ref(cog_sample, suffix)
    batch = render_batch([ex for _, ex, _ in refs])
    bad = [key for (key, ex, ref), b in zip(refs, batch)
           if not (_same_as_original(render_example(ex), ref, ex) and _same_as_original(b, ref, ex)
                   and _same_as_original(render_example_reference(ex), ref, ex))]
    assert not bad, f"{len(bad)}/{len(refs)} arrays differ, e.g. {bad[:5]}"
    assert len(refs) == (132 if suffix == "4_3_1" else 88)


def test_empty_trailing_frames_kept(cog_sample: Path) -> None:
    refs = _load_ref(cog_sample, "8_7_10")
    short = [(ex, ref) for _, ex, ref in refs if ref.shape[0] < ex["epochs"]]
    assert short, "the sample should contain fixed-scene examples with empty trailing frames"
    for ex, _ in short:
        frames = render_example(ex)
        assert frames.shape[0] == ex["epochs"] == 8 and not frames[4:].any() and frames[:4].any()


@pytest.mark.parametrize("size", [50, 97, 160, 224])
def test_other_sizes_match_reference(cog_sample: Path, size: int) -> None:
    exs = [ex for s in VARIANTS for _, ex, _ in _load_ref(cog_sample, s)[::9]]
    out = render_batch(exs, size)
    for ex, frames in zip(exs, out):
        assert frames.shape == (ex["epochs"], size, size, 3) and frames.dtype == np.uint8
        assert np.array_equal(frames, render_example_reference(ex, size))
        assert np.array_equal(render_example(ex, size), frames)


def test_sprite_geometry_matches_spec() -> None:
    """Pixel counts and boxes of the original renderer at S = 112 (independent of the renderer's own code paths)."""
    t112, t224 = sprite_table(112), sprite_table(224)
    counts = {s: int(t112.count[SHAPE_INDEX[s]]) for s in SHAPES}
    assert {s: counts[s] for s in ("circle", "square", "cross", "triangle", "vbar", "hbar")} == {
        "circle": 81, "square": 121, "cross": 61, "triangle": 104, "vbar": 65, "hbar": 65}
    assert (counts["a"], counts["g"], counts["i"], counts["m"], counts["z"]) == (68, 88, 39, 93, 59)
    k = SHAPE_INDEX["g"]  # g: dx -2..6, dy -3..10, the same at every size
    for t in (t112, t224):
        assert t.lo[k].tolist() == [-3, -2] and t.hi[k].tolist() == [10, 6]
    v, h = SHAPE_INDEX["vbar"], SHAPE_INDEX["hbar"]
    assert (t224.hi[v] - t224.lo[v] + 1).tolist() == [27, 11] and (t224.hi[h] - t224.lo[h] + 1).tolist() == [11, 27]
    c = SHAPE_INDEX["cross"]
    assert t112.hi[c].tolist() == [6, 6] and t224.hi[c].tolist() == [13, 13]


def test_overlap_draw_order_by_colour_name() -> None:
    """Same location: objects are drawn in (x, y, colour name, shape name) order, later on top."""
    def obj(color: str, shape: str) -> dict:
        return {"color": color, "epochs": 0, "is_distractor": False, "location": [0.5, 0.5], "shape": shape}

    for objs in ([obj("red", "square"), obj("blue", "square")], [obj("blue", "square"), obj("red", "square")]):
        ex = {"answers": ["true"], "epochs": 1, "family": "Exist", "objects": objs, "question": "?"}
        for frames in (render_example(ex), render_batch([ex])[0], render_example_reference(ex)):
            assert tuple(frames[0, 56, 56]) == COLOR_RGB["red"]  # "red" > "blue": drawn last
    ex["objects"] = [obj("red", "square"), obj("red", "circle")]  # same colour: "square" > "circle" wins
    corner = (56 - 5, 56 - 5)  # in the square, outside the circle
    assert tuple(render_example(ex)[0][corner]) == COLOR_RGB["red"]
    assert np.array_equal(render_example(ex), render_example_reference(ex))


_coord = st.one_of(st.floats(0.0, 1.0), st.floats(0.0, 0.12), st.floats(0.88, 1.0)).map(lambda v: round(v, 3))


@st.composite
def _examples(draw: st.DrawFn) -> dict:
    E = draw(st.integers(1, 5))
    objects = []
    for _ in range(draw(st.integers(0, 14))):
        ep = draw(st.one_of(st.integers(0, E - 1), st.just(list(range(E)))))
        objects.append({"color": draw(st.sampled_from(COLORS)), "epochs": ep, "is_distractor": False,
                        "location": [draw(_coord), draw(_coord)], "shape": draw(st.sampled_from(SHAPES))})
    return {"answers": ["invalid"] * E, "epochs": E, "family": "Exist", "objects": objects, "question": "?"}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(exs=st.lists(_examples(), min_size=1, max_size=4), size=st.sampled_from([112, 224, 64, 131]))
def test_fast_equals_reference_property(exs: list[dict], size: int) -> None:
    refs = [render_example_reference(ex, size) for ex in exs]
    for ref, ex, b in zip(refs, exs, render_batch(exs, size)):
        assert np.array_equal(b, ref)
        assert np.array_equal(render_example(ex, size), ref)
    T = max(ex["epochs"] for ex in exs) + 1
    out = np.full((len(exs), T, size, size, 3), 7, dtype=np.uint8)  # stale content must be cleared
    render_into(exs, out)
    for i, ref in enumerate(refs):
        assert np.array_equal(out[i, : len(ref)], ref) and not out[i, len(ref):].any()


def test_bad_input_raises() -> None:
    ex = {"answers": ["true"], "epochs": 1, "family": "Exist", "question": "?",
          "objects": [{"color": "red", "epochs": 1, "is_distractor": False, "location": [0.5, 0.5], "shape": "a"}]}
    for fn in (render_example, render_example_reference, lambda e: render_batch([e])):
        with pytest.raises(InputError):
            fn(ex)
    ex["objects"][0]["epochs"] = 0
    with pytest.raises(InputError, match="size"):
        render_example(ex, 20)
    ex["objects"][0]["location"] = [float("nan"), 0.5]
    for fn in (render_example, render_example_reference, lambda e: render_batch([e])):
        with pytest.raises(InputError, match="non-finite"):
            fn(ex)
    ex["objects"][0]["location"] = [0.5, 0.5]
    ex["objects"][0]["color"] = "chartreuse"
    for fn in (render_example, render_example_reference, lambda e: render_batch([e])):
        with pytest.raises(InputError, match="chartreuse"):
            fn(ex)
    assert render_batch([]) == []


def test_cli_render_writes_npz(cog_sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = cog_sample / "val_8_7_10" / "cog_GoColorOf.json.gz"
    out = tmp_path / "frames.npz"
    assert main(["cog", "render", str(src), "--limit", "3", "--out", str(out)]) == 0
    assert "3 examples" in capsys.readouterr().out
    exs = read_file(src)
    with np.load(out) as z:
        assert sorted(z.files) == ["0", "1", "2"]
        for i in range(3):
            a = z[str(i)]
            assert a.shape == (8, 112, 112, 3) and a.dtype == np.uint8
            assert np.array_equal(a, render_example_reference(exs[i]))
    again = tmp_path / "again.npz"
    assert main(["cog", "render", str(src), "--limit", "3", "--out", str(again)]) == 0
    assert again.read_bytes() == out.read_bytes()  # deterministic bytes
    out224 = tmp_path / "big"  # no .npz suffix: the name is kept as given
    assert main(["cog", "render", str(src), "--limit", "500", "--size", "224", "--out", str(out224)]) == 0
    assert "only 50" in capsys.readouterr().out
    with np.load(out224) as z:
        assert len(z.files) == 50 and z["49"].shape == (8, 224, 224, 3)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp files left


def test_cli_render_bad_file_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "cog_bad.json"
    bad.write_text('{"answers": ["true"], "epochs": 1}\nnot json\n')
    out = tmp_path / "o.npz"
    assert main(["cog", "render", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(bad) in err[0]
    assert not out.exists()
    assert main(["cog", "render", str(tmp_path / "missing.json.gz"), "--out", str(out)]) == 2
    assert "missing.json.gz" in capsys.readouterr().err


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_show_cog_writes_png(cog_sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    for suffix, frames in (("4_3_1", 4), ("8_7_10", 8)):
        src = cog_sample / f"val_{suffix}" / "cog_GoColor.json.gz"
        png = tmp_path / f"{suffix}.png"
        assert main(["show", "cog", str(src), "--index", "2", "--out", str(png)]) == 0
        assert "GoColor" in capsys.readouterr().out
        w, h = _png_size(png)
        assert 140 * frames < w < 220 * frames and 200 < h < 400
        assert png.stat().st_size > 5000
    assert main(["show", "cog", str(src), "--index", "50", "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert "50 examples" in err and str(src) in err
    assert not (tmp_path / "x.png").exists()


def test_edge_band_every_shape() -> None:
    """Every shape at every centre offset across each edge (where OpenCV's clipping changes the raster)."""
    S = 112
    band = list(range(-12, 15)) + list(range(S - 14, S + 12))
    centres = [(c, r) for c in band for r in (3, 40, S - 3)] + [(c, r) for r in band for c in (2, 71, S - 2)]
    exs = [{"answers": ["true"], "epochs": 1, "family": "Exist", "question": "?",
            "objects": [{"color": "white", "epochs": 0, "is_distractor": False,
                         "location": [(cx + 0.5) / S, (cy + 0.5) / S], "shape": shape}]}
           for shape in SHAPES for cx, cy in centres]
    bad = [ex["objects"][0] for ex, fast in zip(exs, render_batch(exs, S))
           if not np.array_equal(fast, render_example_reference(ex, S))]
    assert not bad, f"{len(bad)} edge placements differ, e.g. {bad[:3]}"
    sample = exs[:: 7]
    assert all(np.array_equal(render_example(ex, S), render_example_reference(ex, S)) for ex in sample)
