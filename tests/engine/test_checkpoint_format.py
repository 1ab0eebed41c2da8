"""Checkpoints written before the reference defaults load with the options they were trained with."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from _tiny_runs import tiny_run

from vrkit.engine.checkpoint_format import FORMAT_KEY, MODEL_FORMAT, with_earlier_defaults
from vrkit.engine.evaluate import load_task


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
