"""COG compositional splits (worlds/cog/combos.py): the partition, generated files, streams and the checker."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from vrkit.cli import main
from vrkit.data import CogStreamDataset
from vrkit.worlds.cog.combos import COLORS_WITH, SHAPES_WITH, in_split, outside, split_pairs, variant_named
from vrkit.worlds.cog.constants import COLORS, FAMILIES, SHAPES, VARIANTS, Variant
from vrkit.worlds.cog.generator import generate_example, make_rng


def _generate(out: Path, split: str, *extra: str) -> list[dict]:
    assert main(["generate", "cog", "--split-combos", split, "--n-per-family", "3", "--out", str(out),
                 "--quiet", *extra]) == 0
    return [json.loads(line) for f in sorted(out.rglob("*.json.gz"))
            for line in gzip.open(f, "rt", encoding="ascii")]


def test_the_partition_splits_every_pair_once_and_keeps_every_value_on_both_sides():
    a, b = set(split_pairs("A")), set(split_pairs("B"))
    assert not a & b
    assert a | b == {(c, s) for c in COLORS for s in SHAPES}
    assert len(a) == len(b) == 336
    for k in ("A", "B"):
        assert all(len(SHAPES_WITH[k][c]) == 16 for c in COLORS)
        assert all(len(COLORS_WITH[k][s]) in (10, 11) for s in SHAPES)
    assert in_split("red", "circle", "A") and in_split("red", "square", "B")  # documented examples


def test_variant_names():
    assert variant_named("hard-B") == Variant(8, 7, 10, "B")
    assert variant_named("canonical") == VARIANTS["canonical"]
    for bad in ("hard-C", "easy-A", "canonical-"):
        with pytest.raises(ValueError, match="unknown COG variant"):
            variant_named(bad)


@pytest.mark.parametrize("split", ["A", "B"])
def test_every_family_stays_inside_its_split(split):
    rng = make_rng(3, "combos", split)
    for variant in ("canonical", "hard"):
        for family in FAMILIES:
            for _ in range(3):
                ex = generate_example(family, f"{variant}-{split}", rng)
                assert ex["objects"] and not outside(ex["objects"], split), family


def test_generated_files_use_one_half_each_are_reproducible_and_the_checker_agrees(tmp_path, capsys):
    data = {k: _generate(tmp_path / k, k, "--variant", "hard") for k in ("A", "B")}
    used = {k: {(o["color"], o["shape"]) for ex in exs for o in ex["objects"]} for k, exs in data.items()}
    assert used["A"] <= set(split_pairs("A")) and used["B"] <= set(split_pairs("B"))
    assert len(used["A"]) > 300 and len(used["B"]) > 300  # distractors spread over (nearly) the whole half
    assert {ex["family"] for ex in data["A"]} == set(FAMILIES)
    manifest = json.loads((tmp_path / "A" / "manifest.train_8_7_10.json").read_text())
    assert (manifest["combos"], manifest["variant"]) == ("A", "hard-A")
    # same seed, same bytes
    again = tmp_path / "again"
    _generate(again, "A", "--variant", "hard")
    assert (again / "train_8_7_10" / "cog_0.json.gz").read_bytes() == \
        (tmp_path / "A" / "train_8_7_10" / "cog_0.json.gz").read_bytes()
    # the checker agrees with the answers of both halves, and reads the split from the manifest
    for k in ("A", "B"):
        assert main(["cog", "check", str(tmp_path / k)]) == 0
    capsys.readouterr()
    assert main(["cog", "check", str(tmp_path / "A"), "--split-combos", "B"]) == 1
    assert "outside compositional split B" in capsys.readouterr().out
    # a manifest recording B beside A data: every example is reported
    m = tmp_path / "A" / "manifest.train_8_7_10.json"
    m.write_text(json.dumps({**manifest, "combos": "B"}))
    assert main(["cog", "check", str(tmp_path / "A")]) == 1


def test_unsplit_generation_records_no_split(tmp_path):
    assert main(["generate", "cog", "--n-per-family", "1", "--out", str(tmp_path), "--quiet",
                 "--families", "Basic"]) == 0
    manifest = json.loads((tmp_path / "manifest.train_4_3_1.json").read_text())
    assert "combos" not in manifest and manifest["variant"] == "canonical"


def test_streams_take_the_split_from_the_variant_name():
    ds = CogStreamDataset("canonical-B", ["GetColor", "CompareShape", "ExistLastObjectSameObject"], seed=1,
                          length=12)
    exs = [ds.example(k) for k in range(12)]
    assert all(not outside(ex["objects"], "B") for ex in exs)
    assert any(outside(ex["objects"], "A") for ex in exs)
    assert json.dumps(exs) == json.dumps([ds.example(k) for k in range(12)])


def test_training_configs_accept_split_variants_and_reject_unknown_ones():
    from vrkit.engine.config import DataConfig
    from vrkit.engine.datamodules.cog import CogDataModule

    CogDataModule.check_config(DataConfig(world="cog", variant="hard-A"))
    with pytest.raises(ValueError, match="data.variant: unknown COG variant 'hard-C'"):
        CogDataModule.check_config(DataConfig(world="cog", variant="hard-C"))
