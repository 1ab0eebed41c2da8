"""SAMNet specifics: reference parameter counts, fused cell = plain reference path, trace, pointing."""

from __future__ import annotations

import pytest
import torch
from test_models import make_batch

from vrkit.models import build_model
from vrkit.models._samnet_cell import Controller, SAMCell
from vrkit.models._samnet_plain import PlainController, PlainSAMCell
from vrkit.models.layers import (
    CogCNN,
    QuestionEncoder,
    feature_map_kernel,
    grid_points,
    location_kernel,
    point_readout,
    point_target,
)
from vrkit.models.presets import PRESETS

REFERENCE_TOTAL = 1_014_879
# the reference implementation's breakdown; our units hold the learned initial control state (controller) and initial
# summary (reasoning cell), 128 each, and the image encoder holds the CNN plus the feature projection.
REFERENCE_UNITS = {"question_encoder": 236_608, "image_encoder": 130_496 + 16_512, "controller": 313_220 + 128,
                   "reasoning_cell": 148_772 + 128, "output_unit": 169_015}
TINY = {"dim": 16, "steps": 3, "slots": 4, "embed_dim": 8, "question_hidden": 8, "cnn_channels": (4, 4, 4, 16)}


pytestmark = pytest.mark.usefixtures("one_thread")


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_parameter_count_matches_the_reference_cog_configuration() -> None:
    with torch.device("meta"):
        model = build_model("samnet", **PRESETS["cog_pixels"])
    units = {k: count(m) for k, m in model.units().items()}
    head = units.pop("pointing_head")
    assert units == REFERENCE_UNITS
    total = count(model)
    assert abs((total - head) - REFERENCE_TOTAL) <= 0.02 * REFERENCE_TOTAL
    assert head == 128 * 49 + 49 + 8 + 1 and total == sum(units.values()) + head
    with torch.device("meta"):
        no_point = build_model("samnet", **{**PRESETS["cog_pixels"], "pointing": False})
    assert count(no_point) == total - head


VRKIT_OPTIONS = {"visual_values": "projected", "question_padding": "masked", "init": "torch",
                 "init_dropout": "per_frame"}


def fused_and_plain(**config) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The same weights on the fused path (default) and on the plain step-by-step path (``cell="plain"``)."""
    torch.manual_seed(0)
    fused = build_model("samnet", **TINY, **config)
    plain = build_model("samnet", **TINY, **config, cell="plain")
    plain.load_state_dict(fused.state_dict())
    assert type(fused.controller) is Controller and type(fused.reasoning_cell) is SAMCell
    assert isinstance(plain.controller, PlainController) and isinstance(plain.reasoning_cell, PlainSAMCell)
    return fused, plain


@pytest.mark.parametrize("options", [{}, VRKIT_OPTIONS, {"null_item": True}],
                         ids=["reference", "vrkit-options", "null-item"])
@pytest.mark.parametrize("path,image", [("pixels", 32), ("pixels", 112), ("state", 32)])
def test_fused_cell_equals_plain_step_by_step_evaluation(path: str, image: int, options: dict) -> None:
    fused, plain = fused_and_plain(path=path, image_size=image, **options)
    if "null_item" in options:
        with torch.no_grad():
            fused.null_item.normal_()
            plain.null_item.copy_(fused.null_item)
    batch = make_batch(3, 3, path)
    if path == "pixels" and image != 32:
        batch["frames"] = torch.rand(3, 3, 3, image, image)
    with torch.no_grad():
        fast, ref = fused.eval()(batch, trace=True), plain.eval()(batch, trace=True)
    for key in ("logits", "point_logits"):
        torch.testing.assert_close(fast[key], ref[key], rtol=1e-4, atol=1e-5)
    assert fast["trace"].keys() == ref["trace"].keys()
    for key, value in fast["trace"].items():
        torch.testing.assert_close(value, ref["trace"][key], rtol=1e-4, atol=1e-5, msg=lambda m, k=key: f"{k}: {m}")


@pytest.mark.parametrize("init_dropout", ["shared", "per_frame"])
def test_fused_and_plain_paths_draw_the_same_dropout_in_training(init_dropout: str) -> None:
    fused, plain = fused_and_plain(path="state", init="torch", init_dropout=init_dropout, dropout=0.5)
    batch = make_batch(3, 3, "state")
    logits = []
    for model in (fused.train(), plain.train()):
        torch.manual_seed(7)
        logits.append(model(batch)["logits"])
    torch.testing.assert_close(logits[0], logits[1], rtol=1e-4, atol=1e-5)
    torch.manual_seed(8)  # another draw gives other masks: dropout is on
    assert not torch.allclose(fused(batch)["logits"], logits[0])
    logits[0].sum().backward()
    logits[1].sum().backward()
    for (name, p), q in zip(fused.named_parameters(), plain.parameters(), strict=True):
        if p.grad is not None or q.grad is not None:
            torch.testing.assert_close(p.grad, q.grad, rtol=1e-3, atol=1e-5, msg=lambda m, n=name: f"{n}: {m}")


def test_cell_option_is_checked() -> None:
    with pytest.raises(ValueError, match="cell must be one of fused, plain"):
        build_model("samnet", **TINY, cell="fast")


@pytest.mark.parametrize("padding,width", [("masked", 10), ("full", 24)])
def test_trace_has_every_step_of_every_frame(padding: str, width: int) -> None:
    torch.manual_seed(0)
    B, T, N, L = 2, 3, 5, 10
    model = build_model("samnet", path="state", question_padding=padding, **TINY).eval()
    batch = make_batch(B, T, "state", N=N, L=L)
    with torch.no_grad():
        tr = model(batch, trace=True)["trace"]
    K, S, d = TINY["steps"], TINY["slots"], TINY["dim"]
    shapes = {"visual_attention": (B, T, K, N), "word_attention": (B, T, K, width), "temporal": (B, T, K, 4),
              "gates": (B, T, K, 4), "read_head": (B, T, K, S), "write_head": (B, T, K, S),
              "write_weight": (B, T, K, S), "point_evidence": (B, T, K, 49), "visual_object": (B, T, K, d),
              "memory_object": (B, T, K, d), "write_head_after": (B, T, K, S), "memory": (B, T, K, S, d),
              "control": (B, K, d)}
    assert {k: tuple(v.shape) for k, v in tr.items()} == shapes
    # the memory after a frame's last write is the memory the next frame reads: its memory object at each step
    # is the read head's mix of those slots
    mo = torch.einsum("bks,bksd->bkd", tr["read_head"][:, 1], tr["memory"][:, 0, -1:].expand(-1, K, -1, -1))
    torch.testing.assert_close(tr["memory_object"][:, 1], mo)
    torch.testing.assert_close(tr["write_head_after"][:, :, :-1], tr["write_head"][:, :, 1:])
    for key in ("visual_attention", "word_attention", "temporal", "read_head", "write_head"):
        torch.testing.assert_close(tr[key].sum(-1), torch.ones(tr[key].shape[:-1]))
    assert ((tr["gates"] > 0) & (tr["gates"] < 1)).all()
    # absent objects and padding words get no attention
    assert (tr["visual_attention"][~batch["object_mask"].unsqueeze(2).expand(-1, -1, K, -1)] == 0).all()
    if padding == "masked":
        pad = (torch.arange(L)[None] >= batch["question_len"][:, None])[:, None, None].expand(-1, T, K, -1)
        assert (tr["word_attention"][pad] == 0).all()
    else:  # the reference attends over the padding too
        assert (tr["word_attention"][..., L:] > 0).all()
    # the write head starts on slot 0
    assert torch.equal(tr["write_head"][:, 0, 0], torch.eye(S)[0].expand(B, S))
    assert "trace" not in model(batch)


def test_untrained_pointing_head_points_at_the_only_object() -> None:
    torch.manual_seed(0)
    batch = make_batch(4, 1, "state", N=3)
    batch["object_mask"][:] = False
    batch["object_mask"][..., 1] = True
    model = build_model("samnet", path="state", **TINY).eval()
    with torch.no_grad():
        pred = point_readout(model(batch)["point_logits"], 7)  # (B, 1, 2)
    target = batch["objects"][:, :, 1, -2:]
    assert ((pred - target).norm(dim=-1) < 0.15).all()


def test_pointing_helpers_follow_the_cog_convention() -> None:
    pts = grid_points(7)
    assert pts.shape == (49, 2) and torch.equal(pts[8], torch.tensor([1 / 6, 1 / 6]))  # row 1, col 1
    target = point_target(torch.tensor([[0.5, 1 / 6]]), 7)
    assert target.argmax().item() == 1 * 7 + 3
    assert (point_readout(torch.log(target), 7) - torch.tensor([0.5, 1 / 6])).norm() < 0.05
    torch.testing.assert_close(location_kernel(torch.rand(5, 2), 7).sum(-1), torch.ones(5))
    assert torch.equal(feature_map_kernel(7, 7, 7), torch.eye(49))
    k = feature_map_kernel(2, 2, 7)  # 32 px: cells centred at 1/4, 3/4
    assert k.shape == (4, 49) and k[0].argmax().item() in (1 * 7 + 1, 1 * 7 + 2, 2 * 7 + 1, 2 * 7 + 2)


@pytest.mark.parametrize("size,hw", [(112, (7, 7)), (32, (2, 2)), (128, (8, 8))])
def test_cog_cnn_geometry(size: int, hw: tuple[int, int]) -> None:
    cnn = CogCNN()
    assert count(cnn) == 130_496 and cnn.feature_hw(size) == hw
    assert not cnn.net[-1].affine and not isinstance(cnn.net[-1], torch.nn.ReLU)
    with torch.no_grad():
        assert cnn(torch.rand(2, 3, size, size)).shape == (2, hw[0] * hw[1], 128)


def test_question_encoder_equals_packed_bilstm() -> None:
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    torch.manual_seed(0)
    enc = QuestionEncoder(79, 16, 12, 8)
    lens = torch.tensor([9, 1, 4, 7])
    q = torch.randint(1, 79, (4, 9)) * (torch.arange(9)[None] < lens[:, None])
    words, qv, mask = enc(q, lens)
    out, (h, _) = enc.lstm(pack_padded_sequence(enc.embedding(q), lens, batch_first=True, enforce_sorted=False))
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=9)
    torch.testing.assert_close(words, enc.word_proj(out))
    torch.testing.assert_close(qv, torch.cat([h[0], h[1]], -1))
    assert torch.equal(mask, torch.arange(9)[None] < lens[:, None])


def test_bf16_autocast_keeps_the_reasoning_core_in_fp32() -> None:
    torch.manual_seed(0)
    model = build_model("samnet", path="pixels", image_size=32, **TINY).eval()
    batch = make_batch(2, 2, "pixels")
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(batch)
    with torch.no_grad():
        ref = model(batch)
    assert out["logits"].dtype == torch.float32 and torch.isfinite(out["logits"]).all()
    torch.testing.assert_close(out["logits"], ref["logits"], rtol=0.1, atol=0.1)


def test_models_command_lists_samnet_with_its_counts(capsys) -> None:
    from vrkit.cli import main
    from vrkit.cli.models import parameter_table

    rows = {r["model"]: r for r in parameter_table()}
    assert rows["samnet"]["cog_pixels"] == REFERENCE_TOTAL + 128 * 49 + 49 + 8 + 1
    assert rows["samnet"]["clevr_pixels"] < rows["samnet"]["cog_pixels"]  # 28 answers, no pointing head
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "samnet" in out and f"{REFERENCE_TOTAL + 6330:,}" in out


@pytest.mark.parametrize("path", ["state", "pixels"])
def test_null_item_takes_the_rest_of_the_attention_and_no_location(path: str) -> None:
    torch.manual_seed(0)
    B, T, N = 3, 2, 5
    model = build_model("samnet", path=path, null_item=True, **TINY)
    with torch.no_grad():
        model.null_item.normal_()  # a non-zero null item, so it competes for attention
    batch = make_batch(B, T, path, N=N)
    model.eval()
    with torch.no_grad():
        out = model(batch, trace=True)
    tr = out["trace"]
    if path == "state":
        items = N
    else:
        h, w = model.image_encoder.cnn.feature_hw(*batch["frames"].shape[-2:])
        items = h * w
    assert tr["visual_attention"].shape == (B, T, TINY["steps"], items)
    assert tr["null_attention"].shape == (B, T, TINY["steps"])
    assert (tr["null_attention"] > 0).all()
    torch.testing.assert_close(tr["visual_attention"].sum(-1) + tr["null_attention"], torch.ones(B, T, TINY["steps"]))
    if path == "state":  # absent objects still get nothing
        absent = ~batch["object_mask"].unsqueeze(2).expand(-1, -1, TINY["steps"], -1)
        assert (tr["visual_attention"][absent] == 0).all()
    # pointing evidence only comes from real items: its mass is what the real items got (times the gates)
    ev = tr["point_evidence"].sum(-1)
    assert (ev <= tr["gates"][..., 0] * (1 - tr["null_attention"]) + tr["gates"][..., 1] + 1e-5).all()
    # the null item is trained
    model.train()
    model(batch)["logits"].sum().backward()
    assert model.null_item.grad.abs().sum() > 0
    assert sum(p.numel() for p in model.parameters()) == sum(
        p.numel() for p in build_model("samnet", path=path, **TINY).parameters()) + TINY["dim"]


def test_pointing_head_is_finite_when_remembered_locations_dip_below_zero():
    """Write weights rep·rh + add·head may exceed 1 (spec), so remembered locations can be slightly negative;
    log(evidence + eps) was NaN there and a COG run trained on NaN weights from update 2,930 on."""
    from vrkit.models.layers.pointing import PointingHead

    head = PointingHead(dim=8, steps=2, grid=3)
    evidence = torch.full((2, 1, 2, 9), 0.05)
    evidence[0, 0, :, 4] = -0.02  # below -eps (1e-3)
    summary = torch.randn(2, 1, 8, requires_grad=True)
    logits = head(summary, evidence.requires_grad_())
    assert torch.isfinite(logits).all()
    torch.log_softmax(logits, -1).sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in head.parameters())
    assert torch.isfinite(evidence.grad).all() and torch.isfinite(summary.grad).all()
    # where the evidence is a proper mass nothing changes: softmax(logits) is the attended location at init
    ok = torch.zeros(1, 1, 2, 9)
    ok[..., 2] = 1.0
    probs = torch.softmax(head(torch.zeros(1, 1, 8), ok), -1)
    assert probs[0, 0, 2] > 0.99
