"""Generated CLEVR sets of the engine (private helper of :mod:`vrkit.engine.datamodules.clevr`).

A ``stream`` CLEVR source is generated once, in the official layout, into a cache directory keyed by a hash
of everything that determines its bytes (:class:`GenSpec`), then read with :class:`vrkit.data.ClevrDataset`.

* state path: symbolic only — scenes from :func:`sample_scene` without the visibility check (no renderer
  call at all) and questions from the question engine restricted to the templates of the selected question
  types; no images are written. Scene ``i`` of split ``<name>`` is drawn from ``[seed, crc32(name), 0, i]``
  and the questions of window ``w`` (250 images) from ``[seed, crc32(name), 1, w]``, as in
  :func:`vrkit.worlds.clevr.writer.generate_clevr`.
* pixel path: :func:`generate_clevr` (rendered PNGs at ``image_size``², visibility-checked scenes, all
  templates); the question-type filter is applied by the datamodule afterwards.

The number of images is chosen so that at least ``n`` questions of the selected types exist (one more,
larger generation when the first falls short); the datamodule keeps the first ``n``. The cache root is
``$VRKIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/vrkit``, else ``~/.cache/vrkit``; entries are written to a
temporary directory and renamed into place, so concurrent runs and ``kill -9`` never leave a partial entry.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
import zlib
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from vrkit import __version__
from vrkit.errors import InputError
from vrkit.utils.atomic import atomic_write_text
from vrkit.worlds.clevr.constants import QUESTION_TYPES, question_type

GEN_FORMAT = 2  # bump when the generation rule changes: invalidates cache entries (2: released-words wording)
QUESTIONS_PER_IMAGE = 10  # as in the official release (~10 questions per image)
WINDOW = 250  # images per question-engine window (counter reset period)
MAX_ROUNDS = 4


def cache_root() -> Path:
    """Root of the generated-data cache (see the module docstring)."""
    env = os.environ.get("VRKIT_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "vrkit"


def template_type(template: Any) -> str:
    """Question type (``QUESTION_TYPES`` name) of a compiled template, from its last node."""
    last = template.nodes[-1].type
    tail = last.rsplit("_", 1)[-1]
    return question_type(tail if tail in ("count", "exist") else last)


@lru_cache(maxsize=1)
def _templates() -> tuple:
    from vrkit.worlds.clevr.templates import load_templates

    return tuple(load_templates())


@dataclass(frozen=True)
class GenSpec:
    """One generated split: ``split`` train/val/test, ``condition`` unrestricted/A/B, ``n`` questions wanted
    of ``types`` (``QUESTION_TYPES`` names), on ``path`` state (symbolic) or pixels (``image_size``²)."""

    split: str
    condition: str
    seed: int
    n: int
    types: tuple[str, ...]
    path: str
    image_size: int

    @property
    def name(self) -> str:
        return self.split if self.condition == "unrestricted" else f"{self.split}{self.condition}"

    def key(self) -> str:
        d = asdict(self)
        if self.path == "state":
            d["image_size"] = None
        blob = json.dumps({"spec": d, "format": GEN_FORMAT, "version": __version__}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:20]

    def directory(self, root: Path | None = None) -> Path:
        return (root or cache_root()) / "clevr" / f"{self.name}-{self.path}-{self.key()}"


def ensure_generated(spec: GenSpec, workers: int = 1, root: Path | None = None) -> Path:
    """The cache directory of ``spec`` (official layout, one split ``spec.name``), generating it if absent."""
    final = spec.directory(root)
    if (final / "questions").is_dir():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        _generate(spec, tmp, max(1, workers))
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; the cache entry is ordinary data
        try:
            os.rename(tmp, final)
        except OSError:
            if not (final / "questions").is_dir():  # not a lost race: a real failure
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def _generate(spec: GenSpec, out: Path, workers: int) -> None:
    selected = set(spec.types)
    templates = [t for t in _templates() if template_type(t) in selected]
    if spec.path == "state":
        per_image = min(QUESTIONS_PER_IMAGE, len(templates))
    else:  # all templates are generated; estimate the selected share by template count
        per_image = QUESTIONS_PER_IMAGE * max(0.05, len(templates) / len(_templates()))
    n_images = max(1, math.ceil(spec.n / per_image * (1.0 if len(selected) == len(QUESTION_TYPES) else 1.1)))
    for _ in range(MAX_ROUNDS):
        got = (_symbolic(spec, out, n_images, templates) if spec.path == "state"
               else _pixels(spec, out, n_images, workers))
        if got >= spec.n:
            return
        n_images = math.ceil(n_images * spec.n / max(got, 1) * 1.1) + 1
    raise InputError(f"could not generate {spec.n} CLEVR questions of type(s) {', '.join(spec.types)} "
                     f"(got {got} from {n_images} images)")


def _symbolic(spec: GenSpec, out: Path, n_images: int, templates: list) -> int:
    """Scenes + questions JSON (no images) of ``n_images`` scenes; returns the number of questions."""
    from vrkit.worlds.clevr.io import make_info
    from vrkit.worlds.clevr.questions import GeneratorConfig, QuestionGenerator
    from vrkit.worlds.clevr.scenes import sample_scene, strip_render_keys

    name, key = spec.name, zlib.crc32(spec.name.encode("ascii"))
    scenes = [strip_render_keys(sample_scene(np.random.default_rng([spec.seed, key, 0, i]), image_index=i,
                                             split=name, condition=spec.condition))
              for i in range(n_images)]
    gcfg = GeneratorConfig(templates_per_image=QUESTIONS_PER_IMAGE, reset_every=WINDOW)
    questions: list[dict] = []
    for w, a in enumerate(range(0, n_images, WINDOW)):
        gen = QuestionGenerator(list(templates), gcfg)
        questions += gen.generate(scenes[a:a + WINDOW], np.random.default_rng([spec.seed, key, 1, w]),
                                  start_index=len(questions))
    info = make_info(name, date="")
    (out / "scenes").mkdir(parents=True, exist_ok=True)
    (out / "questions").mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "scenes" / f"CLEVR_{name}_scenes.json", json.dumps({"info": info, "scenes": scenes}))
    atomic_write_text(out / "questions" / f"CLEVR_{name}_questions.json",
                      json.dumps({"info": info, "questions": questions}))
    return len(questions)


def _pixels(spec: GenSpec, out: Path, n_images: int, workers: int) -> int:
    """:func:`generate_clevr` of ``n_images`` rendered images; returns the number of selected questions."""
    from vrkit.worlds.clevr.writer import ClevrGenerateConfig, generate_clevr

    cfg = ClevrGenerateConfig(n_images=n_images, questions_per_image=QUESTIONS_PER_IMAGE, split=spec.split,
                              condition=spec.condition, seed=spec.seed, width=spec.image_size,
                              height=spec.image_size, out=str(out), workers=workers, keep_render=False)
    entry = generate_clevr(cfg, overwrite=True)  # a later round replaces the earlier one's split
    return sum(int(c) for t, c in entry["question_types"].items() if t in spec.types)
