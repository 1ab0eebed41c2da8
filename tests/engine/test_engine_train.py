"""Training runs end to end (tiny models, few steps): run directory, eval/predict, every registered model,
bf16, exact resume after kill -9, and 2-process DDP on CPU (gloo)."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from vrkit.cli import main
from vrkit.engine.config import load_config
from vrkit.engine.run import train
from vrkit.worlds.cog.constants import FAMILIES

FAMS = ["ExistColor", "GetShape", "GoColor", "ExistLastColorSameShape"]
ROOT = Path(__file__).resolve().parents[2]
FAMS_ORDER = FAMILIES


def _tiny(tmp: Path, model: dict, **extra) -> Path:
    tree = {
        "seed": 3, "model": model,
        "data": {"families": FAMS, "train": {"kind": "stream", "n": 64}, "val": {"kind": "stream", "n": 32},
                 "batch_size": 16},
        "optim": {"lr": 1e-3, "warmup_start_lr": 2.5e-4, "reverse_question": True},
        "trainer": {"max_epochs": 2, "log_every_n_steps": 1},
    }
    for key, value in extra.items():
        tree[key].update(value)
    path = tmp / "tiny.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


pytestmark = pytest.mark.usefixtures("one_thread")


RN = {"name": "relation_net", "g_width": 32, "f_width": 32, "g_layers": 2, "embedding_size": 16,
      "question_units": 32}


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = "1"
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_run_dir_eval_and_predict(tmp_path, capsys):
    from vrkit.models.registry import get_model_class

    small = get_model_class("samnet").small_config()
    cfg_path = _tiny(tmp_path, {"name": "samnet", **small}, data={"test": {"kind": "stream", "n": 16}})
    run = tmp_path / "run"
    assert main(["train", "-c", str(cfg_path), "--run-dir", str(run)]) == 0
    out = capsys.readouterr().out
    assert "overall (mean of families)" in out and "GetShape" in out
    for name in ("config.yaml", "checkpoints/last.ckpt", "checkpoints/best.ckpt", "metrics.csv",
                 "final_metrics.json"):
        assert (run / name).is_file(), name
    assert list((run / "tb").glob("events.out.tfevents.*"))
    assert load_config(run / "config.yaml").model.options == load_config(cfg_path).model.options
    final = json.loads((run / "final_metrics.json").read_text())
    assert final["steps"] == 2 * 64 // 16 and set(final["val"]["families"]) == set(FAMS)
    assert final["test"]["frames"] > 0
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert {"train/loss_step", "val/acc", "val/group/Basic", "lr"} <= set(rows[0])
    # the same run dir refuses to start again without --resume
    assert main(["train", "-c", str(cfg_path), "--run-dir", str(run)]) == 2
    capsys.readouterr()

    ckpt = run / "checkpoints" / "best.ckpt"
    assert main(["eval", "--ckpt", str(ckpt), "--data", "gen:canonical:24:5", "--out", str(tmp_path / "ev")]) == 0
    table = capsys.readouterr().out
    ev = json.loads((tmp_path / "ev.json").read_text())
    assert ev["examples"] == 24 and "overall (pooled frames)" in table
    lines = (tmp_path / "ev.csv").read_text().splitlines()
    assert lines[0] == "kind,name,frames,acc" and any(x.startswith("group,Basic,") for x in lines)
    assert main(["predict", "--ckpt", str(ckpt), "--data", "gen:canonical:10:5", "--out",
                 str(tmp_path / "p.jsonl")]) == 0
    preds = [json.loads(x) for x in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert len(preds) == 10 and all(len(p["frames"]) == 4 for p in preds)
    # predictions agree with the eval metric on the same data
    assert main(["eval", "--ckpt", str(ckpt), "--data", "gen:canonical:10:5", "--out", str(tmp_path / "ev2")]) == 0
    ev2 = json.loads((tmp_path / "ev2.json").read_text())
    flags = [f["correct"] for p in preds for f in p["frames"] if f["correct"] is not None]
    assert ev2["frames"] == len(flags) and ev2["frames_acc"] == pytest.approx(sum(flags) / len(flags))
    assert main(["eval", "--ckpt", str(tmp_path / "nope.ckpt"), "--data", "gen:canonical:4"]) == 2


def test_every_registered_model_trains_a_step(tmp_path):
    from vrkit.models.registry import available_models, get_model_class

    for name in available_models():
        small = get_model_class(name).small_config()
        cfg = load_config(_tiny(tmp_path, {"name": name, **small}),
                          ["data.train.n=16", "data.val=null", "trainer.max_epochs=1", f"run_dir={tmp_path / name}"])
        res = train(cfg)
        assert res["steps"] == 1 and (tmp_path / name / "checkpoints" / "last.ckpt").is_file(), name


def test_bf16_autocast_trains(tmp_path):
    cfg = load_config(_tiny(tmp_path, RN), ["trainer.precision=bf16", "trainer.max_epochs=1", "data.val.n=16",
                                            f"run_dir={tmp_path / 'bf16'}"])
    res = train(cfg)
    assert res["steps"] == 4 and 0.0 <= res["val"]["acc"] <= 1.0


def test_kill_9_then_resume_matches_uninterrupted_run(tmp_path):
    cfg_path = _tiny(tmp_path, RN, trainer={"max_epochs": 2})
    run = tmp_path / "killed"
    cmd = [sys.executable, "-m", "vrkit", "train", "-c", str(cfg_path), "--run-dir", str(run)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env())
    ckpt = run / "checkpoints" / "last.ckpt"
    deadline = time.time() + 120
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert ckpt.exists() and not (run / "final_metrics.json").exists(), "the run must die mid-training"
    res = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, env=_env())
    assert res.returncode == 0, res.stderr[-2000:]
    resumed = json.loads((run / "final_metrics.json").read_text())

    ref = train(load_config(cfg_path, [f"run_dir={tmp_path / 'ref'}"]))
    ref = json.loads(json.dumps(ref))
    for r in (resumed, ref):
        r.pop("run_dir")
    assert resumed == ref
    a = torch.load(ckpt, weights_only=False)["state_dict"]
    b = torch.load(tmp_path / "ref" / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    epochs = [r["epoch"] for r in csv.DictReader((run / "metrics.csv").open()) if r["val/acc"]]
    assert epochs == ["0", "1"]  # rows of the killed attempt beyond the checkpoint are dropped
    # resuming a finished run trains nothing and keeps its final metrics
    again = train(load_config(cfg_path, [f"run_dir={run}"]), resume=True)
    again.pop("run_dir")
    assert again == resumed and json.loads((run / "final_metrics.json").read_text())["val"] == ref["val"]


def test_ddp_two_cpu_processes(tmp_path):
    cfg_path = _tiny(tmp_path, RN, trainer={"max_epochs": 1})
    run = tmp_path / "ddp"
    res = subprocess.run([sys.executable, "-m", "vrkit", "train", "-c", str(cfg_path), "--run-dir", str(run),
                          "--devices", "2", "--strategy", "ddp"], capture_output=True, text=True, env=_env(),
                         timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    final = json.loads((run / "final_metrics.json").read_text())
    assert final["steps"] == 64 // 16 // 2  # each rank sees half of the epoch
    fams = final["val"]["families"]
    # every validation example counted exactly once over the two ranks
    from vrkit.engine.datamodules.cog import CogDataModule

    cfg = load_config(cfg_path)
    ds = CogDataModule(cfg.data, cfg.optim, cfg.seed).dataset("val")
    expected: dict[str, int] = {}
    for i in range(len(ds)):
        item = ds[i]
        valid = int(((item["answer"] != -100) | item["point_mask"]).sum())
        name = FAMS_ORDER[int(item["family"])]
        expected[name] = expected.get(name, 0) + valid
    assert {f: v["frames"] for f, v in fams.items()} == {f: n for f, n in expected.items() if n}


def test_checkpoints_are_written_atomically(tmp_path):
    from vrkit.engine.run import AtomicCheckpointIO, build_trainer

    cfg = load_config(_tiny(tmp_path, RN))
    trainer = build_trainer(cfg, tmp_path / "r", logger=False)
    io = trainer.strategy.checkpoint_io
    assert isinstance(io, AtomicCheckpointIO)
    target = tmp_path / "c.ckpt"
    target.write_bytes(b"old")

    class Boom:
        def __reduce__(self):
            raise RuntimeError("fail mid-write")

    with pytest.raises(RuntimeError):
        io.save_checkpoint({"a": torch.zeros(3), "b": Boom()}, target)
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []
    io.save_checkpoint({"a": torch.ones(2)}, target)
    assert torch.equal(torch.load(target)["a"], torch.ones(2))


def test_metrics_csv_survives_a_crash_while_a_new_column_is_added(tmp_path, monkeypatch):
    """Lightning rewrites metrics.csv in place when a column appears; a kill then lost all rows (seen in CI)."""
    from vrkit.engine._csvlog import ResumableCSVLogger

    log = ResumableCSVLogger(str(tmp_path))
    log.log_metrics({"val/acc": 0.5, "epoch": 0}, step=3)
    log.save()
    before = (tmp_path / "metrics.csv").read_text()
    log.log_metrics({"train/loss_epoch": 1.0, "epoch": 0}, step=4)  # a new column -> header rewrite

    def die(*a, **k):
        raise KeyboardInterrupt("killed mid-write")

    monkeypatch.setattr(csv.DictWriter, "writerows", die)
    with pytest.raises(KeyboardInterrupt):
        log.save()
    monkeypatch.undo()
    assert (tmp_path / "metrics.csv").read_text() == before
    log.save()
    rows = list(csv.DictReader((tmp_path / "metrics.csv").open()))
    assert [r["val/acc"] for r in rows] == ["0.5", ""] and rows[1]["train/loss_epoch"] == "1.0"


def test_cosine_decay_sets_the_optimizer_lr(tmp_path, monkeypatch):
    from vrkit.engine.schedule import decay_factor

    cfg = load_config(_tiny(tmp_path, RN, optim={"decay": "cosine", "decay_start": 0.25, "decay_floor": 0.1,
                                                 "warmup_start_lr": None},
                            trainer={"max_epochs": 100, "max_steps": 6}), [f"run_dir={tmp_path / 'r'}"])
    res = train(cfg)
    assert res["steps"] == 6  # 4 steps per epoch: the run stops inside its second epoch
    last = torch.load(tmp_path / "r" / "checkpoints" / "last.ckpt", weights_only=False)
    assert last["global_step"] == 6, "the final weights of a run stopped mid-epoch must be checkpointed"
    assert last["optimizer_states"][0]["param_groups"][0]["lr"] == pytest.approx(1e-3 * decay_factor(5, 6, 0.25, 0.1))
    # the final weights were validated: final_metrics holds their accuracy, as eval of last.ckpt shows
    from vrkit.engine import evaluate as ev

    task = ev.load_task(tmp_path / "r" / "checkpoints" / "last.ckpt")
    dm = ev.datamodule_class("cog")(task.cfg.data, task.cfg.optim, task.cfg.seed)
    monkeypatch.setattr(ev, "eval_dataset", lambda t, src: (dm.make_dataset(src, "val"), dm))  # the val split
    again = ev.evaluate(task, task.cfg.data.val)
    assert again["examples"] == 32 and res["val"]["acc"] == pytest.approx(again["acc"])


def test_profiler_writes_per_hook_times(tmp_path):
    cfg = load_config(_tiny(tmp_path, RN), ["trainer.profiler=simple", "trainer.max_epochs=1", "data.val=null",
                                            f"run_dir={tmp_path / 'prof'}"])
    train(cfg)
    text = "".join(p.read_text() for p in (tmp_path / "prof").glob("*profile*.txt"))
    for hook in ("train_dataloader_next", "training_step", "backward", "optimizer_step"):
        assert hook in text, hook
