"""Datasets carry their own proof (issue 8, defects 1, 2, 5, 7): a generate run writes a split whole or not at
all, refuses to mix into an existing one, and readers read exactly what the manifest lists."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vrkit.cli import main
from vrkit.errors import InputError
from vrkit.utils.atomic import atomic_dir, atomic_path, clean_stale_temps, dir_lock
from vrkit.worlds.cog.io import expand_paths


def _gen(out: Path, *extra: str) -> int:
    return main(["generate", "cog", "--families", "GetColor,ExistShape", "--n-per-family", "6", "--quiet",
                 "--out", str(out), *extra])


def _err_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    return err[0]


def test_second_run_into_a_written_split_is_refused_and_changes_nothing(tmp_path, capsys):
    assert _gen(tmp_path / "D", "--seed", "1", "--split", "val") == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "D" / "val_4_3_1").iterdir()}
    assert _gen(tmp_path / "D", "--seed", "2", "--split", "val", "--families", "GetColor") == 2
    assert "not empty" in _err_line(capsys)
    assert {p.name: p.read_bytes() for p in (tmp_path / "D" / "val_4_3_1").iterdir()} == before


def test_concurrent_run_is_refused_while_another_holds_out(tmp_path, capsys):
    (tmp_path / "D").mkdir()
    with dir_lock(tmp_path / "D"):
        assert _gen(tmp_path / "D") == 2
    assert "another vrkit process" in _err_line(capsys)
    assert not (tmp_path / "D" / "train_4_3_1").exists()
    assert _gen(tmp_path / "D") == 0  # the lock is gone with its holder


def test_a_split_filled_meanwhile_is_never_mixed(tmp_path):
    target = tmp_path / "split"
    with pytest.raises(InputError, match="another process meanwhile"), atomic_dir(target) as tmp:
        (tmp / "mine").write_text("a")
        target.mkdir()
        (target / "theirs").write_text("b")
    assert [p.name for p in target.iterdir()] == ["theirs"]
    assert [p.name for p in tmp_path.iterdir()] == ["split"]  # our temp directory is gone


def test_overwrite_replaces_the_split_as_a_whole(tmp_path, capsys):
    assert _gen(tmp_path / "D", "--train-files", "3") == 0
    assert _gen(tmp_path / "D", "--train-files", "1", "--overwrite") == 0
    split = tmp_path / "D" / "train_4_3_1"
    assert sorted(p.name for p in split.iterdir()) == ["cog_0.json.gz"]
    capsys.readouterr()
    assert main(["cog", "check", str(split)]) == 0
    assert capsys.readouterr().out.strip().endswith("checked 12 examples, 0 disagree")


def test_readers_refuse_unlisted_and_missing_files(tmp_path):
    assert _gen(tmp_path / "D", "--train-files", "2") == 0
    split = tmp_path / "D" / "train_4_3_1"
    stale = split / "cog_5.json.gz"
    stale.write_bytes((split / "cog_0.json.gz").read_bytes())
    with pytest.raises(InputError, match="not listed in the split's manifest") as err:
        expand_paths([tmp_path / "D"])
    assert err.value.path == str(stale)
    stale.unlink()
    (split / "cog_1.json.gz").unlink()
    with pytest.raises(InputError, match="listed in manifest.train_4_3_1.json is missing"):
        expand_paths([split])


def test_a_writers_temp_directory_is_not_read(tmp_path):
    assert _gen(tmp_path / "D") == 0
    hidden = tmp_path / "D" / ".train_4_3_1.999999.abc.tmp"
    hidden.mkdir()
    (hidden / "cog_9.json.gz").write_bytes(b"partial")
    assert [p.name for p in expand_paths([tmp_path / "D"])] == ["cog_0.json.gz"]


def test_empty_inputs_are_errors(tmp_path, capsys):
    empty = tmp_path / "cog_0.json.gz"
    empty.write_bytes(b"")
    assert main(["cog", "check", str(empty)]) == 2
    assert _err_line(capsys).endswith("cog_0.json.gz: no examples (empty file)")
    empty.write_bytes(gzip.compress(b""))
    assert main(["cog", "check", str(empty)]) == 2
    from vrkit.data import CogFileDataset

    assert _gen(tmp_path / "D") == 0
    with pytest.raises(InputError, match="no examples of the selected families"):
        CogFileDataset([tmp_path / "D"], families=["GoColor"])


def test_stale_temps_of_dead_writers_are_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    pid = int(dead.stdout)
    stale_file = tmp_path / f".last.ckpt.{pid}.x1y2.tmp"
    stale_dir = tmp_path / f".train_4_3_1.{pid}.ab_c.tmp"
    stale_file.write_bytes(b"half")
    stale_dir.mkdir()
    with atomic_path(tmp_path / "live.bin") as live:  # a live writer's temp (our pid) is kept
        assert str(os.getpid()) in live.name
        assert sorted(clean_stale_temps(tmp_path)) == sorted([stale_file, stale_dir])
        assert live.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["live.bin"]


def test_rerun_of_generate_removes_a_killed_runs_temp(tmp_path):
    (tmp_path / "D").mkdir()
    stale = tmp_path / "D" / ".train_4_3_1.999999999.zz.tmp"  # no process has this pid
    stale.mkdir()
    (stale / "cog_0.json.gz").write_bytes(b"x")
    assert _gen(tmp_path / "D") == 0
    assert sorted(p.name for p in (tmp_path / "D").iterdir()) == ["manifest.train_4_3_1.json", "train_4_3_1"]
    manifest = json.loads((tmp_path / "D" / "manifest.train_4_3_1.json").read_text())
    assert manifest["examples"] == 12


def test_verify_accepts_a_generated_dataset_and_names_each_problem(tmp_path, capsys):
    assert _gen(tmp_path / "D", "--train-files", "2") == 0
    assert _gen(tmp_path / "D", "--split", "val") == 0
    capsys.readouterr()
    assert main(["verify", str(tmp_path / "D")]) == 0
    assert capsys.readouterr().out.strip() == "verified 4 files, 0 problems"
    train = tmp_path / "D" / "train_4_3_1"
    lines = gzip.decompress((train / "cog_0.json.gz").read_bytes()).split(b"\n")
    (train / "cog_0.json.gz").write_bytes(gzip.compress(b"\n".join(lines[:-1])))  # one example fewer
    example = json.loads(lines[0])
    example["answers"] = ["true" if a == "false" else "false" for a in example["answers"]]
    val = tmp_path / "D" / "val_4_3_1" / "cog_GetColor.json.gz"
    (val.parent / "cog_Extra.json").write_text(json.dumps(example))
    assert main(["verify", str(tmp_path / "D")]) == 2
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1] == "verified 4 files, 3 problems"
    assert any(line.startswith(f"{train / 'cog_0.json.gz'}: sha256 differs") for line in out)
    fewer = f"{train / 'cog_0.json.gz'}: 5 examples, manifest.train_4_3_1.json says 6"
    assert any(line.startswith(fewer) for line in out)
    assert any(line.startswith(f"{val.parent / 'cog_Extra.json'}: data file not listed") for line in out)


def test_verify_checks_clevr_files_and_images(tmp_path, capsys):
    out = tmp_path / "C"
    assert main(["generate", "clevr", "--n-images", "2", "--questions-per-image", "2", "--size", "32",
                 "--quiet", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["verify", str(out)]) == 0
    assert capsys.readouterr().out.strip() == "verified 3 files, 0 problems"
    png = sorted((out / "images" / "train").glob("*.png"))[0]
    png.write_bytes(png.read_bytes() + b"\0")
    assert main(["verify", str(out)]) == 2
    first = capsys.readouterr().out.splitlines()[0]
    assert first == f"{out / 'images' / 'train'}: image sha256 differs from manifest.train.json"


def test_verify_of_a_directory_without_manifest_is_one_line(tmp_path, capsys):
    assert main(["verify", str(tmp_path)]) == 2
    assert "no manifest.<split>.json" in _err_line(capsys)


def _no_work(*_a, **_k):  # stands in for the expensive part: reaching it means the output was not checked first
    raise AssertionError("the work ran before the output path was checked")


@pytest.mark.parametrize("kind", ["dir-for-file", "file-for-parent"])
def test_show_and_render_check_their_output_before_the_work(cog_sample, clevr_sample, tmp_path, capsys,
                                                            monkeypatch, kind):
    import vrkit.cli._cog_render
    import vrkit.viz.clevr_show
    import vrkit.viz.cog_show

    monkeypatch.setattr(vrkit.viz.cog_show, "save_cog_strip", _no_work)
    monkeypatch.setattr(vrkit.viz.clevr_show, "write_show_png", _no_work)
    monkeypatch.setattr(vrkit.cli._cog_render, "render_batch", _no_work)
    if kind == "dir-for-file":
        out = tmp_path / "adir"
        out.mkdir()
    else:
        (tmp_path / "afile").write_text("x")
        out = tmp_path / "afile" / "x.png"
    cog_file = sorted((cog_sample / "val_4_3_1").glob("*.json.gz"))[0]
    commands = [["show", "cog", str(cog_file), "--index", "0", "--out", str(out)],
                ["show", "clevr", "--scenes", str(clevr_sample / "scenes.json"), "--index", "0", "--out", str(out)],
                ["cog", "render", str(cog_file), "--limit", "1", "--out", str(out)]]
    for argv in commands:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(tmp_path) in err, (argv, err)


def _gen_clevr(out: Path, *extra: str) -> int:
    return main(["generate", "clevr", "--n-images", "2", "--questions-per-image", "2", "--size", "32", "--quiet",
                 "--out", str(out), *extra])


def test_clevr_generate_writes_a_split_whole_refuses_mixing_and_overwrites(tmp_path, capsys):
    out = tmp_path / "C"
    assert _gen_clevr(out, "--seed", "1") == 0
    files = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert _gen_clevr(out, "--seed", "2") == 2  # the same split again: refused before any work
    assert "not empty" in _err_line(capsys)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == files
    with dir_lock(out):  # another process writing into --out
        assert _gen_clevr(out, "--split", "val") == 2
    assert "another vrkit process" in _err_line(capsys)
    assert not (out / "images" / "val").exists() and not (out / "manifest.val.json").exists()
    assert _gen_clevr(out, "--seed", "2", "--n-images", "1", "--overwrite") == 0
    assert [p.name for p in (out / "images" / "train").iterdir()] == ["CLEVR_train_000000.png"]
    assert json.loads((out / "manifest.train.json").read_text())["splits"]["train"]["seed"] == 2
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp left
    capsys.readouterr()
    assert main(["verify", str(out)]) == 0


def test_clevr_generate_into_a_file_is_one_line(tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    assert _gen_clevr(tmp_path / "f") == 2
    assert _err_line(capsys).endswith("f: exists and is not a directory")


@pytest.mark.parametrize("answer, raw, ok", [(7, False, False), (True, False, False), ("7", False, True),
                                             (7, True, True), (False, True, True), (7.0, True, False)])
def test_clevr_answer_types(clevr_sample, tmp_path, capsys, answer, raw, ok):
    """A released-form answer must be a string: 7 is a type error naming the file, not a disagreement. The
    original engine's raw output (nodes spelled type/side_inputs) keeps its native bool and int answers."""
    data = json.loads((clevr_sample / "questions.json").read_text())
    q = data["questions"][0]
    if raw:
        q["program"] = [{"type": n["function"], "inputs": n["inputs"], "side_inputs": n["value_inputs"]}
                        for n in q["program"]]
    q["answer"] = answer
    bad = tmp_path / "questions.json"
    bad.write_text(json.dumps(data))
    rc = main(["clevr", "check", "--scenes", str(clevr_sample / "scenes.json"), "--questions", str(bad)])
    if ok:
        assert rc in (0, 1)  # read; a wrong value is then a disagreement (exit 1)
        return
    assert rc == 2
    line = _err_line(capsys)
    assert line.startswith(f"vrkit: error: {bad}: questions[0]: 'answer' must be a string")
    if raw:
        return
    from vrkit.data import ClevrDataset

    with pytest.raises(InputError, match=r"questions\[0\]: 'answer' must be a string"):
        ClevrDataset({"questions": bad, "scenes": clevr_sample / "scenes.json"}, path="state", validate=False)
