"""`vrkit demo` end to end at toy size (seconds of training), and its figure."""

from __future__ import annotations

import json

import pytest

from vrkit.cli import demo

pytestmark = pytest.mark.usefixtures("one_thread")


def test_demo_runs_end_to_end(tmp_path, cog_sample):
    fams = "ExistColor,GetShape"
    out = tmp_path / "demo"
    summary = demo.run_demo(out, minutes=0.05, n_per_family=20, families=fams, seed=1, eval_n=16,
                            overrides=["model.dim=32", "model.steps=2", "data.train.n=64", "data.batch_size=16"],
                            log=lambda s: None, official=cog_sample / "val_4_3_1")
    assert (out / "data" / "val_4_3_1").is_dir() and (out / "run" / "checkpoints" / "last.ckpt").is_file()
    assert not (out / "data" / "train_4_3_1").exists()  # training streams fresh examples
    cfg = json.loads(json.dumps(__import__("yaml").safe_load((out / "run" / "config.yaml").read_text())))
    assert cfg["data"]["train"]["kind"] == "stream"
    png = (out / "accuracy.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads((out / "demo.json").read_text())
    assert saved["families"] == ["ExistColor", "GetShape"] and summary["steps"] >= 1
    fresh, official = saved["eval"]["fresh generated"], saved["eval"]["official val_4_3_1 sample"]
    assert fresh["examples"] == 16
    assert official["examples"] == 100 and set(official["families"]) == {"ExistColor", "GetShape"}
    base = saved["baselines"]  # answering without looking, per family: prior >= chance, both in (0, 1]
    assert set(base["families"]) == {"ExistColor", "GetShape"}
    for fam in base["families"].values():
        assert 0 < fam["chance"] <= fam["prior"] <= 1 and fam["chance"] == pytest.approx(1 / fam["answers"])


def test_official_sample_is_located_next_to_the_repo(shared_data):
    assert demo.official_sample_dir() == shared_data / "cog-official-sample" / "val_4_3_1"


def test_demo_refuses_a_non_positive_budget_before_any_work(tmp_path, capsys):
    from vrkit.cli import main

    out = tmp_path / "demo"
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--minutes", "-1", "--out", str(out)])
    assert exc.value.code == 2 and "--minutes" in capsys.readouterr().err and not out.exists()


def test_demo_devices_auto_is_one_process_per_core_at_most_two(monkeypatch):
    import argparse
    import os

    for cores, expected in ((1, 1), (2, 2), (16, 2)):
        monkeypatch.setattr(os, "cpu_count", lambda c=cores: c)
        assert demo.demo_devices("auto") == expected
    assert demo.demo_devices("3") == 3
    with pytest.raises(argparse.ArgumentTypeError):
        demo.demo_devices("0")


def test_demo_over_two_ddp_processes(tmp_path):
    """Lightning re-runs the command for the second process: one demo.json, the figure, and a step count that
    covers both processes' examples."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(demo.__file__).resolve().parents[2]
    out = tmp_path / "demo"
    env = {**os.environ, "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    res = subprocess.run([sys.executable, "-m", "vrkit", "demo", "--out", str(out), "--minutes", "0.05",
                          "--families", "ExistColor,GetShape", "--eval-n", "16", "--devices", "2", "--threads", "1",
                          "model.dim=32", "model.steps=2", "data.train.n=64", "data.batch_size=16"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    saved = json.loads((out / "demo.json").read_text())
    assert saved["devices"] == 2 and saved["train_examples"] == saved["steps"] * 16 * 2
    assert res.stdout.count("trained ") == 1  # only the first process reports
    assert (out / "accuracy.png").is_file()
