"""The three transfer protocols of Jayram et al., 2019 (docs/transfer.md) as stage lists (one list per model and seed).

Results of model M, seed s live in ``<out>/<M>/seed<s>/<stage>/results.json``; test stages carry
``recipe, model, seed, condition, task, acc, examples`` (and the full per-family summary), which
:mod:`vrkit.transfer.table` aggregates over seeds.

* temporal (COG): train canonical → test canonical; zero-shot on hard; fine-tune (1 epoch) on hard → test hard;
  train hard → test hard.
* feature (CLEVR-CoGenT, or COG's colour × shape split with ``--world cog``: ``worlds/cog/combos.py``): train A →
  test A, B; fine-tune on a small B set → test A, B.
* reasoning (COG groups or CLEVR question types): per task t: train on t only; on all tasks; on all but t
  (zero-shot on t); all-but-t then fine-tune on t; CLEVR adds the control of Fig. 5 (the all-tasks model
  fine-tuned on t); plus user partitions (train on a union of tasks, test on every task). The COG tasks are
  the 10 groups of ``constants.GROUPS``: the paper's 5 classification groups and our 5 pointing groups.
Every fine-tuning condition is repeated for each fine-tuning mode: ``full``, ``head``, ``flex-full``,
``flex-fast``, ``flex-faster`` (:mod:`vrkit.transfer.flex`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from vrkit.engine.config import SourceConfig, TrainConfig
from vrkit.errors import InputError
from vrkit.transfer.scale import RECIPE_SIZES, SIZES, ScaleSizes, base_config, derive
from vrkit.transfer.stages import Stage, StageList, run_stage_lists, side_by_side

RECIPES = ("temporal", "feature", "reasoning")
DEFAULT_WORLD = {"temporal": "cog", "feature": "clevr", "reasoning": "cog"}
FT_MODES = ("full", "head", "flex-full", "flex-fast", "flex-faster")
TEST_SEED = 900_001  # test sets are the same for every model and seed
VAL_SEED = 900_002  # flex-tuning selection sets
TRAIN_SHARE = 0.8  # share of a recipe's minutes given to training runs (the rest: tests, start-up)


@dataclass
class RecipeSpec:
    """Everything a recipe run needs (the CLI fills it from its flags)."""

    recipe: str
    model: str
    scale: str = "cpu"
    seeds: list[int] = field(default_factory=lambda: [0])
    out: Path = Path("transfer")
    world: str = "cog"
    ft_modes: list[str] = field(default_factory=lambda: ["full"])
    tasks: list[str] | None = None  # reasoning: tasks (default: every group / question type)
    partitions: dict[str, list[str]] = field(default_factory=dict)  # reasoning: name -> tasks
    config: str | None = None  # replaces the scale's base YAML
    overrides: list[str] = field(default_factory=list)
    test_n: int | None = None
    ft_n: int | None = None
    ft_epochs: int | None = None
    ft_val_n: int | None = None
    minutes: float | None = None  # whole-recipe budget (None = the scale's; <= 0 = no cap: epoch-exact runs)

    def sizes(self) -> ScaleSizes:
        s = replace(SIZES[self.scale], **RECIPE_SIZES.get((self.recipe, self.scale), {}))
        return ScaleSizes(test_n=self.test_n or s.test_n, ft_n=self.ft_n or s.ft_n,
                          ft_epochs=self.ft_epochs or s.ft_epochs, ft_val_n=self.ft_val_n or s.ft_val_n,
                          minutes=s.minutes if self.minutes is None else (self.minutes if self.minutes > 0 else None))

    def results_dir(self, seed: int) -> Path:
        return Path(self.out) / self.model / f"seed{seed}"


def parse_partitions(text: str | None) -> dict[str, list[str]]:
    """``"A=Basic,Compare;B=Spatial,Cognitive"`` → {"A": ["Basic", "Compare"], "B": [...]}."""
    out: dict[str, list[str]] = {}
    for pos, part in enumerate((text or "").split(";")):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            raise InputError(f"partition {part!r} is not NAME=TASK,TASK", "--partition", pos + 1)
        name, tasks = part.split("=", 1)
        items = [t.strip() for t in tasks.split(",") if t.strip()]
        if not name.strip() or not items:
            raise InputError(f"partition {part!r} needs a name and at least one task", "--partition", pos + 1)
        out[name.strip()] = items
    return out


def world_tasks(world: str) -> list[str]:
    """Reasoning tasks of a world: COG groups (incl. the pointing groups) or CLEVR question types."""
    from vrkit.engine.recipe import datamodule_class

    return list(datamodule_class(world).GROUPS)


# -- stage bodies -------------------------------------------------------------------------------------------
class _Ctx:
    """Shared pieces of one (model, seed) stage list."""

    def __init__(self, spec: RecipeSpec, seed: int, base: TrainConfig, train_budget: float | None) -> None:
        self.spec, self.seed, self.base, self.sizes = spec, seed, base, spec.sizes()
        self.budget = train_budget
        self.meta = {"recipe": table_label(spec.recipe, spec.world), "model": spec.model, "seed": seed,
                     "world": spec.world,
                     "scale": spec.scale}

    def train(self, name: str, *, variant: str | None = None, families: Any = None) -> Stage:
        cfg = derive(self.base, seed=self.seed, variant=variant, families=families, max_minutes=self.budget)

        def fn(sdir: Path, done: dict) -> dict:
            from vrkit.transfer.finetune import train_run

            return _relative(train_run(cfg, sdir / "run"), sdir)

        return Stage(name, "train", fn, {**self.meta, "variant": variant, "families": families,
                                         "budget": cfg.trainer.max_minutes, **_sizes(cfg)}, needs=())

    def finetune(self, name: str, source: str, mode: str, *, variant: str | None, families: Any) -> Stage:
        s = self.sizes
        cfg = derive(self.base, seed=self.seed, variant=variant, families=families, train_n=s.ft_n,
                     val_n=s.ft_val_n, max_epochs=s.ft_epochs, max_minutes=self.budget)
        val = SourceConfig(kind="stream", n=s.ft_val_n, seed=VAL_SEED, variant=variant or cfg.data.variant,
                           families=families if families is not None else cfg.data.families)

        def fn(sdir: Path, done: dict) -> dict:
            from vrkit.engine.evaluate import load_task
            from vrkit.transfer.finetune import finetune_run, head_units

            ckpt = _ckpt(done[source], sdir)
            if mode == "full":
                return _relative(finetune_run(cfg, ckpt, sdir / "run", None), sdir)
            if mode == "head":
                return _relative(finetune_run(cfg, ckpt, sdir / "run", head_units(load_task(ckpt).model)), sdir)
            from vrkit.transfer.flex import flex_tune

            return _relative(flex_tune(cfg, ckpt, sdir / "flex", mode.split("-", 1)[1], val), sdir)

        return Stage(name, "finetune", fn, {**self.meta, "ft_mode": mode, "source": source, **_sizes(cfg)},
                     needs=(source,))

    def test(self, name: str, source: str, condition: str, task: str, *, variant: str | None,
             families: Any, **meta: Any) -> Stage:
        src = SourceConfig(kind="stream", n=self.sizes.test_n, seed=TEST_SEED,
                           variant=variant or self.base.data.variant,
                           families=families if families is not None else self.base.data.families)

        def fn(sdir: Path, done: dict) -> dict:
            from vrkit.engine.evaluate import evaluate, load_task

            s = evaluate(load_task(_ckpt(done[source], sdir)), src)
            return {"acc": s["acc"], "frames_acc": s["frames_acc"], "frames": s["frames"],
                    "examples": s["examples"], "summary": s, "test_variant": src.variant,
                    "test_families": src.families}

        return Stage(name, "test", fn, {**self.meta, "condition": condition, "task": task, "source": source,
                                        "test_n": src.n, **meta}, needs=(source,))


def _sizes(cfg: TrainConfig) -> dict[str, Any]:
    """What a training stage's plan states: examples per epoch, epochs, batch size."""
    return {"train_n": cfg.data.train.n, "epochs": cfg.trainer.max_epochs, "batch": cfg.data.batch_size}


def _relative(res: dict[str, Any], sdir: Path) -> dict[str, Any]:
    """``res`` with its checkpoint path relative to the results directory (the directory can move)."""
    res = dict(res)
    res["ckpt"] = Path(res["ckpt"]).resolve().relative_to(sdir.parent.resolve()).as_posix()
    return res


def _ckpt(result: dict[str, Any], sdir: Path) -> Path:
    """Absolute checkpoint path of an earlier stage's result (stored relative to the results directory)."""
    return sdir.parent / result["ckpt"]


def _temporal(c: _Ctx) -> list[Stage]:
    if c.spec.world != "cog":
        raise InputError("the temporal recipe runs on COG (canonical → hard)")
    st = [c.train("train_canonical", variant="canonical"),
          c.test("test_canonical_on_canonical", "train_canonical", "canonical → canonical", "all",
                 variant="canonical", families=None),
          c.test("test_canonical_on_hard", "train_canonical", "canonical → hard (zero-shot)", "all",
                 variant="hard", families=None)]
    for mode in c.spec.ft_modes:
        st.append(c.finetune(f"ft_{mode}_hard", "train_canonical", mode, variant="hard", families=None))
        st.append(c.test(f"test_ft_{mode}_on_hard", f"ft_{mode}_hard", f"canonical + ft hard [{mode}] → hard",
                         "all", variant="hard", families=None, ft_mode=mode))
    st += [c.train("train_hard", variant="hard"),
           c.test("test_hard_on_hard", "train_hard", "hard → hard", "all", variant="hard", families=None)]
    return st


def _feature(c: _Ctx) -> list[Stage]:
    if c.spec.world not in ("clevr", "cog"):
        raise InputError(f"the feature recipe runs on CLEVR-CoGenT or COG, not {c.spec.world!r}")
    if c.spec.world == "clevr":
        var = {"A": "A", "B": "B"}
    else:  # COG: the base config's variant (canonical, hard) with each half of the colour x shape pairs
        base = c.base.data.variant.partition("-")[0]
        var = {k: f"{base}-{k}" for k in ("A", "B")}
    st = [c.train("train_A", variant=var["A"])]
    for cond in ("A", "B"):
        st.append(c.test(f"test_A_on_{cond}", "train_A", "train A", cond, variant=var[cond], families=None))
    for mode in c.spec.ft_modes:
        st.append(c.finetune(f"ft_{mode}_B", "train_A", mode, variant=var["B"], families=None))
        for cond in ("A", "B"):
            st.append(c.test(f"test_ft_{mode}_on_{cond}", f"ft_{mode}_B", f"train A + ft B [{mode}]", cond,
                             variant=var[cond], families=None, ft_mode=mode))
    return st


def _reasoning(c: _Ctx) -> list[Stage]:
    known = world_tasks(c.spec.world)
    tasks = c.spec.tasks or known
    for t in tasks + [t for p in c.spec.partitions.values() for t in p]:
        if t not in known:
            raise InputError(f"unknown {c.spec.world} task {t!r} (known: {', '.join(known)})", "--tasks")
    st = [c.train("train_all", families=list(tasks))]
    for t in tasks:
        rest = [u for u in tasks if u != t]
        st += [c.train(f"train_only__{t}", families=[t]),
               c.test(f"test_only__{t}", f"train_only__{t}", "only t", t, variant=None, families=[t]),
               c.test(f"test_all__{t}", "train_all", "all tasks", t, variant=None, families=[t])]
        if not rest:
            continue
        st += [c.train(f"train_but__{t}", families=rest),
               c.test(f"test_but__{t}", f"train_but__{t}", "all but t (zero-shot)", t, variant=None,
                      families=[t])]
        for mode in c.spec.ft_modes:
            st += [c.finetune(f"ft_{mode}_but__{t}", f"train_but__{t}", mode, variant=None, families=[t]),
                   c.test(f"test_ft_{mode}_but__{t}", f"ft_{mode}_but__{t}", f"all but t + ft t [{mode}]", t,
                          variant=None, families=[t], ft_mode=mode)]
            if c.spec.world == "clevr":  # control of Fig. 5: the all-tasks model fine-tuned on t
                st += [c.finetune(f"ft_{mode}_all__{t}", "train_all", mode, variant=None, families=[t]),
                       c.test(f"test_ft_{mode}_all__{t}", f"ft_{mode}_all__{t}", f"all + ft t [{mode}]", t,
                              variant=None, families=[t], ft_mode=mode)]
    for pname, members in c.spec.partitions.items():
        cond = f"{pname} ({'+'.join(members)})"
        st.append(c.train(f"train_part__{pname}", families=list(members)))
        for t in tasks:
            st.append(c.test(f"test_part__{pname}__{t}", f"train_part__{pname}", cond, t, variant=None,
                             families=[t], in_partition=t in members))
    return st


BUILDERS: dict[str, Callable[[_Ctx], list[Stage]]] = {
    "temporal": _temporal, "feature": _feature, "reasoning": _reasoning}


def table_label(recipe: str, world: str) -> str:
    """The name results and tables carry: the recipe on its paper world (temporal and reasoning on COG,
    feature on CLEVR-CoGenT), else ``<recipe>_<world>`` (``feature_cog``, ``reasoning_clevr``)."""
    return recipe if DEFAULT_WORLD.get(recipe) == world else f"{recipe}_{world}"


def build_stages(spec: RecipeSpec, seed: int, base: TrainConfig | None = None) -> list[Stage]:
    """The stage list of ``spec`` for one seed (training budgets split per the scale's recipe minutes)."""
    if spec.recipe not in BUILDERS:
        raise InputError(f"unknown recipe {spec.recipe!r} (known: {', '.join(RECIPES)})")
    for m in spec.ft_modes:
        if m not in FT_MODES:
            raise InputError(f"unknown fine-tuning mode {m!r} (known: {', '.join(FT_MODES)})", "--ft-modes")
    base = base or base_config(spec.world, spec.model, spec.scale, spec.config, spec.overrides)
    stages = BUILDERS[spec.recipe](_Ctx(spec, seed, base, None))
    minutes = spec.sizes().minutes
    if minutes is not None:
        # Only open-ended training runs share the budget: fine-tuning runs are bounded by their epochs over a
        # small set (seconds to a minute at cpu scale) and are covered, with tests, by the other 1 - TRAIN_SHARE.
        n_train = sum(1 for s in stages if s.kind == "train")
        budget = TRAIN_SHARE * minutes / max(1, n_train * len(spec.seeds))
        stages = BUILDERS[spec.recipe](_Ctx(spec, seed, base, budget))
    for i, s in enumerate(stages):
        s.meta["order"] = i  # tables list conditions and tasks in recipe order
    return stages


GPU_STEP_SECONDS = 0.25  # assumed seconds per training step on one GPU (see plan); --gpu-step-seconds overrides
EVAL_COST = 1 / 3  # a test example costs about a third of a training example (forward pass only)


def plan(spec: RecipeSpec, step_seconds: float = GPU_STEP_SECONDS, jobs: int | None = 1) -> list[str]:
    """What a run would do, without training: one line per stage of every seed (kind, name, examples per epoch
    x epochs = steps at the batch size; test examples), then the totals and the expected GPU-hours at
    ``step_seconds`` per training step (an assumption to replace with a measured figure: a test batch is
    counted as ``EVAL_COST`` of a step). Open-ended training runs are capped by epochs at paper scale and by
    the recipe's minutes at cpu scale (stated per run). Last, which stages run side by side with ``jobs``
    processes (None = auto)."""
    import math

    base = base_config(spec.world, spec.model, spec.scale, spec.config, spec.overrides)
    lines, steps, evals = [], 0, 0.0
    for seed in spec.seeds:
        for st in build_stages(spec, seed, base):
            m = st.meta
            done = (spec.results_dir(seed) / st.name / "results.json").is_file()
            if st.kind == "test":
                what = f"{m['test_n']} test examples"
                evals += EVAL_COST * math.ceil(m["test_n"] / base.data.batch_size)
            else:
                n = m["epochs"] * math.ceil(m["train_n"] / m["batch"])
                steps += n
                what = f"{m['train_n']} examples x {m['epochs']} epoch(s) = {n} steps of {m['batch']}"
            lines.append(f"{spec.model} seed {seed} {st.kind:<8} {st.name}: {what}{'  (done)' if done else ''}")
    share = next((s.meta["budget"] for s in build_stages(spec, spec.seeds[0], base) if s.kind == "train"), None)
    lines.append(f"training budget per run: {'no cap' if share is None else f'{share:.2f} min'} "
                 f"(max_epochs {base.trainer.max_epochs})")
    hours = (steps + evals) * step_seconds / 3600
    lines.append(f"total: {steps} training steps + {evals:.0f} step-equivalents of tests; expected "
                 f"{hours:.1f} GPU-hours at {step_seconds:g} s per step (assumed, not measured: pass "
                 f"--gpu-step-seconds with your GPU's figure)")
    lists = [build_stages(spec, seed, base) for seed in spec.seeds]
    return lines + side_by_side(lists, [f"seed {seed} " for seed in spec.seeds], jobs)


def _settings(spec: RecipeSpec) -> dict[str, Any]:
    """What gives finished stages their meaning (adding seeds, tasks or fine-tuning modes only adds stages)."""
    return {"recipe": spec.recipe, "model": spec.model, "world": spec.world, "scale": spec.scale,
            "config": spec.config, "overrides": list(spec.overrides), "sizes": vars(spec.sizes())}


def _check_settings(spec: RecipeSpec) -> None:
    """Refuse to mix results made with other settings in one directory (they would be skipped as done)."""
    guard_settings(Path(spec.out) / spec.model / f"{spec.recipe}_settings.json", _settings(spec))


def guard_settings(path: Path, settings: dict[str, Any]) -> None:
    """Record ``settings`` in ``path`` (JSON) the first time; later, InputError naming the keys that differ, so
    a results directory never mixes stages made with other settings (every transfer recipe uses this)."""
    import json

    from vrkit.utils.atomic import atomic_write_text

    now = json.loads(json.dumps(settings))
    if path.is_file():
        old = json.loads(path.read_text(encoding="utf-8"))
        diff = sorted(k for k in set(old) | set(now) if old.get(k) != now.get(k))
        if diff:
            raise InputError(f"results here were made with other settings ({', '.join(diff)}); "
                             "use another --out or the same settings", path)
        return
    atomic_write_text(path, json.dumps(now, indent=1, sort_keys=True))


def run_recipe(spec: RecipeSpec, log: Callable[[str], None] | None = None, jobs: int | None = 1,
               command: Callable[[int, str], list[str]] | None = None,
               only: str | None = None) -> dict[int, dict[str, dict]]:
    """Run (or resume) every stage of ``spec`` for every seed; returns {seed: {stage: result}}. ``jobs`` > 1:
    stages of every seed whose needs are finished run side by side, each in a child process started with
    ``command(seed, stage)``; ``only``: run just that stage (of every seed) here (:mod:`vrkit.transfer.stages`)."""
    base = base_config(spec.world, spec.model, spec.scale, spec.config, spec.overrides)
    lists = {seed: build_stages(spec, seed, base) for seed in spec.seeds}  # checks every name first
    _check_settings(spec)
    runs = [StageList(stages, spec.results_dir(seed), f"{spec.model} seed {seed} ",
                      None if command is None else partial(command, seed)) for seed, stages in lists.items()]
    return dict(zip(lists, run_stage_lists(runs, log, jobs, only), strict=True))
