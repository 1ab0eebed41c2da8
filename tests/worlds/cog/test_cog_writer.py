"""`vrkit generate cog`: official layout, same bytes for any worker count, shards, manifest, errors."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from vrkit.cli import main
from vrkit.errors import InputError
from vrkit.worlds.cog import io
from vrkit.worlds.cog.constants import FAMILIES, VARIANTS, Variant
from vrkit.worlds.cog.writer import GenerateConfig, generate_dataset, plan_files


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _cfg(out: Path, **kw) -> GenerateConfig:
    base = dict(variant=VARIANTS["canonical"], variant_name="canonical", n_per_family=12, split="train", seed=4,
                out=str(out), train_files=3)
    base.update(kw)
    return GenerateConfig(**base)


def test_train_layout_and_official_format(tmp_path):
    manifest = generate_dataset(_cfg(tmp_path))
    d = tmp_path / "train_4_3_1"
    assert sorted(p.name for p in d.iterdir()) == ["cog_0.json.gz", "cog_1.json.gz", "cog_2.json.gz"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.train_4_3_1.json", "train_4_3_1"]
    total = 0
    for k in range(3):
        raw = gzip.decompress((d / f"cog_{k}.json.gz").read_bytes())
        assert not raw.endswith(b"\n")  # last line without trailing newline
        lines = raw.split(b"\n")
        exs = [json.loads(x) for x in lines]
        assert [io.dumps(e).encode() for e in exs] == lines  # sorted keys, original separators
        counts = {f: sum(e["family"] == f for e in exs) for f in FAMILIES}
        assert set(counts.values()) == {4}  # 12 per family split over 3 files
        assert [e["family"] for e in exs] != sorted(e["family"] for e in exs)  # families mixed
        total += len(exs)
    assert manifest["examples"] == total == 12 * 44
    on_disk = json.loads((tmp_path / "manifest.train_4_3_1.json").read_text())
    assert on_disk == manifest and on_disk["seed"] == 4 and on_disk["variant"] == "canonical"
    from vrkit.utils.atomic import sha256_file

    for f in on_disk["files"]:
        assert sha256_file(tmp_path / f["path"]) == f["sha256"]
    assert not list(tmp_path.rglob("*.tmp"))  # no temp files left behind


def test_val_layout_one_file_per_family(tmp_path):
    generate_dataset(_cfg(tmp_path, split="val", n_per_family=5, families=["GetColor", "ExistSpace"]))
    d = tmp_path / "val_4_3_1"
    assert sorted(p.name for p in d.glob("*.gz")) == ["cog_ExistSpace.json.gz", "cog_GetColor.json.gz"]
    exs = io.read_file(d / "cog_GetColor.json.gz")
    assert len(exs) == 5 and {e["family"] for e in exs} == {"GetColor"}


def test_same_bytes_for_any_worker_count(tmp_path):
    generate_dataset(_cfg(tmp_path / "w1", n_per_family=30, train_files=2, workers=1))
    generate_dataset(_cfg(tmp_path / "w2", n_per_family=30, train_files=2, workers=2))
    a, b = _files(tmp_path / "w1"), _files(tmp_path / "w2")
    assert a == b and len(a) == 3


def test_shards_together_write_the_files_of_one_run(tmp_path):
    full = _files_after(tmp_path / "full", _cfg(tmp_path / "full", split="test", n_per_family=3))
    parts: dict[str, bytes] = {}
    for i in range(3):
        parts.update(_files_after(tmp_path / "sh", _cfg(tmp_path / "sh", split="test", n_per_family=3, shard=(i, 3))))
    gz = {k: v for k, v in full.items() if k.endswith(".gz")}
    assert {k: v for k, v in parts.items() if k.endswith(".gz")} == gz and len(gz) == 44
    assert sorted(k for k in parts if "manifest" in k) == [f"manifest.test_4_3_1.shard-{i}-of-3.json" for i in range(3)]


def _files_after(root: Path, cfg: GenerateConfig) -> dict[str, bytes]:
    generate_dataset(cfg)
    return _files(root)


def test_hard_and_custom_variants_name_their_directories(tmp_path):
    generate_dataset(_cfg(tmp_path, variant=Variant(5, 2, 3), variant_name="custom", n_per_family=2,
                          families=["GetShapeSpace"], split="val"))
    exs = io.read_file(tmp_path / "val_5_2_3" / "cog_GetShapeSpace.json.gz")
    assert all(e["epochs"] == 5 and len(e["answers"]) == 5 for e in exs)


def test_plan_has_no_more_files_than_examples_per_family():
    cfg = GenerateConfig(VARIANTS["canonical"], n_per_family=2, train_files=10)
    assert len(plan_files(cfg)) == 2


@pytest.mark.parametrize("bad", [dict(families=["Nope"]), dict(split="dev"), dict(n_per_family=0),
                                 dict(shard=(3, 3)), dict(variant=Variant(3, 2, 1), families=["GoColorOf"])])
def test_bad_configs_are_rejected(tmp_path, bad):
    with pytest.raises(ValueError):
        _cfg(tmp_path, **bad)


def test_cli_generate_then_check(tmp_path, capsys):
    out = tmp_path / "d"
    rc = main(["generate", "cog", "--variant", "hard", "--families", "Cognitive,GetColor", "--n-per-family", "6",
               "--split", "val", "--seed", "1", "--workers", "2", "--out", str(out), "--quiet"])
    assert rc == 0
    assert "wrote 24 examples in 4 files" in capsys.readouterr().out
    assert main(["cog", "check", str(out)]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "checked 24 examples, 0 disagree"


@pytest.mark.parametrize("args, message", [
    (["--families", "Bogus"], "unknown COG family or group 'Bogus'"),
    (["--frames", "2", "--families", "GoShapeOf"], "needs at least 4 frames"),
    (["--shard", "5/2"], "bad shard 5/2"),
])
def test_cli_bad_input_is_one_line_exit_2(tmp_path, capsys, args, message):
    rc = main(["generate", "cog", "--out", str(tmp_path / "x"), "--quiet", *args])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "x").exists() or not list((tmp_path / "x").rglob("*.gz"))


def test_a_whole_run_over_a_sharded_split_replaces_its_shard_manifests(tmp_path):
    for i in range(2):
        generate_dataset(_cfg(tmp_path, split="val", n_per_family=2, families=["GetColor", "GoShape"], shard=(i, 2)))
    assert sorted(p.name for p in tmp_path.glob("manifest.*")) == [
        "manifest.val_4_3_1.shard-0-of-2.json", "manifest.val_4_3_1.shard-1-of-2.json"]
    with pytest.raises(InputError, match="not empty"):
        generate_dataset(_cfg(tmp_path, split="val", n_per_family=2, families=["GetColor"]))
    generate_dataset(_cfg(tmp_path, split="val", n_per_family=2, families=["GetColor"]), overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.val_4_3_1.json", "val_4_3_1"]
    assert [p.name for p in io.expand_paths([tmp_path])] == ["cog_GetColor.json.gz"]
    with pytest.raises(InputError, match="already exists"):  # a shard over a whole split
        generate_dataset(_cfg(tmp_path, split="val", n_per_family=2, families=["GoShape"], shard=(1, 2)))
