"""IV-CL (vrkit.models.ivcl): shapes, the masking and its loss, the image-only ablation, determinism."""

from __future__ import annotations

import pytest
import torch

from vrkit.models.ivcl import IVCL, ivcl_config, masked_mse, random_keep
from vrkit.models.ivcl_heads import ClipClassifier, LinearProbe, SetHead, StateClassifier
from vrkit.models.layers.vit import patchify, unpatchify


def _clip(seed: int = 0, b: int = 2, t: int = 4, size: int = 32) -> torch.Tensor:
    return torch.rand(b, t, 3, size, size, generator=torch.Generator().manual_seed(seed))


def test_shapes_of_every_part(one_thread):
    m = IVCL(ivcl_config("tiny"))
    x = _clip()
    out = m(x)
    N, P = (32 // 8) ** 2, 3 * 8 * 8
    assert out["pred"].shape == out["target"].shape == (2, 4, N, P) and out["hidden"].shape == (2, 4, N)
    assert m.features(x).shape == (2, 4, 2, 32)
    assert ClipClassifier(IVCL(ivcl_config("tiny")), 36)(x).shape == (2, 36)
    assert LinearProbe(IVCL(ivcl_config("tiny")), 36)(x).shape == (2, 36)
    objs, mask = torch.rand(2, 4, 5, 21), torch.rand(2, 4, 5) > 0.5
    assert StateClassifier(21, 36, 32, 1, 2)(objs, mask).shape == (2, 36)
    assert torch.equal(unpatchify(patchify(x, 8), 8), x)


@pytest.mark.parametrize("ratio", [0.0, 0.5, 0.75, 0.9])
def test_mask_ratio_is_respected_per_frame(ratio):
    m = IVCL(ivcl_config("tiny", image_size=64, mask_ratio=ratio))
    hidden = m(_clip(size=64))["hidden"]  # 64 patches per frame
    assert (hidden.sum(-1) == round(ratio * 64)).all()
    keep = random_keep(3, 2, 64, ratio)
    assert keep.shape == (3, 2, 64 - round(ratio * 64)) and (keep.diff(dim=-1) > 0).all()


def test_loss_counts_hidden_patches_only():
    pred, target = torch.rand(2, 3, 16, 12), torch.rand(2, 3, 16, 12)
    hidden = torch.rand(2, 3, 16) > 0.5
    base = masked_mse(pred, target, hidden)
    changed = pred.clone()
    changed[~hidden] += 5.0  # visible patches: no effect
    assert torch.allclose(masked_mse(changed, target, hidden), base)
    changed = pred.clone()
    changed[hidden] += 5.0  # hidden patches: the loss moves
    assert masked_mse(changed, target, hidden) > base + 1
    # and the model's own loss is this function over its hidden patches
    m = IVCL(ivcl_config("tiny"))
    out = m(_clip(), generator=torch.Generator().manual_seed(3))
    assert torch.allclose(out["loss"], masked_mse(out["pred"], out["target"], out["hidden"]))


@pytest.mark.parametrize("temporal", [False, True])
def test_image_only_ablation_has_no_temporal_mixing(temporal, one_thread):
    torch.manual_seed(0)
    m = IVCL(ivcl_config("tiny", temporal=temporal)).eval()
    x = _clip()
    y = x.clone()
    y[:, 3] = torch.rand_like(y[:, 3])  # change frame 3 only
    a, b = m.features(x), m.features(y)
    assert not torch.allclose(a[:, 3], b[:, 3])
    same = torch.allclose(a[:, :3], b[:, :3], atol=1e-6)
    assert same is (not temporal)  # image-only: frames 0-2 untouched; IV-CL: they see frame 3
    assert (m.temporal is None) is (not temporal)


def test_same_seed_same_model_and_loss(one_thread):
    def run() -> tuple[torch.Tensor, torch.Tensor]:
        torch.manual_seed(5)
        m = IVCL(ivcl_config("tiny"))
        out = m(_clip(), generator=torch.Generator().manual_seed(1))
        out["loss"].backward()
        return out["loss"].detach(), m.patch_embed.weight.grad.clone()

    (l1, g1), (l2, g2) = run(), run()
    assert torch.equal(l1, l2) and torch.equal(g1, g2)


def test_drop_decoder_keeps_the_encoder_weights():
    m = IVCL(ivcl_config("tiny"))
    state = m.encoder_state()
    assert not any(k.startswith(("decoder.", "to_pixels.", "dec_embed.")) or k == "mask_token" for k in state)
    m2 = IVCL(ivcl_config("tiny")).drop_decoder()
    m2.load_state_dict(state)
    assert not hasattr(m2, "decoder") and torch.equal(m2.features(_clip()), m.features(_clip()))


def test_set_loss_is_small_when_predictions_match_objects_in_any_order():
    objs = torch.rand(1, 1, 3, 5)
    mask = torch.tensor([[[True, True, False]]])
    pred = torch.zeros(1, 1, 4, 5)
    pred[0, 0, 2], pred[0, 0, 0] = objs[0, 0, 0], objs[0, 0, 1]  # matched in another order
    exist = torch.full((1, 1, 4), -20.0)
    exist[0, 0, [0, 2]] = 20.0
    assert SetHead.loss(exist, pred, objs, mask) < 1e-3
    assert SetHead.loss(-exist, pred, objs, mask) > 0.2  # the right features on queries said not to exist
    assert SetHead.loss(exist, pred + 1, objs, mask) > 0.9  # existence right, features off by 1


def test_bad_configs_are_refused():
    with pytest.raises(ValueError, match="multiple of patch"):
        ivcl_config("tiny", image_size=30)
    with pytest.raises(ValueError, match="mask_ratio"):
        ivcl_config("tiny", mask_ratio=1.0)
    with pytest.raises(KeyError):
        ivcl_config("huge")
    with pytest.raises(TypeError, match="depthh"):
        ivcl_config("tiny", depthh=2)
