"""The training recipes shipped with vrkit: ``<world>/<model>_<scale>.yaml`` (see README.md in this folder).

They are package data, so an installed vrkit finds them without the repository; in a checkout the top-level
``configs/`` is a link to this folder, so ``configs/cog/samnet_cpu.yaml`` names the same file either way.
"""

from __future__ import annotations

from pathlib import Path

#: The folder holding the recipes (``cog/``, ``clevr/``).
CONFIG_DIR = Path(__file__).resolve().parent
#: Folders of pretraining recipes (``vrkit pretrain``; vrkit.engine.pretrain), not ``vrkit train`` recipes.
PRETRAIN_DIRS = ("cater",)


def recipes() -> list[Path]:
    """Every shipped training recipe (``vrkit train``), sorted by path."""
    return sorted(p for p in CONFIG_DIR.rglob("*.yaml") if p.parent.name not in PRETRAIN_DIRS)


def pretrain_recipes() -> list[Path]:
    """Every shipped pretraining recipe (``vrkit pretrain``), sorted by path."""
    return sorted(p for d in PRETRAIN_DIRS for p in (CONFIG_DIR / d).glob("*.yaml"))


def resolve_recipe(path: str | Path) -> Path:
    """``path`` if it names a file; otherwise the shipped recipe it names relative to the recipe folder,
    with or without a leading ``configs/`` (``cog/samnet_cpu.yaml``, ``configs/cog/samnet_cpu.yaml``), so a
    recipe path from the documentation works outside the repository. Unchanged when neither exists (the
    config loader then reports the missing file)."""
    p = Path(path)
    if p.is_file() or p.is_absolute():
        return p
    parts = p.parts[1:] if p.parts[:1] == ("configs",) else p.parts
    shipped = CONFIG_DIR.joinpath(*parts) if parts else CONFIG_DIR
    return shipped if shipped.is_file() else p
