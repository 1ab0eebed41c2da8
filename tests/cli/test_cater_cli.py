"""`vrkit generate cater` and `vrkit cater check`: same bytes for any workers and shards, the checker's exit codes,
and bad input as one line with exit 2 and nothing written."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from vrkit.cli import main
from vrkit.worlds.cater.io import iter_videos

GEN = ["generate", "cater", "--n", "7", "--seed", "3", "--frames", "6", "--size", "16", "--part-size", "3", "--quiet"]


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)
    return rc, out.getvalue(), err.getvalue()


def _digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((root / "cater_train").iterdir())}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cater") / "one"
    assert _run([*GEN, "--out", str(out)])[0] == 0
    return out


def test_same_bytes_for_any_workers_and_shards(data: Path, tmp_path: Path) -> None:
    assert _run([*GEN, "--out", str(tmp_path / "two"), "--workers", "2"])[0] == 0
    for i in range(3):
        assert _run([*GEN, "--out", str(tmp_path / "sh"), "--shard", f"{i}/3"])[0] == 0
    ref = _digest(data)
    assert len(ref) == 6  # parts of 3, 3, 1 videos: .jsonl + .npz each
    assert _digest(tmp_path / "two") == ref == _digest(tmp_path / "sh")
    assert sorted(p.name for p in (tmp_path / "sh").glob("manifest.*")) == [
        f"manifest.cater_train.shard-{i}-of-3.json" for i in range(3)]
    manifest = json.loads((data / "manifest.cater_train.json").read_text())
    assert manifest["world"] == "cater" and manifest["videos"] == 7 and len(manifest["parts"]) == 3


def test_stored_videos_read_back_and_check(data: Path) -> None:
    videos = list(iter_videos(data))
    assert len(videos) == 7 and videos[0].frames.shape == (6, 16, 16, 3)
    assert [v.meta["labels"]["snitch_cell"] for v in videos] == [v.snitch_cell for v in videos]
    rc, out, _ = _run(["cater", "check", str(data), "--render"])
    assert rc == 0 and out.strip().splitlines()[-1] == "checked 7 videos, 0 disagree"


def test_a_disagreeing_label_exits_1(data: Path, tmp_path: Path) -> None:
    for p in (data / "cater_train").glob("part-00000.*"):
        shutil.copy(p, tmp_path / p.name)  # no manifest beside: the edit is a disagreement, not a changed file
    jl = tmp_path / "part-00000.jsonl"
    lines = jl.read_text().splitlines()
    rec = json.loads(lines[1])
    rec["labels"]["snitch_cell"] = (rec["labels"]["snitch_cell"] + 7) % 36
    lines[1] = json.dumps(rec)
    jl.write_text("\n".join(lines) + "\n")
    rc, out, _ = _run(["cater", "check", str(tmp_path)])
    report = out.strip().splitlines()
    assert rc == 1 and report[-1] == "checked 3 videos, 1 disagree"
    assert report[0].startswith(f"{jl}:2: video 1: ") and "snitch_cell" in report[0]


@pytest.mark.parametrize("damage, words", [
    (lambda d: (d / "part-00000.jsonl").write_text("{not json\n"), "part-00000.jsonl:1: corrupt video record"),
    (lambda d: (d / "part-00000.jsonl").write_bytes((d / "part-00000.jsonl").read_bytes()[:-40]),
     "part-00000.jsonl:3: truncated"),
    (lambda d: (d / "part-00000.npz").write_bytes((d / "part-00000.npz").read_bytes()[:-200]),
     "part-00000.npz: truncated or corrupt"),
    (lambda d: (d / "part-00000.jsonl").write_text(
        (d / "part-00000.jsonl").read_text().replace('"action": "slide"', '"action": "teleport"', 1)
        .replace('"action": "pick_place"', '"action": "teleport"', 1)), "unknown action 'teleport'"),
    (lambda d: (d / "part-00000.npz").unlink(), "part-00000.npz: no such file"),
    (lambda d: np.savez(d / "part-00000.npz", **{**dict(np.load(d / "part-00000.npz")), "frames": np.zeros(3)}),
     "array 'frames' has shape (3,)"),
])
def test_bad_parts_are_one_line_and_exit_2(data: Path, tmp_path: Path, damage, words: str) -> None:
    for p in (data / "cater_train").glob("part-00000.*"):
        shutil.copy(p, tmp_path / p.name)
    damage(tmp_path)
    rc, out, err = _run(["cater", "check", str(tmp_path)])
    assert rc == 2 and out == "" and len(err.strip().splitlines()) == 1, (rc, err)
    assert words in err and err.startswith("vrkit: error: ")


def test_a_part_that_differs_from_its_manifest_is_bad_input(data: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(data, copy)
    npz = copy / "cater_train" / "part-00001.npz"
    npz.write_bytes(npz.read_bytes()[:-100])
    for target in (copy, copy / "cater_train", npz):  # the root, the split folder, the part itself
        rc, _, err = _run(["cater", "check", str(target)])
        assert rc == 2 and "part-00001.npz: differs from the sha256 its manifest lists" in err, target
    npz.unlink()
    rc, _, err = _run(["cater", "check", str(copy)])
    assert rc == 2 and "missing" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("extra, words", [
    (["--size", "4"], "size must be in 8..1024"),
    (["--shard", "3/2"], "bad shard 3/2"),
    (["--min-objects", "9", "--max-objects", "8"], "objects must satisfy"),
])
def test_bad_generate_arguments_write_nothing(tmp_path: Path, extra: list[str], words: str) -> None:
    rc, _, err = _run([*GEN, "--out", str(tmp_path / "o"), *extra])
    assert rc == 2 and words in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_an_existing_split_is_refused_unless_overwrite(data: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(data, copy)
    before = _digest(copy)
    rc, _, err = _run([*GEN, "--out", str(copy), "--seed", "4"])
    assert rc == 2 and "not empty" in err and _digest(copy) == before
    assert _run([*GEN, "--out", str(copy), "--seed", "4", "--overwrite", "--part-size", "10"])[0] == 0
    assert _digest(copy) != before and len(_digest(copy)) == 2  # the old parts went: one part of 7 videos


def test_render_settings_travel_with_the_record(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "plain"
    assert _run([*GEN, "--out", str(out), "--no-antialias", "--moving-camera"])[0] == 0
    a, b = next(iter_videos(data)), next(iter_videos(out))
    assert b.meta["config"]["antialias"] is False and b.meta["camera"]["moving"] is True
    assert not np.array_equal(a.frames, b.frames)
    rc, text, _ = _run(["cater", "check", "--render", str(out)])  # re-rendered as the record says
    assert rc == 0 and text.strip().endswith("checked 7 videos, 0 disagree")


def test_verify_knows_cater_splits(data: Path, tmp_path: Path) -> None:
    rc, out, _ = _run(["verify", str(data)])
    assert rc == 0 and out.strip().splitlines()[-1] == "verified 6 files, 0 problems"
    copy = tmp_path / "copy"
    shutil.copytree(data, copy)
    (copy / "cater_train" / "part-00009.jsonl").write_text("")
    jl = copy / "cater_train" / "part-00002.jsonl"
    jl.write_text(jl.read_text().replace('"snitch_cell": ', '"snitch_cell": 1', 1))
    rc, out, _ = _run(["verify", str(copy)])
    lines = out.strip().splitlines()
    assert rc == 2 and lines[-1] == "verified 6 files, 2 problems"
    assert f"{jl}: sha256 differs from manifest.cater_train.json" in lines
    assert f"{copy / 'cater_train' / 'part-00009.jsonl'}: not listed in any manifest" in lines
