"""The shipped training recipes (vrkit.configs): every one loads, the checkout's configs/ is the same folder,
recipe paths resolve outside a checkout, a built wheel carries them, and the model IO sizes agree with the data."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

from vrkit.cli import main
from vrkit.configs import CONFIG_DIR, pretrain_recipes, recipes, resolve_recipe
from vrkit.engine.config import dump_yaml, from_dict, load_config
from vrkit.engine.module import build_run_model, model_kwargs
from vrkit.engine.recipe import WORLDS, datamodule_class
from vrkit.models.presets import PRESETS
from vrkit.models.registry import available_models, get_model_class

REPO = Path(__file__).resolve().parents[2]
RECIPES = recipes()


def test_the_checkout_configs_folder_is_the_package_folder():
    assert (REPO / "configs").resolve() == CONFIG_DIR
    assert len(RECIPES) >= 22 and all(p.is_relative_to(CONFIG_DIR) for p in RECIPES)


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.relative_to(CONFIG_DIR).as_posix())
def test_every_shipped_recipe_loads_validates_and_round_trips(recipe, tmp_path):
    cfg = load_config(recipe)  # validates every field, the world's names and the model's options
    assert cfg.data.world == recipe.parent.name and recipe.stem.startswith(cfg.model.name + "_")
    again = tmp_path / recipe.name
    again.write_text(dump_yaml(cfg))
    assert load_config(again) == cfg


def test_recipe_paths_resolve_outside_a_checkout(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shipped = CONFIG_DIR / "cog" / "samnet_cpu.yaml"
    assert resolve_recipe("configs/cog/samnet_cpu.yaml") == shipped
    assert resolve_recipe("cog/samnet_cpu.yaml") == shipped
    assert resolve_recipe("configs/cog/nope.yaml") == Path("configs/cog/nope.yaml")  # left for the loader
    (tmp_path / "configs" / "cog").mkdir(parents=True)
    (tmp_path / "configs" / "cog" / "samnet_cpu.yaml").write_text("seed: 5\n")
    assert resolve_recipe("configs/cog/samnet_cpu.yaml") == Path("configs/cog/samnet_cpu.yaml")  # a file wins


def test_train_finds_a_shipped_recipe_from_any_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "-c", "configs/cog/samnet_cpu.yaml", "--print-config"]) == 0
    out = capsys.readouterr().out
    assert "name: samnet" in out and "runs/samnet_cpu" in out
    assert main(["train", "-c", "configs/cog/nope.yaml", "--print-config"]) == 2
    assert "configs/cog/nope.yaml" in capsys.readouterr().err


def test_the_demo_recipe_is_the_demo_config(tmp_path):
    from vrkit.cli import demo

    out = tmp_path / "demo"
    assert main(["generate", "cog", "--families", "ExistColor", "--n-per-family", "2", "--split", "val",
                 "--quiet", "--out", str(out / "data")]) == 0
    cfg = demo.demo_config(out, 2.0, "ExistColor,GetShape", 4, ["model.dim=32"])
    assert demo.DEMO_RECIPE.is_relative_to(CONFIG_DIR)
    assert cfg.model.name == "samnet" and cfg.model.options == {"dim": 32, "steps": 4, "slots": 8}
    assert cfg.data.train.kind == "stream" and cfg.data.train.n == 9600
    assert cfg.data.val.paths == [str(out / "data" / "val_4_3_1")] and cfg.data.families == ["ExistColor", "GetShape"]
    assert (cfg.trainer.max_minutes, cfg.seed, cfg.run_dir) == (2.0, 4, str(out / "run"))


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_hold_their_worlds_io_sizes(name):
    world, path = name.split("_")
    io = datamodule_class(world).io_config()
    assert PRESETS[name]["path"] == path
    assert {k: PRESETS[name][k] for k in io} == io  # every IO field, exactly the data's (no bound)
    assert io["num_answers"] == len(datamodule_class(world).ANSWER_VOCAB)


@pytest.mark.parametrize("world", sorted(WORLDS))
@pytest.mark.parametrize("model", available_models())
def test_the_engine_sizes_every_model_from_its_datamodule(world, model):
    io = datamodule_class(world).io_config()
    data = {"world": world, "path": "state", "families": "all", **({"variant": "A"} if world == "clevr" else {})}
    cfg = from_dict({"model": {"name": model, **get_model_class(model).small_config()}, "data": data})
    net = build_run_model(cfg)
    config = net.cfg if model == "samnet" else net.config
    assert {k: getattr(config, k) for k in io} == io
    (embedding,) = [m for m in net.modules() if isinstance(m, torch.nn.Embedding)]  # the question's words
    assert embedding.num_embeddings == io["vocab_size"]
    B, N = 2, 3
    batch = {"question": torch.randint(1, io["vocab_size"], (B, 5)), "question_len": torch.tensor([5, 3]),
             "objects": torch.rand(B, 1, N, io["object_features"]),
             "object_mask": torch.ones(B, 1, N, dtype=torch.bool)}
    with torch.no_grad():
        out = net.eval()(batch)
    assert out["logits"].shape == (B, 1, io["num_answers"])
    assert ("point_logits" in out) == io["pointing"]
    if io["pointing"]:
        assert out["point_logits"].shape == (B, 1, io["grid"] ** 2)
    pinned = from_dict({"model": {"name": model, **get_model_class(model).small_config(), "vocab_size": 96},
                        "data": data})
    assert model_kwargs(pinned)["vocab_size"] == 96  # a recipe's explicit size wins


def test_the_relation_network_paper_recipe_has_the_references_parameter_count():
    from vrkit.models.rn_clevr import REFERENCE_PARAMS

    cfg = load_config(CONFIG_DIR / "clevr" / "relation_net_paper.yaml")
    with torch.device("meta"):
        net = build_run_model(cfg)
    assert sum(p.numel() for p in net.parameters()) == REFERENCE_PARAMS["original-fp"] == 484_996


@pytest.mark.slow
def test_a_built_wheel_carries_every_recipe(tmp_path):
    pytest.importorskip("setuptools")
    pytest.importorskip("wheel")
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(REPO / "vrkit", src / "vrkit", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation",
                           "-q", "-w", str(tmp_path / "dist")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("vrkit-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for recipe in RECIPES:
        assert f"vrkit/configs/{recipe.relative_to(CONFIG_DIR).as_posix()}" in names
    assert "vrkit/configs/README.md" in names and "vrkit/configs/__init__.py" in names


@pytest.mark.parametrize("recipe", pretrain_recipes(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_pretraining_recipe_loads_and_builds_its_model(recipe):
    from vrkit.engine.pretrain import load_pretrain_config, model_config
    from vrkit.models.ivcl import IVCL

    cfg = load_pretrain_config(recipe)
    mc = model_config(cfg)
    if mc.dim <= 256:  # the paper preset (ViT-B widths) is too large to build in a unit test
        assert IVCL(mc).n_patches == (mc.image_size // mc.patch) ** 2
    assert mc.image_size % mc.patch == 0
