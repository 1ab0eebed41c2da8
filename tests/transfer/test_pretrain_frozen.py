"""Frozen encoders in `vrkit transfer pretrain` (the linear probes and the random frozen encoder): their features
are computed once per video and only the trainable part is fitted on them. The logits, losses, steps and
trainable parameters equal those of running the whole network every step (the path before), up to
floating-point noise; the features are cached beside the fixed sets and a resumed stage loads them."""

from __future__ import annotations

import json

import pytest
import torch
from _cater_fake import FakeSource

from vrkit.models.ivcl import IVCL, ivcl_config
from vrkit.models.ivcl_heads import LinearProbe
from vrkit.transfer.pretrain_fit import OnFeatures, build_classifier, fit, frozen, on_features, predict, seeded


def _data(n: int, seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"frames": torch.randint(0, 256, (n, 4, 3, 32, 32), dtype=torch.uint8, generator=g),
            "snitch_cell": torch.randint(0, 36, (n,), generator=g)}


def _both_paths(make, fine, test):
    """(fit result, test logits) of the whole network on frames and of the trainable part on the features."""
    out = []
    for cached in (False, True):
        net = make()
        net, (f, t), extra = on_features(net, [(fine, "fine"), (test, "test")], 4) if cached else (net, (fine, test),
                                                                                                   {})
        res = fit(net, f, 2, 4, 5e-4, seed=3)
        out.append((res, predict(net, t, 4), extra))
    return out


@pytest.mark.parametrize("kind", ["probe_temporal", "probe_image_only", "random_frozen"])
def test_the_feature_path_gives_the_full_networks_logits_steps_and_parameters(kind, one_thread):
    cfg = ivcl_config("tiny", temporal=kind == "probe_temporal")

    def make():
        if kind == "random_frozen":
            return build_classifier("random_frozen", None, ivcl_config("tiny", temporal=False), {}, seed=5)
        torch.manual_seed(seeded("probe", kind, 5))
        return LinearProbe(IVCL(cfg), 36)

    (old, old_logits, _), (new, new_logits, extra) = _both_paths(make, _data(10, 1), _data(6, 2))
    assert frozen(make()) and extra["features"] == "computed" and extra["feature_seconds"] >= 0
    assert new["steps"] == old["steps"] == 2 * 3  # 10 videos in batches of 4, two epochs
    assert new["trainable_parameters"] == old["trainable_parameters"]
    assert new["epoch_losses"] == pytest.approx(old["epoch_losses"], rel=1e-5)
    assert new_logits.shape == old_logits.shape == (6, 36)
    assert torch.allclose(new_logits, old_logits, atol=1e-5, rtol=1e-4)
    assert not torch.allclose(new_logits, predict(make(), _data(6, 2), 4), atol=1e-3)  # it did train


def test_only_a_frozen_encoder_takes_the_feature_path():
    cfg = ivcl_config("tiny", temporal=False)
    for init in ("scratch", "ivcl"):
        net = build_classifier(init, None, cfg, {}, seed=0)
        assert not frozen(net) and on_features(net, [(_data(2, 0), "x")], 4)[0] is net
    assert isinstance(on_features(build_classifier("random_frozen", None, cfg, {}, seed=0), [(_data(2, 0), "x")],
                                  4)[0], OnFeatures)


def test_a_frozen_encoder_is_in_eval_mode_and_its_features_do_not_depend_on_the_mode():
    net = build_classifier("random_frozen", None, ivcl_config("tiny", temporal=False), {}, seed=0)
    net.train()
    assert net.training and not net.encoder.training and net.temporal.training
    x = _data(2, 0)["frames"].float() / 255
    a = net.features(x)
    net.encoder.train()  # even forced into training mode: no dropout, so the same features
    assert torch.equal(a, net.features(x))


def test_stages_with_a_frozen_encoder_match_the_full_network_and_cache_their_features(tmp_path, one_thread):
    from vrkit.engine.pretrain import from_tree, model_config
    from vrkit.transfer import pretrain as tp
    from vrkit.transfer.pretrain_sizes import pretrain_tree

    spec = tp.PretrainSpec(scale="tiny", seeds=[0], out=tmp_path / "tp", source=FakeSource(), cog=False)
    s, seed = spec.sizes(), 0
    fine, test = tp.fixed_set(spec, s.ft_n, tp.FT_SEED), tp.fixed_set(spec, s.test_n, tp.TEST_SEED)
    cfg = model_config(from_tree(pretrain_tree(s, "image_only", seed), "<scale>"))
    sdir = tmp_path / "tp/ivcl/seed0"
    for stage, make in (("finetune__random_frozen", lambda: build_classifier("random_frozen", None, cfg, {}, seed)),
                        ("probe__random", lambda: (torch.manual_seed(seeded("probe", "random", seed)),
                                                   LinearProbe(IVCL(cfg), 36))[1])):
        res = tp.run_pretrain_recipe(spec, only=stage)[0][stage]
        old = make()  # the path before: the whole network on the frames at every step
        old_res = fit(old, fine, s.ft_epochs, s.batch, s.ft_lr, seed, s.ft_minutes)
        assert {k: res[k] for k in ("steps", "trainable_parameters")} == \
            {k: old_res[k] for k in ("steps", "trainable_parameters")}
        logits = torch.load(sdir / stage / "test_logits.pt")
        assert torch.allclose(logits, predict(old, test, s.batch), atol=1e-5, rtol=1e-4)
        saved = json.loads((sdir / stage / "results.json").read_text())
        assert saved["features"] == "computed" and saved["feature_seconds"] >= 0 and saved["train_seconds"] >= 0
        # resumed (or a --jobs child): the features are loaded from the cache, and the results are the same bytes
        (sdir / stage / "results.json").unlink()
        again = tp.run_pretrain_recipe(spec, only=stage)[0][stage]
        assert again["features"] == "loaded" and again["epoch_losses"] == res["epoch_losses"]
        assert torch.equal(torch.load(sdir / stage / "test_logits.pt"), logits)
    files = sorted(p.name for p in (tmp_path / "tp/ivcl/sets/features").glob("*.pt"))
    assert len(files) == 4  # per encoder (two different random ones) and set (fine-tuning, test)
    assert len({f.split("-")[2] for f in files}) == 2  # keyed by the encoder's weights digest
