"""Training never fails silently or half-way (issue 8, defects 3, 4, 6, 8, 9): --resume takes the run's saved
config, a failed command never rewrites a run's files, Ctrl-C names how to continue, bad values stop at parse
time with one line."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import yaml

from vrkit.cli import main
from vrkit.engine import run as run_mod

pytestmark = pytest.mark.usefixtures("one_thread")

SMALL = {"name": "samnet", "dim": 32, "steps": 2, "slots": 4, "embed_dim": 16, "question_hidden": 32}


def _recipe(tmp: Path, name: str = "tiny", **model) -> Path:
    tree = {"seed": 1, "model": {**SMALL, **model},
            "data": {"families": ["ExistColor", "GetShape"], "train": {"kind": "stream", "n": 16},
                     "val": None, "batch_size": 16},
            "optim": {"lr": 1e-3}, "trainer": {"max_epochs": 1, "log_every_n_steps": 1}}
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    return err[0]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("resume")
    run = tmp / "run"
    assert main(["train", "-c", str(_recipe(tmp)), "--run-dir", str(run)]) == 0
    return run


def _files(run: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run)): p.read_bytes() for p in run.rglob("*") if p.is_file()}


def test_resume_without_config_uses_the_saved_one(finished_run, capsys, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    for rel, data in _files(finished_run).items():
        (run / rel).parent.mkdir(parents=True, exist_ok=True)
        (run / rel).write_bytes(data)
    capsys.readouterr()
    assert main(["train", "--resume", "--run-dir", str(run), "trainer.max_epochs=2"]) == 0
    assert "resume: trainer.max_epochs 1 -> 2" in capsys.readouterr().err
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["model"]["dim"] == 32 and saved["trainer"]["max_epochs"] == 2


@pytest.mark.parametrize("args, refused", [
    (["optim.lr=0.5"], "optim.lr"),
    (["-c", "OTHER"], "model.dim"),
])
def test_resume_refuses_changes_and_rewrites_nothing(finished_run, capsys, tmp_path, args, refused):
    args = [str(_recipe(tmp_path, "other", dim=64)) if a == "OTHER" else a for a in args]
    before = _files(finished_run)
    assert main(["train", "--resume", "--run-dir", str(finished_run), *args]) == 2
    line = _one_line(capsys)
    assert "--resume would change" in line and refused in line and line.startswith(
        f"vrkit: error: {finished_run / 'config.yaml'}")
    assert _files(finished_run) == before


def test_resume_on_a_truncated_checkpoint_is_one_line(finished_run, capsys, tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_bytes((finished_run / "config.yaml").read_bytes())
    last = run / "checkpoints" / "last.ckpt"
    last.write_bytes((finished_run / "checkpoints" / "last.ckpt").read_bytes()[:3000])
    before = _files(run)
    assert main(["train", "--resume", "--run-dir", str(run)]) == 2
    assert "cannot resume from this checkpoint" in _one_line(capsys)
    assert _files(run) == before


class _CtrlC(L.Callback):
    def __init__(self, at_epoch: int) -> None:
        self.at_epoch = at_epoch

    def on_train_batch_start(self, trainer, *args) -> None:
        if trainer.current_epoch == self.at_epoch:
            raise KeyboardInterrupt


@pytest.mark.parametrize("at_epoch, hint", [(0, "nothing to resume"), (1, "--resume --run-dir")])
def test_ctrl_c_in_train_is_130_with_a_hint(tmp_path, capsys, monkeypatch, at_epoch, hint):
    build = run_mod.build_trainer
    monkeypatch.setattr(run_mod, "build_trainer",
                        lambda *a, **k: build(*a, callbacks=[_CtrlC(at_epoch)], **k))
    run = tmp_path / "run"
    rc = main(["train", "-c", str(_recipe(tmp_path)), "--run-dir", str(run), "trainer.max_epochs=2",
               "data.val={kind: stream, n: 16}"])  # validation ends an epoch with a checkpoint
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 130 and err[-1].startswith("vrkit: interrupted; ") and hint in err[-1]
    assert run.exists() == (at_epoch == 1)  # a run without a checkpoint leaves no directory


@pytest.mark.parametrize("override, message", [
    ("model.dim=-3", "model.dim must be >= 1"), ("model.steps=0", "model.steps must be >= 1"),
    ("model.dropout=5", "model.dropout must be in [0, 1)"), ("optim.lr=-1", "optim.lr must be > 0"),
    ("trainer.max_minutes=-1", "trainer.max_minutes must be > 0"), ("optim.lr=.nan", "finite"),
    ("trainer.max_epochs=0", "trainer.max_epochs must be >= 1"),
])
def test_bad_numbers_stop_at_parse_time(tmp_path, capsys, override, message):
    run = tmp_path / "run"
    assert main(["train", "-c", str(_recipe(tmp_path)), "--run-dir", str(run), override]) == 2
    assert message in _one_line(capsys) and not run.exists()


def test_non_utf8_config_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"seed: 0\n# \xff\xfe\n")
    assert main(["train", "-c", str(bad), "--print-config"]) == 2
    assert "not a UTF-8 text file" in _one_line(capsys)


@pytest.mark.parametrize("command", [
    ["eval"], ["predict", "--out", "OUT.jsonl"], ["explain", "--index", "0", "--out", "OUT"],
    ["retrieve", "index", "--out", "OUT"],
])
def test_a_text_file_as_checkpoint_is_one_line(tmp_path, capsys, command):
    text = tmp_path / "notes.ckpt"
    text.write_text("these are my notes, not a checkpoint\n")
    command = [str(tmp_path / c) if c.startswith("OUT") else c for c in command]
    assert main([*command, "--ckpt", str(text), "--data", "gen:canonical:4"]) == 2
    line = _one_line(capsys)
    assert line.startswith(f"vrkit: error: {text}") and "not a vrkit checkpoint" in line


def test_eval_checks_its_outputs_before_the_work(finished_run, tmp_path, capsys, monkeypatch):
    import vrkit.engine.evaluate as ev

    monkeypatch.setattr(ev, "evaluate", lambda *a, **k: pytest.fail("evaluated before checking --out"))
    (tmp_path / "res.json").mkdir()
    ckpt = str(finished_run / "checkpoints" / "last.ckpt")
    assert main(["eval", "--ckpt", ckpt, "--data", "gen:canonical:4", "--out", str(tmp_path / "res")]) == 2
    assert _one_line(capsys).endswith("res.json: is a directory, expected a file")
    (tmp_path / "file").write_text("x")
    out = tmp_path / "file" / "p.jsonl"
    assert main(["predict", "--ckpt", ckpt, "--data", "gen:canonical:4", "--out", str(out)]) == 2
    assert "is not a directory" in _one_line(capsys)


@pytest.mark.parametrize("argv", [
    ["eval", "--ckpt", "C", "--data", "gen:canonical:4", "--batch-size", "0"],
    ["explain", "--ckpt", "C", "--data", "gen:canonical:4", "--index", "0", "--dpi", "0"],
])
def test_bad_numbers_on_the_command_line_exit_2(capsys, argv):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2 and "must be >= 1" in capsys.readouterr().err


@pytest.mark.parametrize("group", ["generate", "cog", "retrieve", "transfer"])
def test_a_bare_group_prints_its_own_help(capsys, group):
    assert main([group]) == 2
    assert capsys.readouterr().out.startswith(f"usage: vrkit {group} ")


def test_empty_inputs_are_one_line_in_eval_and_train(finished_run, tmp_path, capsys):
    """Defect 5: an empty file, or --families that the data lacks, is exit 2 naming the file (never an "acc": NaN
    result or a ValueError traceback), and a train run on it leaves no directory."""
    empty = tmp_path / "e" / "cog_0.json.gz"
    empty.parent.mkdir()
    empty.write_bytes(b"")
    ckpt = str(finished_run / "checkpoints" / "last.ckpt")
    assert main(["eval", "--ckpt", ckpt, "--data", str(empty), "--out", str(tmp_path / "res")]) == 2
    assert _one_line(capsys).endswith(f"{empty}: no examples (empty file)")
    assert not list(tmp_path.glob("res*"))
    data = tmp_path / "D"
    assert main(["generate", "cog", "--families", "GetColor", "--n-per-family", "2", "--split", "val", "--quiet",
                 "--out", str(data)]) == 0
    capsys.readouterr()
    assert main(["eval", "--ckpt", ckpt, "--data", str(data), "--families", "GoColor"]) == 2
    assert "no examples of the selected families" in _one_line(capsys)
    tree = yaml.safe_load(_recipe(tmp_path).read_text())
    tree["data"]["train"] = {"kind": "files", "paths": [str(empty)]}
    (tmp_path / "empty.yaml").write_text(yaml.safe_dump(tree))
    assert main(["train", "-c", str(tmp_path / "empty.yaml"), "--run-dir", str(tmp_path / "run")]) == 2
    assert _one_line(capsys).endswith("no examples (empty file)") and not (tmp_path / "run").exists()


@pytest.mark.parametrize("argv", [["--train-files", "0"], ["--n-per-family", "0"], ["--workers", "0"]])
def test_generate_numbers_are_checked_at_parse_time(tmp_path, capsys, argv):
    with pytest.raises(SystemExit) as exc:
        main(["generate", "cog", "--quiet", "--out", str(tmp_path / "D"), *argv])
    assert exc.value.code == 2 and "must be >= 1" in capsys.readouterr().err
    assert not (tmp_path / "D").exists()


def test_generate_into_an_existing_file_is_one_line(tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    assert main(["generate", "cog", "--families", "GetColor", "--n-per-family", "2", "--quiet",
                 "--out", str(tmp_path / "f")]) == 2
    assert _one_line(capsys).endswith("f: exists and is not a directory")
