"""Zero-shot task transfer (TTNet; Pal & Balasubramanian, "Zero-Shot Task Transfer", CVPR 2019) over the COG
classification families, as a resumable stage list like the other recipes (docs/zeroshot.md).

Per seed, in ``<out>/<model>/seed<s>/<stage>/results.json``:

1. ``train_backbone`` — the model trained on the known families (all classification families but the held-out
   ones), then frozen; its own answer unit is the "shared head" baseline (today's "all but t" zero-shot).
2. ``features`` — its pre-answer features for every family: a pool (p subsets) and a test set
   (:mod:`zeroshot_heads`).
3. ``heads`` — p heads per family, one per pool subset, from one initialisation θ0; the oracle head of a held-out
   family is trained on its whole pool.
4. ``gamma`` — Γ from every available source (:mod:`zeroshot_gamma`), each also written as a Γ file.
5. ``ttnet__<source>`` — TTNet trained on the known heads with that Γ (:mod:`zeroshot_meta`), then the heads
   it generates for the held-out families.
6. ``sources`` — TTNet (main Γ) trained on random subsets of m known families: accuracy against m.
7. ``kshot`` — k-shot fine-tuning of a held-out head from θ0 (random) and from TTNet's head.
8. ``test__<method>__<family>`` — test stages (recipe ``zeroshot``) that the transfer tables aggregate; each
   also stores per-example scores for the win rates (:mod:`zeroshot_report`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from vrkit.engine.config import SourceConfig, TrainConfig
from vrkit.transfer.recipes import TEST_SEED, _ckpt, _relative
from vrkit.transfer.scale import base_config, derive
from vrkit.transfer.stages import Stage, run_stages
from vrkit.transfer.zeroshot_spec import (
    DEFAULT_HELDOUT,
    GAMMA_SOURCES,
    POOL_SEED,
    RECIPE,
    SIZES,
    ZeroShotSizes,
    ZeroShotSpec,
    check_settings,
    families,
    load_gammas,
)

__all__ = ["DEFAULT_HELDOUT", "GAMMA_SOURCES", "RECIPE", "SIZES", "ZeroShotSizes", "ZeroShotSpec", "build_stages",
           "families", "plan", "run_zeroshot"]


# -- stages ---------------------------------------------------------------------------------------------------
def _torch_save(obj: Any, path: Path) -> None:
    import torch

    from vrkit.utils.atomic import atomic_path

    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


_LOADED: dict[tuple[str, float], Any] = {}


def _torch_load(path: Path) -> Any:
    """A stage's saved tensors (kept in memory while the file is unchanged: test stages share them)."""
    import torch

    key = (str(Path(path).resolve()), Path(path).stat().st_mtime)
    if key not in _LOADED:
        if len(_LOADED) > 8:
            _LOADED.clear()
        _LOADED[key] = torch.load(path, map_location="cpu", weights_only=False)
    return _LOADED[key]


class _Run:
    """Shared pieces of one seed's stage list."""

    def __init__(self, spec: ZeroShotSpec, seed: int, base: TrainConfig) -> None:
        self.spec, self.seed, self.base, self.s = spec, seed, base, spec.sizes()
        self.known, self.held = families(spec)
        self.names = self.known + self.held
        self.fixed = load_gammas(spec, self.names)
        self.sources = [g for g in GAMMA_SOURCES if g in self.fixed or g == "affinity"] + ["shuffled"]
        self.meta = {"recipe": RECIPE, "model": spec.model, "seed": seed, "world": "cog", "scale": spec.scale}
        self.root = spec.results_dir(seed)
        self._feats: dict[str, dict[str, Any]] | None = None

    def file(self, stage: str, name: str) -> Path:
        return self.root / stage / name

    def stages(self) -> list[Stage]:
        st = [Stage("train_backbone", "train", self._train, {**self.meta, "families": self.known}),
              Stage("features", "features", self._features, dict(self.meta)),
              Stage("heads", "heads", self._heads, dict(self.meta)),
              Stage("gamma", "gamma", self._gamma, {**self.meta, "families": self.names})]
        st += [Stage(f"ttnet__{g}", "meta", self._ttnet(g), {**self.meta, "gamma": g}) for g in self.sources]
        st += [Stage("sources", "curve", self._curve, {**self.meta, "gamma": self.spec.gamma}),
               Stage("kshot", "kshot", self._kshot, {**self.meta, "gamma": self.spec.gamma})]
        for method, label in self.methods():
            for f in self.held:
                st.append(Stage(f"test__{method}__{f}", "test", self._test(method, f),
                                {**self.meta, "condition": label, "method": method, "task": f}))
        return st

    def methods(self) -> list[tuple[str, str]]:
        g = self.spec.gamma
        out = [("random", "random head"), ("shared", "shared head (all known)"), ("nearest", f"nearest task (Γ {g})"),
               ("gamma_average", f"Γ-average (Γ {g})")]
        out += [(f"ttnet_{s}", f"TTNet (Γ {s})") for s in self.sources]
        out.append(("oracle", "oracle head"))
        for k in self.s.ks:
            out += [(f"k{k}_random", f"k={k} from random"), (f"k{k}_ttnet", f"k={k} from TTNet")]
        return out

    # stage bodies
    def _train(self, sdir: Path, done: dict) -> dict:
        from vrkit.transfer.finetune import train_run

        cfg = derive(self.base, seed=self.seed, families=self.known, max_minutes=self.s.backbone_minutes)
        return _relative(train_run(cfg, sdir / "run"), sdir)

    def _features(self, sdir: Path, done: dict) -> dict:
        import torch

        from vrkit.engine.evaluate import load_task
        from vrkit.transfer.zeroshot_heads import extract

        task = load_task(_ckpt(done["train_backbone"], sdir))
        variant = self.base.data.variant
        out: dict[str, Any] = {}
        for f in self.names:
            pool = SourceConfig(kind="stream", n=self.s.subsets * self.s.subset_n, seed=POOL_SEED + self.seed,
                                variant=variant, families=[f])
            test = SourceConfig(kind="stream", n=self.s.test_n, seed=TEST_SEED, variant=variant, families=[f])
            fp, ft = extract(task, pool), extract(task, test)
            with torch.no_grad():
                shared = task.model.output_unit(ft.x).argmax(-1)
            out[f] = {"pool": {k: v.half() if k == "x" else v for k, v in fp.state().items()},
                      "test": {k: v.half() if k == "x" else v for k, v in ft.state().items()}, "shared_pred": shared}
        _torch_save(out, sdir / "features.pt")
        first = out[self.names[0]]["test"]["x"]
        return {"dim": int(first.shape[-1]), "classes": int(task.model.cfg.num_answers),
                "frames": {f: [len(out[f]["pool"]["y"]), len(out[f]["test"]["y"])] for f in self.names}}

    def feats(self) -> dict[str, dict[str, Any]]:
        """{family: {"pool", "test": Features, "shared_pred": the backbone's answers on the test frames}}."""
        from vrkit.transfer.zeroshot_heads import Features

        if self._feats is not None:
            return self._feats
        raw = _torch_load(self.file("features", "features.pt"))
        self._feats = {f: {"pool": Features(r["pool"]["x"].float(), r["pool"]["y"], r["pool"]["ex"]),
                    "test": Features(r["test"]["x"].float(), r["test"]["y"], r["test"]["ex"]),
                    "shared_pred": r["shared_pred"]} for f, r in raw.items()}
        return self._feats

    def head(self, done: dict) -> Any:
        from vrkit.transfer.zeroshot_heads import head_module

        info = done["features"]
        return head_module(info["dim"], self.s.hidden, info["classes"], seed=self.seed)

    def _heads(self, sdir: Path, done: dict) -> dict:
        import torch

        from vrkit.transfer.zeroshot_heads import flat, train_head

        head, fs, s = self.head(done), self.feats(), self.s
        theta0 = flat(head)
        heads, oracle = {}, {}
        for n, f in enumerate(self.names):
            parts = fs[f]["pool"].split(s.subsets)
            heads[f] = torch.stack([train_head(head, theta0, p, s.head_steps, 3e-3, 64, seed=1000 * n + v)
                                    for v, p in enumerate(parts)])
            if f in self.held:
                oracle[f] = train_head(head, theta0, fs[f]["pool"], s.head_steps, 3e-3, 64, seed=1000 * n + 999)
        _torch_save({"theta0": theta0, "heads": heads, "oracle": oracle}, sdir / "heads.pt")
        return {"params": int(theta0.numel()), "heads_per_family": s.subsets}

    def _gamma(self, sdir: Path, done: dict) -> dict:
        import vrkit.transfer.zeroshot_gamma as zg
        from vrkit.transfer.zeroshot_heads import example_scores, train_head

        head, fs, s = self.head(done), self.feats(), self.s
        hd = _torch_load(self.file("heads", "heads.pt"))
        gains = np.zeros((len(self.names), len(self.names)))
        for j, fj in enumerate(self.names):  # affinity: how much starting from i's head helps on j after k examples
            shots, held_out = fs[fj]["pool"].take(s.affinity_k), fs[fj]["pool"].split(s.subsets)[-1]
            base = example_scores(head, train_head(head, hd["theta0"], shots, s.ft_steps, 3e-3, 64, seed=j),
                                  held_out)[0]
            for i, fi in enumerate(self.known):
                if fi != fj:
                    tuned = train_head(head, hd["heads"][fi][0], shots, s.ft_steps, 3e-3, 64, seed=j)
                    gains[i, j] = example_scores(head, tuned, held_out)[0] - base
        for i in range(len(self.known), len(self.names)):  # held-out heads are no source: no measured row
            gains[i] = np.nan
        off = np.nan_to_num(gains, nan=np.nanmin(gains))
        gammas = {**self.fixed, "affinity": zg.scale_gains(off)}
        gammas["shuffled"] = zg.shuffled(gammas[self.spec.gamma], seed=self.seed + 1)
        for name, g in gammas.items():
            zg.write_gamma(sdir / f"gamma_{name}.yaml", self.names, g)
        return {"gammas": {k: np.round(v, 4).tolist() for k, v in gammas.items()},
                "affinity_gains": np.round(np.nan_to_num(gains), 4).tolist()}

    def gamma(self, done: dict, name: str) -> Any:
        import torch

        return torch.tensor(done["gamma"]["gammas"][name], dtype=torch.float32)

    def _meta_inputs(self, done: dict, sources: list[str]) -> tuple[Any, Any, Any]:
        import torch

        hd = _torch_load(self.file("heads", "heads.pt"))
        deltas = torch.stack([hd["heads"][f] for f in sources]) - hd["theta0"]
        return hd["theta0"], deltas, [self.names.index(f) for f in sources]

    def _fit_generate(self, done: dict, gname: str, sources: list[str], seed: int) -> tuple[dict, float, list]:
        from vrkit.transfer.zeroshot_meta import generate, train_ttnet

        head, fs = self.head(done), self.feats()
        theta0, deltas, idx = self._meta_inputs(done, sources)
        g = self.gamma(done, gname)
        net, sigma, log = train_ttnet(head, theta0, deltas, g[idx][:, idx], [fs[f]["pool"] for f in sources],
                                      steps=self.s.meta_steps, seed=seed)
        out = {h: generate(net, sigma, theta0, deltas, g[idx, self.names.index(h)]) for h in self.held}
        return out, sigma, log

    def _ttnet(self, gname: str) -> Callable[[Path, dict], dict]:
        def fn(sdir: Path, done: dict) -> dict:
            gen, sigma, log = self._fit_generate(done, gname, self.known, seed=self.seed)
            _torch_save(gen, sdir / "generated.pt")
            return {"sigma": sigma, "log": log}

        return fn

    def _curve(self, sdir: Path, done: dict) -> dict:
        from vrkit.transfer.zeroshot_heads import example_scores

        rng = np.random.default_rng(self.seed)
        head, fs = self.head(done), self.feats()
        acc: dict[str, dict[str, float]] = {}
        for m in sorted({min(m, len(self.known)) for m in self.s.curve} | {len(self.known)}):
            sources = sorted(rng.choice(len(self.known), size=m, replace=False).tolist())
            gen, _, _ = self._fit_generate(done, self.spec.gamma, [self.known[i] for i in sources], seed=self.seed)
            acc[str(m)] = {h: example_scores(head, gen[h], fs[h]["test"])[0] for h in self.held}
        return {"accuracy": acc}

    def _kshot(self, sdir: Path, done: dict) -> dict:
        from vrkit.transfer.zeroshot_heads import train_head

        head, fs = self.head(done), self.feats()
        theta0 = _torch_load(self.file("heads", "heads.pt"))["theta0"]
        gen = _torch_load(self.file(f"ttnet__{self.spec.gamma}", "generated.pt"))
        out = {}
        for n, h in enumerate(self.held):
            for k in self.s.ks:
                shots = fs[h]["pool"].take(k)
                for init, start in (("random", theta0), ("ttnet", gen[h])):
                    out[f"k{k}_{init}__{h}"] = train_head(head, start, shots, self.s.ft_steps, 3e-3, 64,
                                                          seed=100 * n + k)
        _torch_save(out, sdir / "kshot.pt")
        return {"ks": list(self.s.ks), "steps": self.s.ft_steps}

    def vector(self, done: dict, method: str, fam: str) -> Any:
        """The head parameters a method gives held-out family ``fam`` (None: the shared head)."""
        hd = _torch_load(self.file("heads", "heads.pt"))
        g = self.gamma(done, self.spec.gamma)
        col = g[[self.names.index(f) for f in self.known], self.names.index(fam)]
        if method == "random":
            return hd["theta0"]
        if method == "oracle":
            return hd["oracle"][fam]
        if method == "nearest":
            return hd["heads"][self.known[int(col.argmax())]][0]
        if method == "gamma_average":
            import torch

            from vrkit.transfer.zeroshot_meta import gamma_average

            deltas = torch.stack([hd["heads"][f][0] for f in self.known]) - hd["theta0"]
            return hd["theta0"] + gamma_average(deltas, col)
        if method.startswith("ttnet_"):
            return _torch_load(self.file(f"ttnet__{method[6:]}", "generated.pt"))[fam]
        return _torch_load(self.file("kshot", "kshot.pt"))[f"{method}__{fam}"]

    def _test(self, method: str, fam: str) -> Callable[[Path, dict], dict]:
        def fn(sdir: Path, done: dict) -> dict:
            from vrkit.transfer.zeroshot_heads import example_scores

            fs = self.feats()[fam]
            test = fs["test"]
            if method == "shared":
                import torch

                correct = (fs["shared_pred"] == test.y).float()
                n = int(test.ex.max()) + 1
                per = (torch.zeros(n).index_add_(0, test.ex, correct)
                       / torch.zeros(n).index_add_(0, test.ex, torch.ones_like(correct)).clamp(min=1))
                acc, scores, frames = float(correct.mean()), [round(v, 4) for v in per.tolist()], len(correct)
            else:
                acc, scores, frames = example_scores(self.head(done), self.vector(done, method, fam), test)
            return {"acc": acc, "examples": len(scores), "frames": frames, "scores": scores}

        return fn


def build_stages(spec: ZeroShotSpec, seed: int, base: TrainConfig | None = None) -> list[Stage]:
    """The stage list of ``spec`` for one seed."""
    base = base or base_config("cog", spec.model, spec.scale, spec.config, spec.overrides)
    stages = _Run(spec, seed, base).stages()
    for i, s in enumerate(stages):
        s.meta["order"] = i
    return stages


def plan(spec: ZeroShotSpec) -> list[str]:
    """One line per stage of every seed: what a run would do."""
    base = base_config("cog", spec.model, spec.scale, spec.config, spec.overrides)
    lines = []
    for seed in spec.seeds:
        for st in build_stages(spec, seed, base):
            done = (spec.results_dir(seed) / st.name / "results.json").is_file()
            lines.append(f"{spec.model} seed {seed} {st.kind:<8} {st.name}{'  (done)' if done else ''}")
    known, held = families(spec)
    budget = derive(base, seed=0, max_minutes=spec.sizes().backbone_minutes).trainer.max_minutes
    lines.append(f"known families: {len(known)}; held out: {', '.join(held)}; backbone budget: "
                 f"{'no cap' if budget is None else f'{budget:g} min'}")
    return lines


def run_zeroshot(spec: ZeroShotSpec, log: Callable[[str], None] | None = None) -> dict[int, dict[str, dict]]:
    """Run (or resume) every stage of ``spec`` for every seed; returns {seed: {stage: result}}."""
    base = base_config("cog", spec.model, spec.scale, spec.config, spec.overrides)
    lists = {seed: build_stages(spec, seed, base) for seed in spec.seeds}  # checks names and Γ files first
    check_settings(spec)
    return {seed: run_stages(st, spec.results_dir(seed), log, prefix=f"{spec.model} seed {seed} ")
            for seed, st in lists.items()}
