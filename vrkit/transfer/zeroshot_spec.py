"""Settings of the zero-shot recipe (:mod:`vrkit.transfer.zeroshot`): sizes per scale, the run spec, the known and
held-out families, the Γ sources that need no training, and the guard against mixing settings in one directory."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from vrkit.errors import InputError

RECIPE = "zeroshot"
POOL_SEED = 900_003  # + the run's seed: pools differ between seeds, test sets do not
# Backbones whose answer unit reads one feature vector per frame (SAMNet's output_unit: [question, summary]); the
# other models' answer units take other inputs and are not wired in yet.
BACKBONES = ("samnet",)
GAMMA_SOURCES = ("structure", "affinity", "ratings", "file")  # main-Γ choices; "shuffled" is the control
# One held-out family per classification group of constants.GROUPS, each with relatives among the known ones.
DEFAULT_HELDOUT = ("GetShape", "SimpleCompareShape", "CompareColor", "ExistShapeSpace", "ExistLastShapeSameColor")


@dataclass
class ZeroShotSizes:
    subsets: int  # p: heads per family, one per pool subset
    subset_n: int  # examples per subset
    test_n: int  # test examples per family
    hidden: int  # head width
    head_steps: int  # Adam minibatches per head (and for oracle heads)
    ft_steps: int  # minibatches of k-shot fine-tuning and of the affinity measurement
    meta_steps: int  # TTNet training steps
    affinity_k: int  # examples of the target in the affinity measurement
    ks: tuple[int, ...]  # k of the k-shot comparison
    curve: tuple[int, ...]  # numbers of source families of the accuracy-vs-sources curve (capped at all)
    backbone_minutes: float | None  # wall clock of the backbone's training (None: the config's)


SIZES: dict[str, ZeroShotSizes] = {
    "tiny": ZeroShotSizes(subsets=2, subset_n=16, test_n=24, hidden=16, head_steps=20, ft_steps=10, meta_steps=12,
                          affinity_k=8, ks=(4, 8, 16), curve=(2, 4), backbone_minutes=None),
    "cpu": ZeroShotSizes(subsets=4, subset_n=512, test_n=1000, hidden=32, head_steps=400, ft_steps=100,
                         meta_steps=1500, affinity_k=64, ks=(16, 64, 256), curve=(2, 4, 8, 12, 18),
                         backbone_minutes=10.0),
    "paper": ZeroShotSizes(subsets=8, subset_n=2048, test_n=5000, hidden=64, head_steps=2000, ft_steps=300,
                           meta_steps=4000, affinity_k=256, ks=(16, 64, 256), curve=(2, 4, 8, 12, 18),
                           backbone_minutes=None),
}


@dataclass
class ZeroShotSpec:
    """Everything a zero-shot run needs (the CLI fills it from its flags)."""

    model: str = "samnet"
    scale: str = "cpu"
    seeds: list[int] = field(default_factory=lambda: [0])
    out: Path = Path("zeroshot")
    heldout: list[str] | None = None
    gamma: str = "structure"  # the main Γ (nearest task, Γ-average, k-shot, curve)
    ratings: Path | None = None
    gamma_file: Path | None = None
    config: str | None = None
    overrides: list[str] = field(default_factory=list)
    test_n: int | None = None
    minutes: float | None = None  # backbone training budget (None: the scale's)
    recipe: str = RECIPE
    world: str = "cog"

    def sizes(self) -> ZeroShotSizes:
        s = SIZES[self.scale]
        return ZeroShotSizes(**{**asdict(s), "test_n": self.test_n or s.test_n,
                                "backbone_minutes": s.backbone_minutes if self.minutes is None else self.minutes})

    def results_dir(self, seed: int) -> Path:
        return Path(self.out) / self.model / f"seed{seed}"


def families(spec: ZeroShotSpec) -> tuple[list[str], list[str]]:
    """(known, held-out) classification families of ``spec``; refuses unknown families and unsupported backbones."""
    from vrkit.worlds.cog.constants import CLASSIFICATION_FAMILIES

    if spec.model not in BACKBONES:
        raise InputError(f"zero-shot transfer needs a backbone with one answer unit on per-frame features "
                         f"({', '.join(BACKBONES)}), not {spec.model!r}", "--model")
    held = list(spec.heldout or DEFAULT_HELDOUT)
    bad = [f for f in held if f not in CLASSIFICATION_FAMILIES]
    if bad:
        raise InputError(f"held-out families must be COG classification families; not: {', '.join(bad)}",
                         "--heldout")
    known = [f for f in CLASSIFICATION_FAMILIES if f not in held]
    if len(known) < 2:
        raise InputError("at least two known families are needed", "--heldout")
    return known, held


def load_gammas(spec: ZeroShotSpec, names: list[str]) -> dict[str, np.ndarray]:
    """Γ from the sources that need no training (structure, ratings file, Γ file), over ``names``."""
    import vrkit.transfer.zeroshot_gamma as zg

    if spec.gamma not in GAMMA_SOURCES:
        raise InputError(f"unknown Γ source {spec.gamma!r} (known: {', '.join(GAMMA_SOURCES)})", "--gamma")
    out = {"structure": zg.structure_gamma(names)}
    if spec.ratings is not None:
        out["ratings"] = zg.read_ratings(spec.ratings, names)[0]
    if spec.gamma_file is not None:
        out["file"] = zg.read_gamma(spec.gamma_file, names)
    if spec.gamma in ("ratings", "file") and spec.gamma not in out:
        raise InputError(f"--gamma {spec.gamma} needs --{'ratings' if spec.gamma == 'ratings' else 'gamma-file'}")
    return out


def check_settings(spec: ZeroShotSpec) -> None:
    """Refuse to mix results made with other settings in one directory (they would be skipped as done)."""
    from vrkit.transfer.recipes import guard_settings

    guard_settings(Path(spec.out) / spec.model / f"{RECIPE}_settings.json", {
        "model": spec.model, "scale": spec.scale, "heldout": families(spec)[1], "gamma": spec.gamma,
        "ratings": None if spec.ratings is None else Path(spec.ratings).read_text(encoding="utf-8"),
        "gamma_file": None if spec.gamma_file is None else Path(spec.gamma_file).read_text(encoding="utf-8"),
        "config": spec.config, "overrides": list(spec.overrides), "sizes": asdict(spec.sizes())})
