"""Checkpoints written by earlier releases (before the reference defaults, before the datamodule sized the models)
load with the options and sizes they were trained with."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from _tiny_runs import tiny_run

from vrkit.engine.checkpoint_format import FORMAT_KEY, MODEL_FORMAT, with_earlier_defaults, with_earlier_io
from vrkit.engine.evaluate import load_task
from vrkit.errors import InputError
from vrkit.models.registry import get_model_class


def _strip_format(src: Path, dst: Path) -> None:
    """A copy of ``src`` as an earlier release wrote it: no format marker."""
    ckpt = torch.load(src, map_location="cpu", weights_only=False)
    del ckpt[FORMAT_KEY]
    torch.save(ckpt, dst)


@pytest.mark.parametrize("model", ["samnet", "relation_net"])
def test_earlier_checkpoint_keeps_its_options(tmp_path: Path, model: str, capsys) -> None:
    run = tiny_run(tmp_path, model=model)
    last = run / "checkpoints" / "last.ckpt"
    assert torch.load(last, map_location="cpu", weights_only=False)[FORMAT_KEY] == MODEL_FORMAT
    current = load_task(last)
    assert "earlier" not in capsys.readouterr().err
    old = tmp_path / "old.ckpt"
    _strip_format(last, old)
    earlier = load_task(old)
    err = capsys.readouterr().err
    assert "written before the reference defaults" in err and str(old) in err
    if model == "samnet":
        assert current.model.cfg.visual_values == "raw" and earlier.model.cfg.visual_values == "projected"
        assert earlier.model.cfg.question_padding == "masked"
    else:  # the COG world defaults already are the earlier choices: nothing changes but the notice
        assert earlier.model.config.coordinates == current.model.config.coordinates == "unit"


def test_explicit_options_win_and_old_flags_are_translated() -> None:
    config = {"model": {"name": "relation_net", "coordinates": False, "question_padding": "full"}}
    patched, filled = with_earlier_defaults(config)
    assert patched["model"]["coordinates"] == "none"  # the earlier flag, as the option it became
    assert patched["model"]["question_padding"] == "full"  # set by the run: kept
    assert "inversion=tokens" in filled and not any(f.startswith("question_padding") for f in filled)
    assert config["model"]["coordinates"] is False  # the caller's dict is not changed
    assert with_earlier_defaults({"model": {"name": "cnn_lstm"}})[1] == []


def _clevr_batch(vocab: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {"question": torch.randint(1, vocab, (3, 7), generator=g), "question_len": torch.tensor([7, 5, 2]),
            "objects": torch.rand(3, 1, 4, 18, generator=g), "object_mask": torch.ones(3, 1, 4, dtype=torch.bool)}


@pytest.mark.parametrize("fmt", [2, None])  # None: no marker at all (format 1)
@pytest.mark.parametrize("model", ["samnet", "relation_net"])
def test_earlier_clevr_checkpoint_keeps_its_vocabulary(tmp_path: Path, model: str, fmt: int | None, capsys) -> None:
    """Before format 3 a CLEVR model whose config left vocab_size unset was built with the preset's 96 tokens."""
    import lightning as L

    from vrkit.engine.config import from_dict, to_dict
    from vrkit.engine.module import ReasoningTask

    config = to_dict(from_dict({"model": {"name": model, **get_model_class(model).small_config()},
                                "data": {"world": "clevr", "variant": "A", "families": "all", "path": "state"}}))
    built = with_earlier_defaults(config)[0] if fmt is None else config  # format 1: the earlier defaults too
    torch.manual_seed(0)
    then = ReasoningTask({**built, "model": {**built["model"], "vocab_size": 96}}).eval()  # as it was built
    assert then.model.state_dict()[_embedding_key(then)].shape[0] == 96
    ckpt = {"state_dict": then.state_dict(), "hyper_parameters": {"config": config},  # vocab_size not saved
            "pytorch-lightning_version": L.__version__, "epoch": 0, "global_step": 0}
    if fmt is not None:
        ckpt[FORMAT_KEY] = fmt
    old = tmp_path / "old.ckpt"
    torch.save(ckpt, old)
    loaded = load_task(old)
    err = capsys.readouterr().err
    assert "keeping its model's earlier sizes (vocab_size=96)" in err and str(old) in err
    assert ("written before the reference defaults" in err) == (fmt is None)
    batch = _clevr_batch(84)
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(batch)["logits"], then.model(batch)["logits"], rtol=0, atol=0)
    # the same checkpoint in today's format is sized by the datamodule (84 words) and cannot hold these weights
    ckpt[FORMAT_KEY] = MODEL_FORMAT
    torch.save(ckpt, old)
    with pytest.raises(InputError, match="size mismatch"):
        load_task(old)
    assert "earlier" not in capsys.readouterr().err


def test_the_vocabulary_pin_leaves_explicit_sizes_and_cog_alone() -> None:
    clevr = {"model": {"name": "mac", "vocab_size": 84}, "data": {"world": "clevr"}}
    assert with_earlier_io(clevr) == (clevr, [])
    assert with_earlier_io({"model": {"name": "mac"}, "data": {"world": "cog"}})[1] == []
    assert with_earlier_io({"model": {"name": "mac"}, "data": {"world": "clevr"}})[1] == ["vocab_size=96"]


def _embedding_key(task) -> str:
    return next(k for k, v in task.model.named_parameters() if k.endswith(("embed.weight", "embedding.weight")))


def test_an_earlier_clevr_run_resumes_with_its_vocabulary(tmp_path: Path, capsys) -> None:
    import yaml

    from vrkit.engine.config import from_dict, load_config
    from vrkit.engine.run import train

    run = tmp_path / "run"
    data = {"world": "clevr", "variant": "A", "families": "all", "path": "state", "train": {"kind": "stream", "n": 32},
            "val": {"kind": "stream", "n": 16}, "batch_size": 16}
    small = get_model_class("relation_net").small_config()
    # what the earlier engine built for a recipe that left vocab_size unset: 96 rows, not in the saved config
    train(from_dict({"seed": 1, "run_dir": str(run), "model": {"name": "relation_net", **small, "vocab_size": 96},
                     "data": data, "trainer": {"max_epochs": 1}}))
    last = run / "checkpoints" / "last.ckpt"
    ckpt = torch.load(last, map_location="cpu", weights_only=False)
    del ckpt["hyper_parameters"]["config"]["model"]["vocab_size"]
    ckpt[FORMAT_KEY] = 2
    torch.save(ckpt, last)
    tree = yaml.safe_load((run / "config.yaml").read_text())
    del tree["model"]["vocab_size"]
    (run / "config.yaml").write_text(yaml.safe_dump(tree))
    capsys.readouterr()
    summary = train(load_config(run / "config.yaml", ["trainer.max_epochs=2"]), resume=True)
    assert "keeping its model's earlier sizes (vocab_size=96)" in capsys.readouterr().err
    assert summary["epochs"] == 2
    resumed = torch.load(last, map_location="cpu", weights_only=False)
    assert resumed[FORMAT_KEY] == MODEL_FORMAT and resumed["hyper_parameters"]["config"]["model"]["vocab_size"] == 96
    assert yaml.safe_load((run / "config.yaml").read_text())["model"]["vocab_size"] == 96  # the next resume too
