"""``vrkit transfer pretrain``: does visual pretraining help end-to-end reasoning on CATER-style snitch
localisation? (IV-CL, Sun et al., NeurIPS 2023; docs/ivcl.md). A resumable stage list per seed in
``<out>/ivcl/seed<s>/<stage>/results.json``:

0. ``pool`` (or ``pool__a`` and ``pool__b``, each half of the epochs, so two processes generate side by side) —
   when the scale has ``pool_epochs`` P > 0: P epochs of the pretraining stream generated into
   ``<out>/ivcl/seed<s>/video_pool/`` before any pretraining, so that no pretraining pays for generation under
   its wall-clock cap (:func:`pool_parts`).
1. ``pretrain__<name>`` — the four pretrainings with one budget: IV-CL, IV-CL image-only (no temporal
   transformer), supervised per-frame attributes and supervised object sets (:mod:`vrkit.engine.pretrain`).
   With a pool, epoch e reads pool epoch e mod P: every objective trains on the same fixed P × ``pre_n`` videos.
2. ``finetune__<init>`` — snitch localisation (36-way) fine-tuned with the same data, epochs and batch for every
   initialisation of :data:`~vrkit.transfer.pretrain_fit.INITS` (the four above, a random frozen encoder,
   scratch, and the state path as an upper bound); its test-set logits are kept.
3. ``probe__<enc>`` — a linear probe on each frozen encoder (the four pretrained ones and a random one). A
   frozen encoder runs once per video, and only the trainable part is fitted on its cached features
   (:func:`~vrkit.transfer.pretrain_fit.on_features`; also ``finetune__random_frozen``).
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
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from vrkit.errors import InputError
from vrkit.transfer.pretrain_fit import INITS, PROBES
from vrkit.transfer.pretrain_sizes import PRETRAININGS, SIZES, PretrainSizes, pretrain_tree, sizes_settings
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
    pool_epochs: int | None = None  # replaces the scale's pool_epochs (0: no pool, fresh videos every epoch)

    def sizes(self) -> PretrainSizes:
        if self.scale not in SIZES:
            raise InputError(f"unknown scale {self.scale!r} (known: {', '.join(SIZES)})", "--scale")
        s = SIZES[self.scale]
        if self.minutes is not None:
            s = replace(s, pre_minutes=self.minutes if self.minutes > 0 else None)
        if self.pool_epochs is not None:
            if self.pool_epochs < 0:
                raise InputError(f"pool epochs must be >= 0, got {self.pool_epochs}", "--pool-epochs")
            s = replace(s, pool_epochs=self.pool_epochs)
        return s

    def sets_dir(self) -> Path:
        """Where the results directory caches its fixed sets (:mod:`vrkit.data.set_cache`), shared by its seeds."""
        return Path(self.out) / MODEL / "sets"

    def results_dir(self, seed: int) -> Path:
        return Path(self.out) / MODEL / f"seed{seed}"

    def pool_dir(self, seed: int) -> Path | None:
        """The video pool of ``seed``'s CATER pretrainings (None: no pool, each generates fresh videos)."""
        return self.results_dir(seed) / "video_pool" if self.sizes().pool_epochs else None


def pool_parts(pool_epochs: int) -> list[tuple[str, list[int]]]:
    """The pool stages of a seed and the stream epochs each generates: none without a pool, ``pool`` for one
    epoch, else ``pool__a`` and ``pool__b`` with half of the epochs each (they run side by side with --jobs 2)."""
    if pool_epochs <= 1:
        return [("pool", [0])] if pool_epochs == 1 else []
    half = (pool_epochs + 1) // 2
    return [("pool__a", list(range(half))), ("pool__b", list(range(half, pool_epochs)))]


def pool_stream(spec: PretrainSpec, seed: int) -> Any:
    """The pretraining stream of ``seed`` over its pool (what every CATER pretraining of the seed reads)."""
    from vrkit.data.cater import CaterStream
    from vrkit.engine.datamodules.cater import split_seed

    s = spec.sizes()
    return CaterStream(s.pre_n, split_seed(seed, "train"), _world(s), state=True, source=spec.source,
                       pool=spec.pool_dir(seed), pool_epochs=s.pool_epochs)


def _world(s: PretrainSizes) -> dict[str, Any]:
    return {"size": s.image_size, "frames": s.frames}


_SETS: dict[tuple, Any] = {}


def _set_key(spec: PretrainSpec, n: int, seed: int) -> tuple[str, dict[str, Any]]:
    """The cache name and key (:mod:`vrkit.data.set_cache`) of :func:`fixed_set`'s set: everything that fixes its
    bytes."""
    from vrkit.data.cater import source_identity
    from vrkit.data.set_cache import set_key

    return f"cater-n{n}-s{seed}", set_key(**source_identity(spec.source, _world(spec.sizes())), n=n,
                                          stream_seed=seed, state=True)


def set_id(spec: PretrainSpec, n: int, seed: int) -> str:
    """The file name of :func:`fixed_set`'s set in :meth:`PretrainSpec.sets_dir` (it carries its key's digest)."""
    from vrkit.data.set_cache import set_path

    return set_path(spec.sets_dir(), *_set_key(spec, n, seed)).name


def fixed_set(spec: PretrainSpec, n: int, seed: int) -> dict[str, Any]:
    """``n`` generated videos (with state) of stream ``seed``, collated; kept for the process and cached on disk
    in :meth:`PretrainSpec.sets_dir` (generated once per results directory, whatever the number of processes)."""
    from vrkit.data.cater import CaterStream, materialise
    from vrkit.data.set_cache import cached_set

    s = spec.sizes()
    mem = (repr(_world(s)), n, seed, id(spec.source), str(spec.out))
    if mem not in _SETS:
        if len(_SETS) > 4:
            _SETS.clear()
        _SETS[mem] = cached_set(spec.sets_dir(), *_set_key(spec, n, seed), lambda: materialise(
            CaterStream(n, seed, _world(s), state=True, source=spec.source)))
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

    pools = pool_parts(s.pool_epochs)

    def pool_stage(name: str, epochs: list[int]) -> Stage:
        def fn(sdir: Path, done: dict) -> dict:
            stream = pool_stream(spec, seed)
            made = stream.fill_pool(epochs)
            files = []
            for e in epochs:
                stream.set_epoch(e)
                files += stream.pool_files()
            return {"videos_generated": made, "pool_bytes": sum(f.stat().st_size for f in files)}

        return Stage(name, "data", fn, {**meta, "videos": s.pre_n, "epochs": len(epochs), "stream_epochs": epochs},
                     needs=())

    def pretrain_stage(name: str) -> Stage:
        def fn(sdir: Path, done: dict) -> dict:
            from vrkit.engine.pretrain import from_tree
            from vrkit.engine.pretrain_run import pretrain

            pool = spec.pool_dir(seed)
            res = pretrain(from_tree(pretrain_tree(s, name, seed, None if pool is None else str(pool)),
                                     f"<{spec.scale} scale>"), sdir / "run", source=spec.source)
            return {**res, "run_dir": "run", "encoder": f"{sdir.name}/run/encoder.pt"}

        return Stage(f"pretrain__{name}", "train", fn, {**meta, "objective": PRETRAININGS[name][0],
                                                         "videos": s.pre_n, "epochs": s.pre_epochs,
                                                         "pool_epochs": s.pool_epochs},
                     needs=tuple(n for n, _ in pools))

    def encoder_of(done: dict, sdir: Path, name: str | None) -> Any:
        if name is None:
            return None
        from vrkit.engine.pretrain_run import load_encoder

        return load_encoder(sdir.parent / done[f"pretrain__{name}"]["encoder"])[0]

    def train_stage(kind: str, name: str) -> Stage:
        def fn(sdir: Path, done: dict) -> dict:
            from vrkit.engine.pretrain import from_tree, model_config
            from vrkit.models.ivcl_heads import LinearProbe
            from vrkit.transfer.pretrain_fit import build_classifier, fit, on_features, predict, save_logits, seeded

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
            fine, test = fixed_set(spec, s.ft_n, FT_SEED + seed), fixed_set(spec, s.test_n, TEST_SEED)
            _save_labels(sdir / LABELS, test)
            # a frozen encoder runs once per video, not once per step (docs/ivcl.md, 'Frozen encoders')
            net, (fine, test), extra = on_features(net, [(fine, set_id(spec, s.ft_n, FT_SEED + seed)),
                                                         (test, set_id(spec, s.test_n, TEST_SEED))],
                                                   s.batch, spec.sets_dir() / "features")
            res = fit(net, fine, s.ft_epochs, s.batch, s.ft_lr, seed, s.ft_minutes)
            save_logits(sdir / "test_logits.pt", predict(net, test, s.batch))
            return {**res, **extra, "logits": f"{sdir.name}/test_logits.pt"}

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

    stages += [pool_stage(name, epochs) for name, epochs in pools]
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
    mb = lambda n, z: f"~{n * z.frames * 3 * z.image_size ** 2 / 1e6:,.0f} MB"  # noqa: E731 - uint8 frames
    lines = []
    for seed in spec.seeds:
        for st in build_stages(spec, seed):
            done = (spec.results_dir(seed) / st.name / "results.json").is_file()
            m = st.meta
            items, batch = m.get("items", "videos"), m.get("batch", s.batch)  # the COG group states its own
            if st.kind == "test":
                what = f"{m['test_n']} test {items} ({m['task']})"
            elif st.kind == "data":
                e, n = m["stream_epochs"], m["epochs"] * m["videos"]
                what = (f"pool epoch(s) {e[0]}{f'-{e[-1]}' if len(e) > 1 else ''} of the pretraining stream: "
                        f"{m['epochs']} x {m['videos']} = {n:,} videos generated ({mb(n, s)} on disk)")
            else:
                steps = m["epochs"] * math.ceil(m["videos"] / batch)
                fresh = "" if st.kind != "train" else " pooled" if m.get("pool_epochs") else " fresh"
                what = f"{m['videos']}{fresh} {items} x {m['epochs']} epoch(s) = {steps} steps of {batch}"
            lines.append(f"seed {seed} {st.kind:<8} {st.name}: {what}{'  (done)' if done else ''}")
    cap = lambda m: "no cap" if m is None else f"{m:g} min"  # noqa: E731
    lines.append(f"videos: {s.image_size} px, {s.frames} frames; model preset {s.preset}; pretraining budget "
                 f"{cap(s.pre_minutes)} each, fine-tuning {cap(s.ft_minutes)} each (the same steps for every "
                 "init unless the cap stops one first; each result records its steps)")
    lines.append(f"cached: the fixed sets in {spec.sets_dir()}/ (generated once, loaded by every stage, --jobs child "
                 f"and resumed run: fine-tuning {mb(s.ft_n, s)} per seed, test {mb(s.test_n, s)})")
    P = s.pool_epochs
    lines.append(f"pretraining videos: a pool of {P} epoch(s) x {s.pre_n:,} = {P * s.pre_n:,} videos per seed in "
                 f"{spec.results_dir(0).parent}/seed<s>/video_pool/ ({mb(P * s.pre_n, s)} per seed), generated by "
                 f"the pool stage(s) before any pretraining; epoch e of every CATER pretraining reads pool epoch "
                 f"e mod {P}, so each spends its whole budget training on the same fixed videos (--pool-epochs 0: "
                 "fresh videos every epoch, generated inside each pretraining's budget)" if P else
                 "pretraining videos: fresh every epoch, generated by each pretraining inside its budget "
                 "(--pool-epochs P: a pool of P epochs per seed, generated before the pretrainings)")
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
    guard_settings(Path(spec.out) / MODEL / f"{RECIPE}_settings.json", {"scale": spec.scale,
                                                                         **sizes_settings(spec.sizes())})
    if spec.cog:
        from vrkit.transfer.pretrain_cog import COG_RECIPE, cog_settings

        guard_settings(Path(spec.out) / MODEL / f"{COG_RECIPE}_settings.json", cog_settings(spec))
    runs = [StageList(st, spec.results_dir(seed), f"seed {seed} ", None if command is None else partial(command, seed))
            for seed, st in lists.items()]
    return dict(zip(lists, run_stage_lists(runs, log, jobs, only), strict=True))
