"""Model-specific checks of the four baselines (cog_baseline, mac, relation_net, cnn_lstm).

The generic registry checks (shapes, gradients, learning, determinism, reset_head, units) are in test_models.py.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from vrkit.models._baseline_blocks import item_probs_to_point_logits, objects_to_grid
from vrkit.models.layers.question import reverse_within
from vrkit.models.registry import build_model, get_model_class

BASELINES = ["cog_baseline", "mac", "relation_net", "cnn_lstm"]
IMAGE = 32


pytestmark = pytest.mark.usefixtures("one_thread")


def small(name: str, **overrides) -> torch.nn.Module:
    """A tiny model with the options a COG run gives it (the batches below are COG-shaped): relation_net's
    COG world defaults are vrkit's masked options; its CLEVR reference defaults are tested in
    test_rn_reference.py."""
    torch.manual_seed(0)
    cls = get_model_class(name)
    cfg = {"image_size": IMAGE, **cls.small_config(), **getattr(cls, "WORLD_DEFAULTS", {}).get("cog", {}),
           **overrides}
    return build_model(name, **cfg)


def batch_of(B: int, T: int, path: str, N: int = 5, L: int = 8, seed: int = 0) -> dict[str, torch.Tensor]:
    """A COG-shaped batch: objects are [colour one-hot 21, shape one-hot 32, x, y]; row 1 has 3 padded words."""
    g = torch.Generator().manual_seed(seed)
    lens = torch.full((B,), L)
    lens[1 % B] = L - 3
    q = torch.randint(1, 79, (B, L), generator=g) * (torch.arange(L)[None] < lens[:, None])
    b = {"question": q, "question_len": lens, "answer": torch.zeros(B, T, dtype=torch.long),
         "point": torch.rand(B, T, 2, generator=g), "point_mask": torch.zeros(B, T, dtype=torch.bool),
         "family": torch.zeros(B, dtype=torch.long)}
    if path == "pixels":
        b["frames"] = torch.rand(B, T, 3, IMAGE, IMAGE, generator=g)
    else:
        col = F.one_hot(torch.randint(0, 21, (B, T, N), generator=g), 21).float()
        shp = F.one_hot(torch.randint(0, 32, (B, T, N), generator=g), 32).float()
        b["objects"] = torch.cat([col, shp, torch.rand(B, T, N, 2, generator=g)], -1)
        mask = torch.ones(B, T, N, dtype=torch.bool)
        mask[..., N - 2:] = False
        b["object_mask"] = mask
    return b


def run(model: torch.nn.Module, batch: dict, trace: bool = False) -> dict:
    with torch.no_grad():
        return model.eval()(batch, trace=trace)


# ----------------------------------------------------------------------------------------------- all four
@pytest.mark.parametrize("name", BASELINES)
def test_padded_objects_and_words_are_ignored(name: str) -> None:
    model = small(name, path="state")
    b = batch_of(3, 2, "state")
    ref = run(model, b)
    b2 = {k: v.clone() for k, v in b.items()}
    pad_obj = ~b2["object_mask"]
    b2["objects"][pad_obj] = torch.randn(int(pad_obj.sum()), 55) * 10
    L = b2["question"].shape[1]
    pad_word = torch.arange(L)[None] >= b2["question_len"][:, None]
    b2["question"][pad_word] = 7
    out = run(model, b2)
    for key in ("logits", "point_logits"):
        torch.testing.assert_close(out[key], ref[key], atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", BASELINES)
@pytest.mark.parametrize("path", ["state", "pixels"])
def test_frames_are_causal_and_memory_carries_forward(name: str, path: str) -> None:
    model = small(name, path=path)
    b = batch_of(2, 3, path)
    ref = run(model, b)["logits"]
    key = "frames" if path == "pixels" else "objects"
    late = {**b, key: b[key].clone()}
    late[key][:, 2] = late[key][:, 2].flip(0) + 0.5
    out = run(model, late)["logits"]
    torch.testing.assert_close(out[:, :2], ref[:, :2], atol=1e-5, rtol=0)  # the future does not leak back
    early = {**b, key: b[key].clone()}
    early[key][:, 0] = torch.randn(early[key][:, 0].shape, generator=torch.Generator().manual_seed(5)) * 3
    out = run(model, early)["logits"]
    assert (out[:, 2] - ref[:, 2]).abs().max() > 1e-6  # frame 0 still matters at frame 2 (untrained: weakly)


@pytest.mark.parametrize("name", ["relation_net", "cnn_lstm"])
def test_without_temporal_lstm_each_frame_stands_alone(name: str) -> None:
    model = small(name, path="state", temporal=False)
    b = batch_of(2, 3, "state")
    ref = run(model, b)["logits"]
    b["objects"][:, 0] = b["objects"][:, 0] * 0.3 + 0.7
    out = run(model, b)["logits"]
    torch.testing.assert_close(out[:, 1:], ref[:, 1:], atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", BASELINES)
def test_uint8_frames_mean_unit_scale(name: str) -> None:
    model = small(name, path="pixels")
    b = batch_of(2, 2, "pixels")
    raw = (b["frames"] * 255).round().to(torch.uint8)
    ref = run(model, {**b, "frames": raw.float() / 255})["logits"]
    torch.testing.assert_close(run(model, {**b, "frames": raw})["logits"], ref)


@pytest.mark.parametrize("name", BASELINES)
def test_clevr_like_config_without_pointing(name: str) -> None:
    model = small(name, path="state", object_features=13, num_answers=28, vocab_size=90, pointing=False)
    b = batch_of(2, 1, "state")
    b["objects"] = b["objects"][..., :13]
    out = run(model, b)
    assert out["logits"].shape == (2, 1, 28) and "point_logits" not in out
    assert "pointing" not in model.units()


# ----------------------------------------------------------------------------------------------- cog_baseline
def test_cog_baseline_pointing_and_attention_trace() -> None:
    for grid in (7, 5):
        model = small("cog_baseline", path="pixels", grid=grid, time_repeat=3)
        b = batch_of(2, 4, "pixels")
        out = run(model, b, trace=True)
        G = grid * grid
        assert out["point_logits"].shape == (2, 4, G)
        tr = out["trace"]
        assert tr["spatial_attention"].shape == (2, 4, 3, G)
        torch.testing.assert_close(tr["spatial_attention"].sum(-1), torch.ones(2, 4, 3))
        wa = tr["word_attention"]
        assert wa.shape == (2, 4, 3, 8)
        assert wa[1, :, :, 5:].abs().max() < 1e-6  # row 1 has 5 words: its padding gets no attention


def test_cog_baseline_native_grid_at_112_and_object_rasterising() -> None:
    model = small("cog_baseline", path="pixels", image_size=112)
    frames = torch.rand(1, 1, 3, 112, 112)
    assert model.eval().frame_maps({"frames": frames}).shape == (1, 1, 49, 16)
    values = torch.eye(2).unsqueeze(0)  # (1, 2 objects, 2 channels)
    xy = torch.tensor([[[0.0, 0.0], [1.0, 0.5]]])
    maps = objects_to_grid(values, xy, torch.ones(1, 2, dtype=torch.bool), 7)  # (1, 49, 2)
    assert maps[0, :, 0].argmax() == 0  # (x 0, y 0): row 0, col 0
    assert maps[0, :, 1].argmax() == 3 * 7 + 6  # (x 1, y 0.5): row 3, col 6


# ----------------------------------------------------------------------------------------------- mac
def test_mac_steps_in_trace_and_control_attention() -> None:
    model = small("mac", path="state", steps=5)
    out = run(model, batch_of(3, 2, "state"), trace=True)
    tr = out["trace"]
    assert tr["read_attention"].shape == (3, 2, 5, 5)
    assert tr["memory"].shape == (3, 2, 5, 32)
    assert tr["control_attention"].shape == (3, 5, 8)
    torch.testing.assert_close(tr["control_attention"].sum(-1), torch.ones(3, 5))
    # the reference's word attention covers the padding of a shorter question (row 1) ...
    assert tr["control_attention"][1, :, 5:].min() > 1e-3
    assert tr["read_attention"][..., 3:].abs().max() < 1e-6  # the two padded objects are never read
    # ... but not positions past the batch's longest question; word_attention=masked leaves out all padding
    b = batch_of(3, 2, "state")
    wide = {**b, "question": torch.nn.functional.pad(b["question"], (0, 4))}
    wa = run(model, wide, trace=True)["trace"]["control_attention"]
    assert wa[..., 8:].abs().max() < 1e-6
    torch.testing.assert_close(wa[..., :8], tr["control_attention"])
    masked = small("mac", path="state", steps=5, word_attention="masked")
    assert run(masked, b, trace=True)["trace"]["control_attention"][1, :, 5:].abs().max() < 1e-6


@pytest.mark.parametrize("variant", ["reference", "earlier"])
def test_mac_self_attention_and_gate_variants_train(variant: str) -> None:
    model = small("mac", path="state", self_attention=True, memory_gate=True, steps=3,
                  self_attention_variant=variant)
    b = batch_of(2, 2, "state")
    out = model.train()(b)
    (out["logits"].sum() + out["point_logits"].sum()).backward()
    for p in model.write.parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0


def test_object_attention_to_grid_logits_match_the_cog_target() -> None:
    from vrkit.models.layers import point_target

    xy = torch.tensor([[[1 / 3, 2 / 3], [0.9, 0.1]]])
    probs = torch.tensor([[1.0, 0.0]])
    pred = torch.softmax(item_probs_to_point_logits(probs, xy, 7), -1)
    torch.testing.assert_close(pred[0], point_target(xy[0, 0], 7), atol=1e-4, rtol=0)


# ----------------------------------------------------------------------------------------------- relation_net
def test_reverse_within_keeps_padding_at_the_end() -> None:
    q = torch.tensor([[1, 2, 3, 0], [4, 5, 0, 0]])
    assert reverse_within(q, torch.tensor([3, 2])).tolist() == [[3, 2, 1, 0], [5, 4, 0, 0]]


def _other_question(b: dict) -> dict:
    return {**b, "question": (b["question"] * 3 % 78 + 1) * (b["question"] > 0)}


@pytest.mark.parametrize(
    ("k", "a", "kind", "dim"),
    [(0, None, "2s", 2 * 55), (2, None, "2s", 32), (3, 2, "avf", 32), (3, 2, "2s", 32), (4, 4, "avf", 32)],
)
def test_rn_feature_shapes_and_question_independence(k: int, a: int | None, kind: str, dim: int) -> None:
    model = small("relation_net", path="state", g_layers=4, q_inject_layer=k, aggregate_layer=a)
    injected = model.g.layers[k] if k < 4 else model.f[0]
    assert injected.in_features == (2 * 55 if k == 0 else 32) + 32  # the question (32) joins at layer k
    b = batch_of(3, 1, "state")
    with torch.no_grad():
        feats = model.eval().extract_features(b, kind)
        assert feats.shape == (3, dim)
        torch.testing.assert_close(model.extract_features(_other_question(b), kind), feats)
        assert (model(_other_question(b))["logits"] - model(b)["logits"]).abs().max() > 1e-5
        assert model.extract_features(batch_of(3, 2, "state"), kind).shape == (3, 2 * dim)


def test_rn_avf_needs_aggregation_before_the_question() -> None:
    model = small("relation_net", path="state", g_layers=4, q_inject_layer=2)
    with pytest.raises(ValueError, match="avf"):
        model.extract_features(batch_of(2, 1, "state"), "avf")
    for bad in ({"q_inject_layer": 5}, {"aggregate_layer": 0}, {"aggregation": "max"}):
        with pytest.raises(ValueError):
            small("relation_net", path="state", g_layers=4, **bad)


def test_rn_sum_pooling_is_avg_times_valid_pairs_and_learned_weights_are_a_distribution() -> None:
    b = batch_of(2, 1, "state")  # 3 valid objects per frame: 9 valid ordered pairs
    feats = {}
    for agg in ("sum", "avg"):
        model = small("relation_net", path="state", g_layers=4, q_inject_layer=2, aggregation=agg)
        feats[agg] = run_features(model, b)
    torch.testing.assert_close(feats["sum"], 9 * feats["avg"], rtol=1e-5, atol=1e-5)
    model = small("relation_net", path="state", g_layers=4, aggregation="learned")
    w = run(model, b, trace=True)["trace"]["pair_weights"]  # (B, T, N, N)
    assert w.shape == (2, 1, 5, 5)
    torch.testing.assert_close(w.sum((-1, -2)), torch.ones(2, 1))
    assert w[..., 3:, :].abs().max() < 1e-6 and w[..., :, 3:].abs().max() < 1e-6


def run_features(model: torch.nn.Module, b: dict) -> torch.Tensor:
    with torch.no_grad():
        return model.eval().extract_features(b, "2s", pool="sum")  # vrkit's raw pooled vector


def test_rn_pixel_objects_carry_coordinates() -> None:
    model = small("relation_net", path="pixels")
    obj, mask, B, T = model.eval().objects(batch_of(2, 3, "pixels"))
    assert (B, T) == (2, 3) and obj.shape == (6, 4, 16 + 2) and mask.all()  # 32 px → 2×2 cells
    assert obj[0, :, -2:].tolist() == [[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]]


def test_rn_input_level_2s_feature_is_the_pooled_pair_concatenation() -> None:
    b = batch_of(2, 1, "state")
    o, m = b["objects"][:, 0], b["object_mask"][:, 0]  # (B, N, F), (B, N)
    pairs = torch.cat([o.unsqueeze(2).expand(-1, -1, 5, -1), o.unsqueeze(1).expand(-1, 5, -1, -1)], -1)
    pm = (m.unsqueeze(2) & m.unsqueeze(1)).unsqueeze(-1).float()
    expected = {"sum": (pairs * pm).sum((1, 2)), "avg": (pairs * pm).sum((1, 2)) / pm.sum((1, 2))}
    for agg, want in expected.items():
        model = small("relation_net", path="state", aggregation=agg)
        torch.testing.assert_close(run_features(model, b), want)
