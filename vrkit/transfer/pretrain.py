"""``vrkit transfer pretrain``: does visual pretraining help end-to-end reasoning on CATER-style snitch
localisation? (IV-CL, Sun et al., NeurIPS 2023; docs/ivcl.md). A resumable stage list per seed in
``<out>/ivcl/seed<s>/<stage>/results.json``:

1. ``pretrain__<name>`` — the four pretrainings with one budget: IV-CL, IV-CL image-only (no temporal
   transformer), supervised per-frame attributes and supervised object sets (:mod:`vrkit.engine.pretrain`).
2. ``finetune__<init>`` — snitch localisation (36-way) fine-tuned with the same data, epochs and batch for every
   initialisation of :data:`~vrkit.transfer.pretrain_fit.INITS` (the four above, a random frozen encoder,
   scratch, and the state path as an upper bound); its test-set logits are kept.
3. ``probe__<enc>`` — a linear probe on each frozen encoder (the four pretrained ones and a random one).
4. ``test__<stage>__all`` / ``__contained`` — top-1, top-5 and grid L1 on every test video and on those whose
   snitch is covered at the end; recipes ``pretrain`` (fine-tuning) and ``pretrain_probe`` (probes), which the
   transfer tables (:mod:`vrkit.transfer.table`) aggregate over seeds.

Then, unless ``cog=False`` (``--no-cog``), the COG group: the same pretrainings on COG condition-A videos and
COG question answering fine-tuned on A, tested on A and B (:mod:`vrkit.transfer.pretrain_cog`).

The fine-tuning and test sets are fixed generated videos (test: the same for every seed), generated once per
results directory and cached in ``<out>/ivcl/sets/`` (:func:`fixed_set`, :mod:`vrkit.data.set_cache`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from vrkit.errors import InputError
from vrkit.transfer.pretrain_fit import INITS, PROBES
from vrkit.transfer.pretrain_sizes import PRETRAININGS, SIZES, PretrainSizes, pretrain_tree
from vrkit.transfer.stages import Stage, StageList, run_stage_lists, side_by_side

RECIPE, PROBE_RECIPE, MODEL = "pretrain", "pretrain_probe", "ivcl"
TEST_SEED, FT_SEED = 900_001, 910_000
SUBSETS = {"all": "all videos", "contained": "snitch contained at end"}
LABELS = "test_labels.pt"  # a fine-tuning or probe stage's copy of the test labels


@dataclass
class PretrainSpec:
    scale: str = "cpu"
    seeds: list[int] = field(default_factory=lambda: [0])
    out: Path = Path("transfer_pretrain")
    minutes: float | None = None  # replaces the scale's per-pretraining minutes (<= 0: no cap)
    source: Any = None  # video source (vrkit.data.cater.WorldSource; tests pass a stand-in)
    cog: bool = True  # also the COG combination-split stage group (vrkit.transfer.pretrain_cog)
    video_pool: bool = False  # the four CATER pretrainings of a seed share one pool of videos on disk (pool_dir)

    def sizes(self) -> PretrainSizes:
        if self.scale not in SIZES:
            raise InputError(f"unknown scale {self.scale!r} (known: {', '.join(SIZES)})", "--scale")
        s = SIZES[self.scale]
        if self.minutes is not None:
            s = PretrainSizes(**{**asdict(s), "pre_minutes": self.minutes if self.minutes > 0 else None})
        return s

    def results_dir(self, seed: int) -> Path:
        return Path(self.out) / MODEL / f"seed{seed}"

    def pool_dir(self, seed: int) -> Path | None:
        """The video pool of ``seed``'s CATER pretrainings (``video_pool``; None: each generates its videos)."""
        return self.results_dir(seed) / "video_pool" if self.video_pool else None


def _world(s: PretrainSizes) -> dict[str, Any]:
    return {"size": s.image_size, "frames": s.frames}


_SETS: dict[tuple, Any] = {}


def sets_dir(spec: PretrainSpec) -> Path:
    """Where a results directory caches its fixed sets (:mod:`vrkit.data.set_cache`), shared by its seeds."""
    return Path(spec.out) / MODEL / "sets"


def fixed_set(spec: PretrainSpec, n: int, seed: int) -> dict[str, Any]:
    """``n`` generated videos (with state) of stream ``seed``, collated; kept for the process and cached on disk
    in :func:`sets_dir` (generated once per results directory, whatever the number of processes)."""
    from vrkit.data.cater import CaterStream, WorldSource, materialise
    from vrkit.data.set_cache import cached_set, set_key
    from vrkit.worlds.cater.video import FORMAT

    s = spec.sizes()
    mem = (repr(_world(s)), n, seed, id(spec.source), str(spec.out))
    if mem not in _SETS:
        if len(_SETS) > 4:
            _SETS.clear()
        src = spec.source
        world = WorldSource().config(_world(s)).to_json() if src is None else _world(s)  # every option, defaults too
        key = set_key(world=world, n=n, stream_seed=seed, state=True, world_format=FORMAT,
                      source="world" if src is None else f"{type(src).__module__}.{type(src).__qualname__}")
        _SETS[mem] = cached_set(sets_dir(spec), f"cater-n{n}-s{seed}", key, lambda: materialise(
            CaterStream(n, seed, _world(s), state=True, source=src)))
    return _SETS[mem]


def _save_labels(path: Path, data: dict[str, Any]) -> None:
    """The test set's labels (snitch cell, contained at the end), atomically: all a test stage reads of it."""
    import torch

    from vrkit.utils.atomic import atomic_path

    with atomic_path(path) as tmp:
        torch.save({k: data[k] for k in ("snitch_cell", "contained")}, tmp)


def build_stages(spec: PretrainSpec, seed: int) -> list[Stage]:
    s = spec.sizes()
    meta = {"model": MODEL, "seed": seed, "scale": spec.scale}
    stages: list[Stage] = []

    def pretrain_stage(name: str) -> Stage:
        def fn(sdir: Path, done: dict) -> dict:
            from vrkit.engine.pretrain import from_tree
            from vrkit.engine.pretrain_run import pretrain

            pool = spec.pool_dir(seed)
            res = pretrain(from_tree(pretrain_tree(s, name, seed, None if pool is None else str(pool)),
                                     f"<{spec.scale} scale>"), sdir / "run", source=spec.source)
            return {**res, "run_dir": "run", "encoder": f"{sdir.name}/run/encoder.pt", "video_pool": pool is not None}

        return Stage(f"pretrain__{name}", "train", fn, {**meta, "objective": PRETRAININGS[name][0],
                                                         "videos": s.pre_n, "epochs": s.pre_epochs}, needs=())

    def encoder_of(done: dict, sdir: Path, name: str | None) -> Any:
        if name is None:
            return None
        from vrkit.engine.pretrain_run import load_encoder

        return load_encoder(sdir.parent / done[f"pretrain__{name}"]["encoder"])[0]

    def train_stage(kind: str, name: str) -> Stage:
        def fn(sdir: Path, done: dict) -> dict:
            from vrkit.engine.pretrain import from_tree, model_config
            from vrkit.models.ivcl_heads import LinearProbe
            from vrkit.transfer.pretrain_fit import build_classifier, fit, predict, save_logits, seeded

            model_cfg = model_config(from_tree(pretrain_tree(s, "image_only", seed), "<scale>"))
            sizes = {"features": fixed_set(spec, s.test_n, TEST_SEED)["objects"].shape[-1]}
            if kind == "finetune":
                net = build_classifier(name, encoder_of(done, sdir, INITS[name][1]), model_cfg, sizes, seed)
            else:
                import torch

                from vrkit.models.ivcl import IVCL

                torch.manual_seed(seeded("probe", name, seed))
                enc = encoder_of(done, sdir, PROBES[name][1])
                net = LinearProbe(enc if enc is not None else IVCL(model_cfg), 36)
            res = fit(net, fixed_set(spec, s.ft_n, FT_SEED + seed), s.ft_epochs, s.batch, s.ft_lr, seed,
                      s.ft_minutes)
            test = fixed_set(spec, s.test_n, TEST_SEED)
            save_logits(sdir / "test_logits.pt", predict(net, test, s.batch))
            _save_labels(sdir / LABELS, test)
            return {**res, "logits": f"{sdir.name}/test_logits.pt"}

        label, enc = INITS[name][:2] if kind == "finetune" else PROBES[name]
        return Stage(f"{kind}__{name}", "finetune", fn, {**meta, "init": name, "label": label,
                                                         "videos": s.ft_n, "epochs": s.ft_epochs},
                     needs=() if enc is None else (f"pretrain__{enc}",))

    def test_stage(source: str, label: str, recipe: str, subset: str) -> Stage:
        def fn(sdir: Path, done: dict) -> dict:
            import torch

            from vrkit.transfer.pretrain_fit import metrics

            labels = sdir.parent / source / LABELS  # saved beside the logits: a --jobs child need not regenerate
            data = torch.load(labels) if labels.is_file() else fixed_set(spec, s.test_n, TEST_SEED)
            logits = torch.load(sdir.parent / done[source]["logits"], map_location="cpu")
            keep = data["contained"] if subset == "contained" else None
            m = metrics(logits, data["snitch_cell"], keep)
            return {**m, "acc": m["top1"]}

        return Stage(f"test__{source}__{subset}", "test", fn, {**meta, "recipe": recipe, "condition": label,
                                                                "task": SUBSETS[subset], "source": source,
                                                                "test_n": s.test_n}, needs=(source,))

    stages += [pretrain_stage(name) for name in PRETRAININGS]
    for kind, names, recipe in (("finetune", INITS, RECIPE), ("probe", PROBES, PROBE_RECIPE)):
        for name in names:
            st = train_stage(kind, name)
            stages.append(st)
            stages += [test_stage(st.name, st.meta["label"], recipe, sub) for sub in SUBSETS]
    if spec.cog:
        from vrkit.transfer.pretrain_cog import cog_stages

        stages += cog_stages(spec, seed)
    for i, st in enumerate(stages):
        st.meta["order"] = i
    return stages


def plan(spec: PretrainSpec, jobs: int | None = 1) -> list[str]:
    """What a run would do, one line per stage of every seed, then the budgets and which stages run side by
    side with ``jobs`` processes (None = auto); nothing is trained."""
    import math

    s = spec.sizes()
    lines = []
    for seed in spec.seeds:
        for st in build_stages(spec, seed):
            done = (spec.results_dir(seed) / st.name / "results.json").is_file()
            m = st.meta
            items, batch = m.get("items", "videos"), m.get("batch", s.batch)  # the COG group states its own
            if st.kind == "test":
                what = f"{m['test_n']} test {items} ({m['task']})"
            else:
                steps = m["epochs"] * math.ceil(m["videos"] / batch)
                fresh = " fresh" if st.kind == "train" else ""
                what = f"{m['videos']}{fresh} {items} x {m['epochs']} epoch(s) = {steps} steps of {batch}"
            lines.append(f"seed {seed} {st.kind:<8} {st.name}: {what}{'  (done)' if done else ''}")
    cap = lambda m: "no cap" if m is None else f"{m:g} min"  # noqa: E731
    lines.append(f"videos: {s.image_size} px, {s.frames} frames; model preset {s.preset}; pretraining budget "
                 f"{cap(s.pre_minutes)} each, fine-tuning {cap(s.ft_minutes)} each (the same steps for every "
                 "init unless the cap stops one first; each result records its steps)")
    mb = lambda n, z: f"~{n * z.frames * 3 * z.image_size ** 2 / 1e6:,.0f} MB"  # noqa: E731 - uint8 frames
    lines.append(f"cached: the fixed sets in {sets_dir(spec)}/ (generated once, loaded by every stage, --jobs child "
                 f"and resumed run: fine-tuning {mb(s.ft_n, s)} per seed, test {mb(s.test_n, s)})")
    lines.append(f"pretraining videos: shared by a seed's four CATER pretrainings in "
                 f"{spec.results_dir(0).parent}/seed<s>/video_pool/ ({mb(s.pre_n, s)} per epoch of {s.pre_n:,} "
                 "videos; the same videos as without the pool, generated once)" if spec.video_pool else
                 "pretraining videos: generated by each pretraining (--video-pool: one pool per seed, shared by its "
                 "four CATER pretrainings)")
    if spec.cog:
        from vrkit.transfer.pretrain_cog import cog_plan_line

        lines.append(cog_plan_line(spec))
    return lines + side_by_side([build_stages(spec, seed) for seed in spec.seeds],
                                [f"seed {seed} " for seed in spec.seeds], jobs)


def run_pretrain_recipe(spec: PretrainSpec, log: Callable[[str], None] | None = None, jobs: int | None = 1,
                        command: Callable[[int, str], list[str]] | None = None,
                        only: str | None = None) -> dict[int, dict]:
    """Run (or resume) every stage for every seed; returns {seed: {stage: result}}. ``jobs``, ``command`` and
    ``only`` as in :func:`vrkit.transfer.recipes.run_recipe` (the four pretrainings are independent; each
    fine-tuning and probe needs one of them)."""
    from vrkit.transfer.recipes import guard_settings

    lists = {seed: build_stages(spec, seed) for seed in spec.seeds}
    guard_settings(Path(spec.out) / MODEL / f"{RECIPE}_settings.json", {"scale": spec.scale, **asdict(spec.sizes())})
    if spec.cog:
        from vrkit.transfer.pretrain_cog import COG_RECIPE, cog_settings

        guard_settings(Path(spec.out) / MODEL / f"{COG_RECIPE}_settings.json", cog_settings(spec))
    runs = [StageList(st, spec.results_dir(seed), f"seed {seed} ", None if command is None else partial(command, seed))
            for seed, st in lists.items()]
    return dict(zip(lists, run_stage_lists(runs, log, jobs, only), strict=True))
