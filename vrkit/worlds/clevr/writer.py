"""Writing CLEVR datasets in the official layout, in parallel, with the same bytes for any worker count.

Layout under ``out`` (that of the released CLEVR_v1.0), ``<name>`` = the split name (below)::

    images/<name>/CLEVR_<name>_NNNNNN.png         RGB PNG, width x height (default 128 x 128)
    scenes/CLEVR_<name>_scenes.json               {"info", "scenes"}; scenes keep the "render" key
    questions/CLEVR_<name>_questions.json         {"info", "questions"} in the released form
    manifest.<name>.json                          {"world": "clevr", "splits": {<name>: {...}}}

With ``hide_answers`` (the released test form) no scenes file is written: the scenes would give every answer
away, and the released CLEVR ships none for its test split. The manifest sits beside the official folders
(:mod:`vrkit.worlds.manifest`); an older vrkit's single ``manifest.json`` for all splits is still read.

Split names: ``train``/``val``/``test`` for the unrestricted condition (CLEVR_v1.0); with a CoGenT
condition the letter is appended as in CLEVR_CoGenT_v1.0 (``trainA``, ``valA``, ``valB``, ``testA``,
``testB``; ``trainB`` is not released but can be generated). Several splits can share one ``out``, each with
its own manifest. A split is written whole: its images folder, scenes and questions files are staged in a
temporary directory in ``out`` and moved into place, the manifest last, under a lock on ``out``; an existing
split is refused before any work unless ``overwrite``, which replaces its files.

Determinism: scene ``i`` of split ``<name>`` is drawn from ``default_rng([seed, crc32(<name>), 0, i])``
(so train and val of one seed never share scenes); the questions of the 250-image window ``w`` (the
engine's counter-reset period) from a fresh engine seeded ``[seed, crc32(<name>), 1, w]``. Images
are rendered by the numpy renderer and written as PNG by OpenCV at a fixed compression level; the scene
file keeps each scene's jittered camera/lamps (``render``) so that it re-renders to the same pixels. No
timestamps are written (INFO ``date`` is ``""`` unless given), so a seed gives the same bytes on any day
and for any number of workers.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vrkit import __version__
from vrkit.errors import InputError
from vrkit.utils.atomic import atomic_open, atomic_write_bytes, atomic_write_text, sha256_file, staged_outputs
from vrkit.utils.files import read_json
from vrkit.worlds.clevr.constants import CONDITIONS, question_type
from vrkit.worlds.clevr.io import for_test_split, make_info
from vrkit.worlds.manifest import PREFIX as PREFIX_M
from vrkit.worlds.manifest import manifest_name, notice_legacy, split_of

SPLITS: tuple[str, ...] = ("train", "val", "test")
PREFIX = "CLEVR"
WINDOW = 250  # images per question window (the engine's counter reset period)
PNG_COMPRESSION = 6
MANIFEST = "manifest.json"  # the single manifest of an older vrkit (all splits)

Progress = Callable[[str, int], None]


def split_name(split: str, condition: str = "unrestricted") -> str:
    """Official split name: ``train`` (unrestricted) or ``trainA`` / ``valB`` ... (CoGenT)."""
    return split if condition == "unrestricted" else f"{split}{condition}"


@dataclass
class ClevrGenerateConfig:
    """One split of a CLEVR dataset. ``condition``: ``unrestricted``, ``A`` or ``B`` (``all`` = unrestricted).

    ``images_per_task`` only sets the unit of parallel work; it never changes the output."""

    n_images: int = 100
    questions_per_image: int = 10
    split: str = "train"
    condition: str = "unrestricted"
    seed: int = 0
    width: int = 128
    height: int = 128
    out: str = "data/clevr"
    workers: int = 1
    hide_answers: bool = False  # released test form: questions without answer and program
    keep_render: bool = True  # keep each scene's "render" key (camera/lamps) for exact re-rendering
    templates: str | None = None  # template directory (default: vrkit's own)
    synonyms: str | None = None  # synonyms JSON, the original engine's format (default: vrkit's own)
    date: str = ""
    images_per_task: int = 25

    def __post_init__(self) -> None:
        if self.condition == "all":
            self.condition = "unrestricted"
        checks = [
            (self.split in SPLITS, f"split must be one of {', '.join(SPLITS)}, got {self.split!r}"),
            (self.condition in CONDITIONS, f"condition must be A, B or all, got {self.condition!r}"),
            (self.n_images >= 1, f"n_images must be >= 1, got {self.n_images}"),
            (0 <= self.questions_per_image <= 90, f"questions per image must be in 0..90, "
                                                  f"got {self.questions_per_image}"),
            (self.seed >= 0, f"seed must be >= 0, got {self.seed}"),
            (8 <= self.width <= 4096 and 8 <= self.height <= 4096,
             f"image size must be in 8..4096, got {self.width}x{self.height}"),
            (self.workers >= 1, f"workers must be >= 1, got {self.workers}"),
            (self.images_per_task >= 1, f"images_per_task must be >= 1, got {self.images_per_task}"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ValueError(msg)

    @property
    def name(self) -> str:
        return split_name(self.split, self.condition)

    @property
    def key(self) -> int:
        return zlib.crc32(self.name.encode("ascii"))

    def image_filename(self, index: int) -> str:
        return f"{PREFIX}_{self.name}_{index:06d}.png"

    def relpaths(self) -> dict[str, str]:
        """The split's outputs relative to ``out`` (no ``scenes`` with ``hide_answers``), manifest last."""
        rel = {"images": f"images/{self.name}",
               "scenes": f"scenes/{PREFIX}_{self.name}_scenes.json",
               "questions": f"questions/{PREFIX}_{self.name}_questions.json",
               "manifest": manifest_name(self.name)}
        if self.hide_answers:
            del rel["scenes"]
        return rel

    def paths(self, root: str | Path | None = None) -> dict[str, Path]:
        """:meth:`relpaths` under ``root`` (default ``out``)."""
        base = Path(self.out if root is None else root)
        return {k: base / v for k, v in self.relpaths().items()}


# ---- worker side ------------------------------------------------------------------------------------
_HOOKS: dict[tuple[int, int], Any] = {}
_TEMPLATES: dict[str | None, Any] = {}


def _hook(width: int, height: int) -> Any:
    from vrkit.worlds.clevr.scenes import render_visibility_hook

    if (width, height) not in _HOOKS:
        _HOOKS[(width, height)] = render_visibility_hook(width, height)
    return _HOOKS[(width, height)]


def encode_png(rgb: np.ndarray) -> bytes:
    """PNG bytes of an (H, W, 3) uint8 RGB image (OpenCV, fixed compression level: deterministic)."""
    import cv2

    ok, buf = cv2.imencode(".png", np.ascontiguousarray(rgb[:, :, ::-1]),
                           [cv2.IMWRITE_PNG_COMPRESSION, PNG_COMPRESSION])
    if not ok:  # pragma: no cover - OpenCV failure
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()


def make_scene(cfg: ClevrGenerateConfig, index: int) -> dict:
    """Scene ``index`` of the split (visibility-checked at width x height, ``pixel_coords`` filled)."""
    from vrkit.worlds.clevr.scenes import sample_scene

    rng = np.random.default_rng([cfg.seed, cfg.key, 0, index])
    return sample_scene(rng, image_index=index, split=cfg.name, condition=cfg.condition, prefix=PREFIX,
                        visibility_fn=_hook(cfg.width, cfg.height))


def _image_task(args: tuple[ClevrGenerateConfig, Path, int, int]) -> list[tuple[str, str, str]]:
    """Scenes and PNGs (into ``stage``) of images [start, stop): per image (scene JSON, PNG sha256, pixel
    sha256)."""
    from vrkit.worlds.clevr.render import render_scene

    cfg, stage, start, stop = args
    img_dir = cfg.paths(stage)["images"]
    out = []
    for i in range(start, stop):
        scene = make_scene(cfg, i)
        rgb = render_scene(scene, cfg.width, cfg.height)
        png = encode_png(rgb)
        atomic_write_bytes(img_dir / scene["image_filename"], png)
        if not cfg.keep_render:
            scene = {k: v for k, v in scene.items() if k != "render"}
        png_sha, pix_sha = hashlib.sha256(png).hexdigest(), hashlib.sha256(rgb.tobytes()).hexdigest()
        out.append((json.dumps(scene), png_sha, pix_sha))
    return out


def _question_task(args: tuple[ClevrGenerateConfig, int, list[str]]) -> list[dict]:
    """Questions of one window of scenes (question_index relative to the window)."""
    from vrkit.worlds.clevr.questions import GeneratorConfig, QuestionGenerator
    from vrkit.worlds.clevr.templates import load_templates
    from vrkit.worlds.clevr.text import load_synonyms

    cfg, window, scene_jsons = args
    if cfg.templates not in _TEMPLATES:
        _TEMPLATES[cfg.templates] = load_templates(cfg.templates)
    synonyms = None if cfg.synonyms is None else load_synonyms(cfg.synonyms)
    gcfg = GeneratorConfig(templates_per_image=cfg.questions_per_image, reset_every=WINDOW)
    gen = QuestionGenerator(_TEMPLATES[cfg.templates], gcfg, synonyms)
    scenes = [json.loads(s) for s in scene_jsons]
    return gen.generate(scenes, np.random.default_rng([cfg.seed, cfg.key, 1, window]))


# ---- main process -----------------------------------------------------------------------------------
def _write_json_list(path: Path, info: dict, key: str, items: Iterable[str]) -> None:
    """Stream ``{"info": info, key: [items...]}`` with json.dumps' default separators (same bytes as
    ``json.dumps`` of the whole dict)."""
    with atomic_open(path, "wb") as fh:
        fh.write(f'{{"info": {json.dumps(info)}, "{key}": ['.encode())
        for k, item in enumerate(items):
            fh.write((", " + item if k else item).encode())
        fh.write(b"]}")


def _combined(names: list[str], hashes: list[str]) -> str:
    h = hashlib.sha256()
    for n, x in zip(names, hashes):
        h.update(f"{n} {x}\n".encode())
    return h.hexdigest()


def generate_clevr(cfg: ClevrGenerateConfig, progress: Progress | None = None, overwrite: bool = False) -> dict:
    """Write one split (images, scenes, questions, then its manifest) as a whole; return the split's entry.

    ``progress(stage, n)`` is called with stage ``"images"`` or ``"questions"`` and the number of images
    just finished in that stage (each stage totals ``n_images``)."""
    rel = cfg.relpaths()
    names = [rel["images"] + "/", *(rel[k] for k in ("scenes", "questions") if k in rel), rel["manifest"]]
    hidden = [f"scenes/{PREFIX}_{cfg.name}_scenes.json"] if cfg.hide_answers else []  # an earlier run's scenes
    with staged_outputs(cfg.out, names, overwrite, remove=hidden) as stage:
        return _write_split(cfg, stage, progress)


def _write_split(cfg: ClevrGenerateConfig, stage: Path, progress: Progress | None) -> dict:
    paths = cfg.paths(stage)
    for p in paths.values():
        p.parent.mkdir(parents=True, exist_ok=True)
    n, step = cfg.n_images, cfg.images_per_task
    image_tasks = [(cfg, stage, a, min(a + step, n)) for a in range(0, n, step)]
    pool = None
    if cfg.workers > 1 and n > 1:
        pool = mp.get_context("fork").Pool(cfg.workers)
    run: Callable[[Callable, list], Iterator] = (lambda f, t: pool.imap(f, t, chunksize=1)) if pool else map
    try:
        scene_jsons: list[str] = []
        png_sha: list[str] = []
        pix_sha: list[str] = []
        for res in run(_image_task, image_tasks):
            for s, a, b in res:
                scene_jsons.append(s)
                png_sha.append(a)
                pix_sha.append(b)
            if progress:
                progress("images", len(res))
        info = make_info(cfg.name, date=cfg.date)
        if "scenes" in paths:
            _write_json_list(paths["scenes"], info, "scenes", scene_jsons)
        windows = [(cfg, w, scene_jsons[a:a + WINDOW]) for w, a in enumerate(range(0, n, WINDOW))]
        types: Counter[str] = Counter()
        families: Counter[int] = Counter()

        def questions() -> Iterator[str]:
            count = 0
            for (_, _, window), qs in zip(windows, run(_question_task, windows)):
                for q in qs:
                    types[question_type(q["program"][-1]["function"])] += 1
                    families[q["question_family_index"]] += 1
                    q["question_index"] = count
                    count += 1
                    yield json.dumps(for_test_split(q) if cfg.hide_answers else q)
                if progress:
                    progress("questions", len(window))

        _write_json_list(paths["questions"], info, "questions", questions())
    finally:
        if pool is not None:
            pool.terminate()
    names = [cfg.image_filename(i) for i in range(n)]
    rel = cfg.relpaths()
    entry = {
        "vrkit_version": __version__, "split": cfg.split, "condition": cfg.condition, "seed": cfg.seed,
        "images": n, "questions": sum(types.values()), "questions_per_image": cfg.questions_per_image,
        "width": cfg.width, "height": cfg.height, "hide_answers": cfg.hide_answers,
        "templates": cfg.templates or "vrkit", "synonyms": cfg.synonyms or "vrkit",
        "question_types": dict(sorted(types.items())),
        "families_used": len(families),
        "images_dir": rel["images"],
        "images_sha256": _combined(names, png_sha), "pixels_sha256": _combined(names, pix_sha),
        "files": {k: {"path": rel[k], "sha256": sha256_file(paths[k])} for k in ("scenes", "questions") if k in rel},
    }
    manifest = {"world": "clevr", "format": 2, "splits": {cfg.name: entry}}
    atomic_write_text(paths["manifest"], json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return entry


def read_manifest(out: str | Path) -> dict:
    """The merged manifests of a generated CLEVR directory: ``{"world": "clevr", "splits": {name: entry}}``
    with each entry's ``"manifest"`` the file it came from (InputError if there is none, or one is not ours)."""
    root = Path(out)
    paths = sorted(p for p in root.glob(f"{PREFIX_M}*.json") if split_of(p.name) is not None)
    legacy = root / MANIFEST
    if legacy.is_file():
        paths.append(legacy)
    splits: dict[str, dict] = {}
    for path in paths:
        data = read_json(path, "manifest")
        if not (isinstance(data, dict) and isinstance(data.get("splits"), dict)):
            if path == legacy or not (isinstance(data, dict) and data.get("world") == "cog"):
                raise InputError("not a CLEVR manifest (needs 'world': 'clevr' and a 'splits' object)", path)
            continue  # a COG split's manifest in the same --out
        if data.get("world") != "clevr":
            raise InputError("not a CLEVR manifest", path)
        if path == legacy:
            notice_legacy(path)
        for name, entry in data["splits"].items():
            if not isinstance(entry, dict):
                raise InputError(f"split {name!r}: entry must be an object", path)
            splits.setdefault(name, {**entry, "manifest": path.name})
    if not splits:
        raise InputError(f"no {PREFIX_M}<split>.json (not a vrkit-generated CLEVR directory?)", root)
    return {"world": "clevr", "splits": dict(sorted(splits.items()))}
