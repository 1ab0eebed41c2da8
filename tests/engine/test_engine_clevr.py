"""CLEVR in the training engine: generated (cached) and files sources, question-type filter, tiny runs, eval."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from vrkit.cli import main
from vrkit.engine.config import DataConfig, SourceConfig, from_dict, load_config
from vrkit.engine.datamodules.clevr import TYPE_NAMES, ClevrDataModule, resolve_types
from vrkit.engine.recipe import load_run_config
from vrkit.engine.run import train
from vrkit.errors import InputError
from vrkit.worlds.clevr.constants import ANSWERS

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "clevr"


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("clevr_cache")


@pytest.fixture(autouse=True)
def _cache(cache_dir, monkeypatch):
    monkeypatch.setenv("VRKIT_CACHE_DIR", str(cache_dir))


def _tree(model: str, run_dir: Path, **data) -> dict:
    from vrkit.models.registry import get_model_class

    return {
        "seed": 1, "run_dir": str(run_dir),
        "model": {"name": model, **get_model_class(model).small_config()},
        "data": {"world": "clevr", "variant": "A", "families": "all", "path": "state",
                 "train": {"kind": "stream", "n": 100}, "val": {"kind": "stream", "n": 40}, "batch_size": 16,
                 **data},
        "optim": {"lr": 1e-3},
        "trainer": {"max_epochs": 1, "log_every_n_steps": 1},
    }


def _dm(**kw) -> ClevrDataModule:
    cfg = DataConfig(world="clevr", variant=kw.pop("variant", "A"), path="state", **kw)
    ClevrDataModule.check_config(cfg)
    return ClevrDataModule(cfg, seed=5)


@pytest.mark.parametrize("model", ["samnet", "relation_net"])
def test_tiny_state_run_trains_and_reports_question_types(model, tmp_path):
    cfg = from_dict(_tree(model, tmp_path / "run"))
    res = train(cfg)
    assert res["steps"] == 7  # ceil(100 / 16) batches of one epoch
    fams = res["val"]["families"]
    assert set(fams) <= set(TYPE_NAMES) and len(fams) >= 3
    assert sum(v["frames"] for v in fams.values()) == 40
    assert set(res["val"]["groups"]) == set(fams)
    assert 0.0 <= res["val"]["frames_acc"] <= 1.0
    assert (tmp_path / "run" / "checkpoints" / "last.ckpt").is_file()


def test_eval_prints_per_question_type_accuracy(tmp_path, capsys):
    cfg = from_dict(_tree("samnet", tmp_path / "run", train={"kind": "stream", "n": 32}))
    train(cfg)
    capsys.readouterr()
    ckpt = tmp_path / "run" / "checkpoints" / "last.ckpt"
    assert main(["eval", "--ckpt", str(ckpt), "--data", "gen:B:50:7", "--out", str(tmp_path / "ev")]) == 0
    out = capsys.readouterr().out
    summary = json.loads((tmp_path / "ev.json").read_text())
    assert summary["examples"] == 50
    for name, v in summary["families"].items():
        assert name in TYPE_NAMES
        assert f"[{name}]" in out and any(line.split()[:2] == [name, str(v["frames"])]
                                          for line in out.splitlines())


def test_question_type_filter_generated_and_files():
    dm = _dm(families=["Count"], train=SourceConfig(n=30))
    ds = dm.dataset("train")
    assert len(ds) == 30 and set(ds.qtypes().tolist()) == {TYPE_NAMES.index("Count")}
    # the generated questions themselves are all counting questions (restricted templates, not filtered)
    qfile = ds.ds.files.questions
    progs = [q["program"][-1]["function"] for q in json.loads(qfile.read_text())["questions"]]
    assert set(progs) == {"count"}
    # all but Count, from a files source: the same split read back, filtered after loading
    full = _dm(train=SourceConfig(n=60)).dataset("train")
    root = full.ds.files.questions.parents[1]
    assert TYPE_NAMES.index("Count") in set(full.qtypes().tolist())
    dm2 = _dm(families=["-Count"], train=SourceConfig(kind="files", paths=[str(root)]))
    rest = dm2.dataset("train")
    assert TYPE_NAMES.index("Count") not in set(rest.qtypes().tolist())
    assert len(rest) == int((full.ds.qtypes() != TYPE_NAMES.index("Count")).sum())
    batch = ClevrDataModule.collate([rest[i] for i in range(4)])
    assert batch["answer"].shape == (4, 1) and batch["objects"].shape[:2] == (4, 1)
    assert (batch["family"] == batch["qtype"]).all() and (batch["template"] >= 0).all()
    assert (batch["answer"] < len(ANSWERS)).all()


def test_resolve_types_aliases_and_exclusion():
    assert resolve_types("all") == list(TYPE_NAMES)
    assert resolve_types(["compare_integer", "Exist"]) == ["Exist", "CompareInteger"]
    assert resolve_types(["-Count", "-Exist"]) == ["CompareInteger", "QueryAttribute", "CompareAttribute"]
    with pytest.raises(ValueError, match="unknown CLEVR question type"):
        resolve_types(["Counting"])


def test_generation_is_deterministic_and_seeded(tmp_path, monkeypatch):
    def digest(seed: int) -> str:
        ds = _dm(train=SourceConfig(n=25, seed=seed)).dataset("train")
        return hashlib.sha256(ds.ds.files.questions.read_bytes()).hexdigest()

    a = digest(3)
    monkeypatch.setenv("VRKIT_CACHE_DIR", str(tmp_path / "other"))
    assert digest(3) == a  # regenerated from scratch in another cache: same bytes
    assert digest(4) != a
    assert not any((tmp_path / "other" / "clevr").glob(".*"))  # no temporary directory left behind


def test_files_split_from_variant_or_explicit_and_official_sample(clevr_sample):
    gen = _dm(train=SourceConfig(n=20, seed=11)).dataset("train")
    root = str(gen.ds.files.questions.parents[1])
    assert _dm(train=SourceConfig(kind="files", paths=[root])).dataset("train").ds.split == "trainA"
    explicit = _dm(variant="B", val=SourceConfig(kind="files", paths=[root, "trainA"]))
    assert explicit.dataset("val").ds.split == "trainA"
    with pytest.raises(InputError, match=r"no questions for split 'valA' \(available: trainA\)"):
        _dm(val=SourceConfig(kind="files", paths=[root]))
    sample = _dm(val=SourceConfig(kind="files", paths=[str(clevr_sample)])).dataset("val")
    assert len(sample) == 600
    fams = np.array([sample[i]["template"].item() for i in range(0, 600, 7)])
    assert fams.min() >= 0 and fams.max() < 90


@pytest.mark.parametrize("override, pattern", [
    (["data.train={kind: files, paths: [/nonexistent/clevr]}"], "no such file or directory"),
    (["data.variant=C"], "unknown CLEVR variant 'C'"),
    (["data.families=[Counting]"], "unknown CLEVR question type"),
    (["data.families=[-all]"], "unknown CLEVR question type"),
    (["data.val={kind: files, paths: [/tmp, valA, valB]}"], "names one split"),
    (["data.val={kind: stream, n: 0}"], "needs n >= 1"),
])
def test_bad_clevr_source_is_one_line_input_error(override, pattern):
    with pytest.raises(InputError, match=pattern) as info:
        load_run_config(CONFIGS / "samnet_cpu.yaml", override)
    assert "\n" not in str(info.value)


def test_cli_bad_clevr_source_exits_2(tmp_path, capsys):
    cfg = tmp_path / "bad.yaml"
    tree = yaml.safe_load((CONFIGS / "samnet_cpu.yaml").read_text())
    tree["data"]["train"] = {"kind": "files", "paths": [str(tmp_path)], "n": 10}
    tree["run_dir"] = str(tmp_path / "run")
    cfg.write_text(yaml.safe_dump(tree))
    assert main(["train", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert "no CLEVR questions JSON" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("recipe", sorted(CONFIGS.glob("*_cpu.yaml")), ids=lambda p: p.name)
def test_cpu_recipes_match_clevr_io(recipe):
    from vrkit.engine.module import model_kwargs

    cfg = load_config(recipe)
    kw = model_kwargs(cfg)
    io = ClevrDataModule.io_config()
    assert cfg.data.path == "state" and cfg.data.world == "clevr"
    assert kw["vocab_size"] == io["vocab_size"] and kw["num_answers"] == len(ANSWERS) == 28
    assert kw["object_features"] == io["object_features"] and kw["pointing"] is False
