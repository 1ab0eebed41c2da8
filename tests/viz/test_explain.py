"""`vrkit explain`: PNG/GIF of SAMNet's reasoning on tiny runs (COG state and pixels, CLEVR state), the trace
as drawn (shapes, normalisation, token order), determinism, and the one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _tiny_runs import tiny_run
from PIL import Image

from vrkit.cli import main
from vrkit.engine.evaluate import load_task, parse_data_spec
from vrkit.errors import InputError
from vrkit.viz._explain_draw import frame_figure
from vrkit.viz.explain import explain, explain_example, frame_images, panels_per_frame, png_bytes, select_frames
from vrkit.worlds.cog.state import tokenize

pytestmark = pytest.mark.usefixtures("one_thread")
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return tmp_path_factory.mktemp("explain_runs")


def _ckpt(run) -> str:
    return str(run / "checkpoints" / "last.ckpt")


def test_cog_state_png_gif_and_digest(runs, tmp_path, capsys):
    run = tiny_run(runs)
    prefix = tmp_path / "ex" / "s"
    assert main(["explain", "--ckpt", _ckpt(run), "--data", "gen:canonical:8:5", "--index", "2", "--out", str(prefix),
                 "--frames", "all"]) == 0
    out = capsys.readouterr().out
    assert out.count("frame ") == 4  # one line per frame
    png, gif = prefix.with_suffix(".png"), prefix.with_suffix(".gif")
    assert png.read_bytes()[:8] == PNG
    with Image.open(gif) as g:
        assert g.n_frames == 4  # canonical COG: one GIF frame per sequence frame
        frame_h = g.size[1]
    with Image.open(png) as p:
        assert p.size[1] == 4 * frame_h  # --frames all: the 4 frame figures stacked
    digest = json.loads(prefix.with_suffix(".json").read_text())
    assert len(digest["frames"]) == 4 and digest["frames_shown"] == [0, 1, 2, 3]
    assert digest["reversed_question"] is True
    assert digest["tokens"] == tokenize(digest["question"])[::-1]  # as the model reads it
    for f in digest["frames"]:
        assert len(f["steps"]) == 2  # small config: K = 2
        for s in f["steps"]:
            assert s["word"] in digest["tokens"]
            assert sum(s["temporal"].values()) == pytest.approx(1.0, abs=1e-3)
            assert all(0.0 <= g <= 1.0 for g in s["gates"].values())


def test_trace_as_drawn_and_panels(runs):
    task = load_task(_ckpt(tiny_run(runs)))
    expl = explain_example(task, parse_data_spec(["gen:canonical:8:5"]), 2)
    T, K = expl.frames, expl.steps
    L = len(expl.tokens)
    assert expl.word_attention.shape == (T, K, L)
    pad = expl.pad_attention if expl.pad_attention is not None else 0.0  # reference padding: attended too
    np.testing.assert_allclose(expl.word_attention.sum(-1) + pad, 1.0, atol=1e-4)  # nothing lost
    np.testing.assert_allclose(expl.visual_attention.sum(-1), 1.0, atol=1e-4)
    assert expl.canvas is not None and expl.canvas.shape[0] == T  # frames rendered from the state
    for t in range(T):  # every visible object has a mark, inside the frame, and padding gets no attention
        n = len(expl.objects[t])
        assert n >= 1 and expl.visual_attention[t, :, n:].sum() < 1e-6
        assert all(0 <= m.x <= expl.canvas.shape[2] and 0 <= m.y <= expl.canvas.shape[1] for m in expl.objects[t])
    fig = frame_figure(expl, 0)
    assert len([ax for ax in fig.axes if ax.axison]) == panels_per_frame(expl) == K + 7
    # default frames: those with a target (answer not "invalid"); the last frame otherwise
    want = [t for t in range(T) if expl.target[t] != "invalid"] or [T - 1]
    assert select_frames(expl) == want
    with pytest.raises(InputError, match="outside 0..3"):
        select_frames(expl, "0,7")
    # the same example gives the same bytes
    a = png_bytes(frame_images(expl, [0]))
    b = png_bytes(frame_images(explain_example(task, parse_data_spec(["gen:canonical:8:5"]), 2), [0]))
    assert a == b


def test_cog_pixels_attention_over_feature_map(runs, tmp_path):
    run = tiny_run(runs, path="pixels")
    res = explain(_ckpt(run), ["gen:canonical:4:1"], 0, tmp_path / "p", frames="1")
    e = res.explanation
    assert e.feature_hw == (7, 7) and e.visual_attention.shape[-1] == 49  # 112 px → 7×7 feature map
    assert e.canvas.shape == (4, 112, 112, 3)
    assert res.frames_shown == [1] and res.panels == panels_per_frame(e)
    with Image.open(res.gif) as g:
        assert g.n_frames == 4
        h = g.size[1]
    with Image.open(res.png) as p:
        assert p.size[1] == h


def test_clevr_state_single_frame(tmp_path, monkeypatch):
    monkeypatch.setenv("VRKIT_CACHE_DIR", str(tmp_path / "cache"))
    run = tiny_run(tmp_path, world="clevr")
    res = explain(_ckpt(run), ["gen:A:6"], 1, tmp_path / "c")
    e = res.explanation
    assert e.frames == 1 and res.gif is None and res.png.read_bytes()[:8] == PNG
    assert e.canvas is not None and len(e.objects[0]) == e.visual_attention.shape[-1]  # scene rendered from state
    assert e.target[0] != "invalid" and e.correct[0] is not None


def test_errors_are_one_line(runs, capsys):
    ckpt = _ckpt(tiny_run(runs))
    assert main(["explain", "--ckpt", ckpt, "--data", "gen:canonical:5", "--index", "5"]) == 2
    err = capsys.readouterr().err.strip()
    assert "index 5 out of range" in err and "gen:canonical:5" in err and "\n" not in err
    base = _ckpt(tiny_run(runs, model="cog_baseline"))
    assert main(["explain", "--ckpt", base, "--data", "gen:canonical:5", "--index", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert "cog_baseline" in err and "trace" in err and "\n" not in err
    assert main(["explain", "--ckpt", str(ckpt) + ".missing", "--data", "gen:canonical:5", "--index", "0"]) == 2
    assert "no such checkpoint" in capsys.readouterr().err
