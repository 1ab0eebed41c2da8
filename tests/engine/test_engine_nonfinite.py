"""A non-finite gradient skips its step instead of turning every weight into NaN (a 19-minute SAMNet run on COG
lost 16 minutes that way); a run that keeps diverging stops with one line."""

from __future__ import annotations

import csv

import pytest
import torch
from test_engine_train import RN, _tiny

from vrkit.cli import main
from vrkit.engine import module as engine_module
from vrkit.engine.config import load_config
from vrkit.engine.run import train

pytestmark = pytest.mark.usefixtures("one_thread")


def _poison(monkeypatch, bad_calls) -> list[int]:
    """Make the training loss NaN on the given training calls (0-based); returns the call counter."""
    calls = [0]
    real = engine_module.frame_losses

    def losses(out, batch, point_weight):
        res = real(out, batch, point_weight)
        if torch.is_grad_enabled():
            if bad_calls is all or calls[0] in bad_calls:
                res = {**res, "loss": res["loss"] * float("nan")}
            calls[0] += 1
        return res

    monkeypatch.setattr(engine_module, "frame_losses", losses)
    return calls


def test_a_nan_step_is_skipped_and_training_goes_on(tmp_path, monkeypatch):
    calls = _poison(monkeypatch, {1, 5})
    res = train(load_config(_tiny(tmp_path, RN), [f"run_dir={tmp_path / 'r'}"]))
    assert calls[0] == 8 and res["steps"] == 8  # 4 steps per epoch, 2 epochs
    last = torch.load(tmp_path / "r" / "checkpoints" / "last.ckpt", weights_only=False)
    weights = last["state_dict"]
    assert all(torch.isfinite(w).all() for w in weights.values() if w.is_floating_point())
    adam = last["optimizer_states"][0]["state"]
    assert {int(s["step"]) for s in adam.values()} == {6}, "the two poisoned steps must not update Adam"
    rows = list(csv.DictReader((tmp_path / "r" / "metrics.csv").open()))
    skipped = [float(r["train/skipped_steps"]) for r in rows if r.get("train/skipped_steps")]
    assert list(dict.fromkeys(skipped)) == [1.0, 2.0]  # the running count of skipped steps is logged
    assert res["val"]["acc"] == res["val"]["acc"]  # validated on finite weights (not NaN)


def test_a_run_that_keeps_diverging_stops_with_one_line(tmp_path, monkeypatch, capsys):
    _poison(monkeypatch, all)
    cfg = _tiny(tmp_path, RN, optim={"max_skipped_steps": 3})
    assert main(["train", "-c", str(cfg), "--run-dir", str(tmp_path / "d")]) == 1
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("vrkit:")]
    assert len(err) == 1 and "training diverged: non-finite gradients in 3 consecutive steps" in err[0]
    cfg = _tiny(tmp_path, RN, optim={"max_skipped_steps": 0})
    assert main(["train", "-c", str(cfg), "--run-dir", str(tmp_path / "e")]) == 2
