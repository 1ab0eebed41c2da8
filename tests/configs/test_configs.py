"""The shipped training recipes (vrkit.configs): every one loads, the checkout's configs/ is the same folder,
recipe paths resolve outside a checkout, a built wheel carries them, and the model IO sizes agree with the data."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from vrkit.cli import main
from vrkit.configs import CONFIG_DIR, recipes, resolve_recipe
from vrkit.engine.config import dump_yaml, load_config

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


def test_model_io_sizes_agree_with_the_datamodules():
    from vrkit.engine.recipe import datamodule_class
    from vrkit.models.presets import PRESETS

    for world in ("cog", "clevr"):
        io = datamodule_class(world).io_config()
        for name, preset in PRESETS.items():
            if name.startswith(world + "_"):
                assert preset["num_answers"] == io["num_answers"] == len(datamodule_class(world).ANSWER_VOCAB)
                assert preset["pointing"] == io["pointing"]
                assert preset["vocab_size"] >= io["vocab_size"]  # CLEVR's preset is a bound, COG's exact
                if "object_features" in preset:
                    assert preset["object_features"] == io["object_features"]
    assert {k: PRESETS["cog_state"][k] for k in datamodule_class("cog").io_config()} == \
        datamodule_class("cog").io_config()


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
