"""Engine pieces that need no training: configs and recipes, schedules, samplers, losses and metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vrkit.cli import main
from vrkit.configs import recipes
from vrkit.engine.config import dump_yaml, load_config
from vrkit.engine.data import EpochSampler, batch_size_at
from vrkit.engine.metrics import FamilyAccuracy, frame_correct, frame_losses, summarize
from vrkit.engine.recipe import load_run_config
from vrkit.engine.schedule import warmup_length, warmup_lr
from vrkit.errors import InputError

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
RECIPES = [CONFIGS / p.relative_to(p.parents[1]) for p in recipes()]  # the `vrkit train` recipes (not pretraining)


def test_recipes_exist_for_every_model_world_and_scale():
    from vrkit.models.registry import available_models

    names = {p.relative_to(CONFIGS).as_posix() for p in RECIPES}
    for world in ("cog", "clevr"):
        for model in available_models():
            for scale in ("cpu", "paper"):
                assert f"{world}/{model}_{scale}.yaml" in names


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.relative_to(CONFIGS).as_posix())
def test_every_recipe_loads(recipe, tmp_path):
    cfg = load_config(recipe)
    assert recipe.stem.startswith(cfg.model.name + "_")  # <model>_<scale>, or <model>_<variant>_<scale>
    assert cfg.data.world == recipe.parent.name
    # the resolved YAML loads back to the same config
    tmp = tmp_path / recipe.name
    tmp.write_text(dump_yaml(cfg))
    assert load_config(tmp) == cfg


def test_world_without_datamodule_is_input_error(monkeypatch):
    from vrkit.engine import recipe

    monkeypatch.setitem(recipe.WORLDS, "clevr", "vrkit.engine.no_such_datamodule:Missing")
    with pytest.raises(InputError, match="no training datamodule yet"):
        load_run_config(CONFIGS / "clevr" / "samnet_cpu.yaml")


def test_config_checks_structure_and_the_run_loader_the_world():
    over = ["data.families=[NoSuchFamily]"]
    assert load_config(CONFIGS / "cog" / "samnet_cpu.yaml", over).data.families == ["NoSuchFamily"]
    with pytest.raises(InputError, match=r"samnet_cpu\.yaml.*unknown COG family"):
        load_run_config(CONFIGS / "cog" / "samnet_cpu.yaml", over)
    with pytest.raises(InputError, match="<defaults>.*unknown COG family"):
        load_run_config(None, over)


def test_overrides_apply_with_types():
    cfg = load_config(CONFIGS / "cog" / "samnet_cpu.yaml",
                      ["model.dim=48", "optim.lr=3e-3", "data.families=[ExistColor, Basic]", "trainer.precision=bf16"])
    assert cfg.model.options["dim"] == 48
    assert cfg.optim.lr == pytest.approx(3e-3) and isinstance(cfg.optim.lr, float)
    assert cfg.trainer.precision == "bf16"
    assert cfg.data.families == ["ExistColor", "Basic"]


@pytest.mark.parametrize("override, pattern", [
    (["optim.lrr=1"], "unknown key optim.lrr"),
    (["model.dimm=3"], "unknown key model.dimm"),
    (["model.name=nosuchmodel"], "unknown model 'nosuchmodel'"),
    (["optim.lr=fast"], "optim.lr: expected a number"),
    (["data.batch_size=1.5"], "data.batch_size: expected an integer"),
    (["trainer.precision=fp8"], "trainer.precision: expected one of"),
    (["data.families=[NoSuchFamily]"], "unknown COG family"),
    (["data.train={kind: files, paths: [/nonexistent/cog]}"], "no such file or directory"),
    (["novalue"], "not of the form"),
])
def test_bad_configs_fail_early_with_one_line(override, pattern):
    with pytest.raises(InputError, match=pattern) as info:
        load_run_config(CONFIGS / "cog" / "samnet_cpu.yaml", override)
    assert "\n" not in str(info.value)


def test_cli_bad_config_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: {name: samnet}\noptim:\n  lr: [1, 2\n")
    assert main(["train", "--config", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("vrkit: error: ") and str(bad) in err and len(err.splitlines()) == 1
    assert main(["train", "--config", str(tmp_path / "missing.yaml")]) == 2


def test_print_config_resolves(capsys):
    assert main(["train", "-c", str(CONFIGS / "cog" / "mac_cpu.yaml"), "model.d=40", "--print-config"]) == 0
    out = capsys.readouterr().out
    assert "name: mac" in out and "d: 40" in out


def test_warmup_doubles_then_holds():
    lrs = [warmup_lr(t, 1e-4, 1e-6, 20) for t in range(0, 200, 20)]
    assert lrs[0] == 1e-6 and lrs[1] == 2e-6 and lrs[2] == 4e-6
    assert max(lrs) == 1e-4 and lrs[-1] == 1e-4
    assert all(b >= a for a, b in zip(lrs, lrs[1:]))
    assert warmup_lr(5, 1e-3, None, 1) == 1e-3
    assert warmup_length(1e-4, 1e-6, 20) == 20 * 7  # 2**7 = 128 >= 100


def test_batch_size_schedule():
    assert [batch_size_at(e, 32, 45, 640) for e in (0, 44, 45, 90, 1000)] == [32, 32, 64, 128, 640]
    assert batch_size_at(7, 48, None, None) == 48


def test_epoch_sampler_deterministic_sharded_and_epoch_dependent():
    a = list(EpochSampler(50, epoch=3, seed=1, shuffle=True, num_samples=20))
    assert a == list(EpochSampler(50, epoch=3, seed=1, shuffle=True, num_samples=20))
    assert a != list(EpochSampler(50, epoch=4, seed=1, shuffle=True, num_samples=20))
    # consecutive epochs walk through a permutation: 50 items in 2.5 epochs of 20 → no repeats in the first 50
    walk = sum((list(EpochSampler(50, epoch=e, seed=1, shuffle=True, num_samples=20)) for e in range(3)), [])
    assert sorted(walk[:50]) == list(range(50))
    r0 = list(EpochSampler(50, epoch=0, seed=1, shuffle=True, rank=0, world=2))
    r1 = list(EpochSampler(50, epoch=0, seed=1, shuffle=True, rank=1, world=2))
    assert len(r0) == len(r1) == 25 and not set(r0) & set(r1)
    w = np.zeros(10)
    w[[2, 7]] = 0.5
    assert set(EpochSampler(10, seed=0, num_samples=40, weights=w)) == {2, 7}


def test_epoch_sampler_draws_answer_balanced_epochs(cog_sample):
    """The training sampler's weighted mode is the answer balancing of optim.answer_balanced: a fixed draw per
    (seed, epoch), a new one next epoch, every answer class about equally often."""
    from vrkit.data import CogFileDataset, balanced_weights
    from vrkit.worlds.cog.constants import OUTPUT_INDEX

    labels = CogFileDataset(cog_sample / "val_4_3_1", families=["GetColor", "ExistColor", "GoColor"]).answer_labels()
    w = balanced_weights(labels)
    draw = list(EpochSampler(len(labels), epoch=0, seed=7, num_samples=3000, weights=w))
    assert draw == list(EpochSampler(len(labels), epoch=0, seed=7, num_samples=3000, weights=w)) and len(draw) == 3000
    assert list(EpochSampler(len(labels), epoch=1, seed=7, num_samples=3000, weights=w)) != draw
    classes = np.unique(labels)
    assert abs(np.mean(labels[draw] == OUTPUT_INDEX["true"]) - 1 / len(classes)) < 0.02


def test_reverse_question_is_the_models_inversion():
    """optim.reverse_question reverses as the model says: the words (padding stays at the end) by default, the
    whole padded row for relation_net's reference default, the words again under its COG world defaults."""
    from vrkit.engine.module import ReasoningTask

    q = torch.tensor([[5, 6, 7, 0, 0], [1, 2, 3, 4, 9]])
    batch = {"question": q, "question_len": torch.tensor([3, 5])}
    want = {("cnn_lstm", "cog"): [[7, 6, 5, 0, 0], [9, 4, 3, 2, 1]],
            ("relation_net", "clevr"): [[0, 0, 7, 6, 5], [9, 4, 3, 2, 1]],
            ("relation_net", "cog"): [[7, 6, 5, 0, 0], [9, 4, 3, 2, 1]]}
    for (name, world), rows in want.items():
        small = {"g_width": 8, "f_width": [8], "g_layers": 1} if name == "relation_net" else {}
        cfg = {"model": {"name": name, **small},
               "data": {"world": world, "path": "state", "variant": "A" if world == "clevr" else "canonical"},
               "optim": {"reverse_question": True}}
        task = ReasoningTask(cfg)
        assert task.prepare(batch)["question"].tolist() == rows, (name, world)


def _batch():
    answer = torch.tensor([[3, -100, -100], [-100, 1, -100]])
    point_mask = torch.tensor([[False, True, False], [False, False, False]])
    point = torch.tensor([[[0.0, 0.0], [0.5, 0.5], [0.0, 0.0]], [[0.0, 0.0]] * 3])
    return {"answer": answer, "point": point, "point_mask": point_mask, "family": torch.tensor([0, 2])}


def test_losses_mask_invalid_frames_and_divide_by_all_slots():
    b = _batch()
    logits = torch.randn(2, 3, 5)
    pl = torch.randn(2, 3, 49)
    base = frame_losses({"logits": logits, "point_logits": pl}, b)
    logits2, pl2 = logits.clone(), pl.clone()
    logits2[0, 2] += 100 * torch.randn(5)  # invalid frame: no effect
    pl2[1, 0] += 100 * torch.randn(49)  # not a point frame: no effect
    again = frame_losses({"logits": logits2, "point_logits": pl2}, b)
    assert torch.allclose(base["loss"], again["loss"])
    expected = (torch.nn.functional.cross_entropy(logits[0, 0], b["answer"][0, 0], reduction="sum")
                + torch.nn.functional.cross_entropy(logits[1, 1], b["answer"][1, 1], reduction="sum")) / 6
    assert torch.allclose(base["answer_loss"], expected)
    assert base["point_loss"] > 0


def test_frame_correct_and_family_summary():
    b = _batch()
    logits = torch.zeros(2, 3, 5)
    logits[0, 0, 3] = 5  # right
    logits[1, 1, 0] = 5  # wrong
    pl = torch.full((2, 3, 49), -20.0)
    pl[0, 1, 3 * 7 + 3] = 20.0  # grid point (0.5, 0.5): right
    correct, valid = frame_correct({"logits": logits, "point_logits": pl}, b)
    assert valid.tolist() == [[True, True, False], [False, True, False]]
    assert correct.tolist() == [[True, True, False], [False, False, False]]
    m = FamilyAccuracy(3)
    m.update(correct, valid, b["family"])
    s = summarize(m.compute(), ["A", "B", "C"], {"G": ("A", "C"), "H": ("B",)})
    assert s["families"] == {"A": {"acc": 1.0, "frames": 2}, "C": {"acc": 0.0, "frames": 1}}
    assert s["acc"] == 0.5 and s["frames_acc"] == pytest.approx(2 / 3)
    assert s["groups"] == {"G": {"acc": 0.5, "frames": 3}}


def test_answer_balanced_needs_files():
    with pytest.raises(InputError, match="answer_balanced needs a files train source"):
        load_config(CONFIGS / "cog" / "samnet_cpu.yaml", ["optim.answer_balanced=true"])


def test_datamodule_balancing_growing_batches_and_epoch_determinism(cog_sample):
    from collections import Counter

    from vrkit.engine.datamodules.cog import CogDataModule

    val = str(cog_sample / "val_4_3_1")
    over = [f"data.train={{kind: files, paths: [{val}], n: 96}}", "data.val=null", "data.families=Basic",
            "data.batch_size=8", "optim.batch_double_every=1", "optim.batch_max=32"]
    plain = load_config(None, over)
    bal = load_config(None, [*over, "optim.answer_balanced=true"])
    dm_plain, dm_bal = (CogDataModule(c.data, c.optim, 0) for c in (plain, bal))
    assert [dm_plain.train_dataloader(e).batch_size for e in range(4)] == [8, 16, 32, 32]
    ds = dm_plain.dataset("train")
    labels = ds.answer_labels()

    def spread(dm, epoch):
        idx = list(dm.train_dataloader(epoch).sampler)
        counts = Counter(labels[idx].tolist())
        return max(counts.values()) / len(idx), idx

    p_share, p_idx = spread(dm_plain, 0)
    b_share, b_idx = spread(dm_bal, 0)
    assert b_share < p_share  # the commonest answer ("true"/"false") is less dominant when balanced
    assert spread(dm_bal, 0)[1] == b_idx and spread(dm_bal, 1)[1] != b_idx


def test_trainer_gets_clipping_precision_and_early_stopping(tmp_path):
    from lightning.pytorch.callbacks import EarlyStopping

    from vrkit.engine.run import build_trainer

    cfg = load_config(CONFIGS / "cog" / "samnet_cpu.yaml",
                      ["optim.clip=3", "optim.clip_mode=value", "trainer.precision=bf16", "trainer.max_steps=7"])
    t = build_trainer(cfg, tmp_path, logger=False)
    assert t.gradient_clip_val == 3 and str(t.gradient_clip_algorithm) in ("value", "GradClipAlgorithmType.VALUE")
    assert t.precision == "bf16-mixed" and t.max_steps == 7
    assert any(isinstance(c, EarlyStopping) and c.patience == 8 for c in t.callbacks)


def test_task_rebuilds_without_the_training_files(cog_sample, tmp_path):
    from vrkit.engine.config import to_dict
    from vrkit.engine.module import ReasoningTask

    val = str(cog_sample / "val_4_3_1")
    cfg = load_config(None, [f"data.train={{kind: files, paths: [{val}]}}", "optim.answer_balanced=true",
                             "model.name=relation_net", "model.g_width=16", "model.f_width=16"])
    tree = to_dict(cfg)
    tree["data"]["train"]["paths"] = [str(tmp_path / "moved-away")]  # a checkpoint opened on another machine
    task = ReasoningTask(tree)
    assert task.hparams["config"]["data"]["train"]["paths"] == [str(tmp_path / "moved-away")]
    assert task.cfg.model.options["g_width"] == 16


def test_cosine_decay_factor_shape():
    from vrkit.engine.schedule import decay_factor

    f = [decay_factor(s, 100, 0.5, 0.1) for s in range(0, 121, 10)]
    assert f[:6] == [1.0] * 6  # flat until half of max_steps
    assert all(b < a for a, b in zip(f[5:11], f[6:11]))  # then strictly decreasing
    assert f[10] == pytest.approx(0.1) and f[12] == pytest.approx(0.1)
    assert decay_factor(75, 100, 0.5, 0.0) == pytest.approx(0.5)  # halfway down the cosine


def test_cosine_decay_needs_max_steps(tmp_path):
    import yaml

    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump({"model": {"name": "samnet"}, "optim": {"decay": "cosine"}}))
    with pytest.raises(InputError, match="max_steps"):
        load_config(p)
