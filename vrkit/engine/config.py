"""Typed training configuration: dataclasses are the source of truth; YAML recipes are just their fields.

``load_config(path, overrides)`` reads a YAML recipe, applies dotted command-line overrides
(``model.dim=64 optim.lr=1e-3``; values parsed as YAML) and checks every key and type, the model name and its
options (against the model's own dataclass config), raising :class:`InputError` (one line naming the file or
the override) before any training starts. This module checks structure only and imports nothing of vrkit's
above it; the world's checks of the data sources are added by :func:`vrkit.engine.recipe.load_run_config`.

YAML layout::

    seed: 0
    model: {name: samnet, dim: 128, ...}          # name + fields of the model's Config
    data: {world: cog, variant: canonical, families: classification, path: state,
           train: {kind: stream, n: 20000}, val: {kind: files, paths: [...]}, batch_size: 48}
    optim: {lr: 2e-4, weight_decay: 2e-5, clip: 10, clip_mode: value, ...}
    trainer: {max_epochs: 10, precision: fp32, ...}
"""

from __future__ import annotations

import dataclasses
import operator
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from vrkit.engine._typecheck import build_dataclass, coerce
from vrkit.errors import InputError


@dataclass
class SourceConfig:
    """Where examples of one split come from."""

    kind: Literal["stream", "files"] = "stream"
    paths: list[str] = field(default_factory=list)  # files: official files or directories
    n: int | None = None  # stream: examples per epoch (required); files: samples per epoch (None = all)
    seed: int | None = None  # stream: generator seed (None = derived from the run seed and the split)
    variant: str | None = None  # None = data.variant (e.g. test a canonical model on hard)
    families: list[str] | str | None = None  # None = data.families
    features: str | None = None  # data.path features: HDF5 feature maps of this split (vrkit.data.features_h5)


@dataclass
class DataConfig:
    world: Literal["cog", "clevr"] = "cog"
    variant: str = "canonical"
    families: list[str] | str = "all"  # "all" | "classification" | "pointing" | group name | list of names
    path: Literal["state", "pixels", "features"] = "state"  # features: CLEVR, precomputed CNN maps
    image_size: int = 112
    max_objects: int | None = None
    train: SourceConfig = field(default_factory=lambda: SourceConfig(n=2048))
    val: SourceConfig | None = field(default_factory=lambda: SourceConfig(n=512))
    test: SourceConfig | None = None
    batch_size: int = 48
    eval_batch_size: int | None = None  # None = batch_size
    workers: int = 0


@dataclass
class OptimConfig:
    lr: float = 2e-4
    weight_decay: float = 2e-5
    clip: float | None = 10.0
    clip_mode: Literal["value", "norm"] = "value"
    # Warm-up by doubling (Messina et al., R-CBIR; docs/transfer.md, 'Training tricks for the Relation Network'):
    # lr = min(lr, warmup_start_lr * 2 ** (t // warmup_every)), t in warmup_unit.
    warmup_start_lr: float | None = None
    warmup_every: int = 1
    warmup_unit: Literal["step", "epoch"] = "epoch"
    # Increasing batch size (Messina et al., R-CBIR):
    # batch = min(batch_max, batch_size * 2 ** (epoch // batch_double_every)).
    # Cosine decay to lr * decay_floor over the steps from decay_start (fraction of trainer.max_steps) to max_steps;
    # step-based, so a run is reproducible (a time-based schedule would depend on the machine's speed).
    decay: Literal["none", "cosine"] = "none"
    decay_start: float = 0.0
    decay_floor: float = 0.05
    batch_double_every: int | None = None
    batch_max: int | None = None
    answer_balanced: bool = False  # files only: answer-balanced sampling (with replacement)
    reverse_question: bool = False  # feed questions reversed, as the model's invert_question() says
    point_weight: float = 1.0  # weight of the pointing loss
    # A step with a non-finite gradient is skipped; this many in a row stop the run (None = never stop).
    max_skipped_steps: int | None = 20


@dataclass
class TrainerConfig:
    max_epochs: int = 10
    max_steps: int = -1
    max_minutes: float | None = None
    precision: Literal["fp32", "bf16"] = "fp32"  # bf16 = bf16-mixed autocast
    channels_last: bool = True  # pixel path: CNN weights and activations channels-last (faster on CPU and GPU)
    early_stopping_patience: int | None = None  # epochs without val/acc improvement
    deterministic: bool = True
    val_every_n_epochs: int = 1
    checkpoint_every_n_steps: int | None = None  # extra mid-epoch "last" checkpoints (resume is then approximate)
    log_every_n_steps: int = 20
    accelerator: str = "cpu"
    devices: int = 1
    num_nodes: int = 1
    strategy: str = "auto"
    progress_bar: bool = False
    profiler: Literal["simple"] | None = None  # per-hook times (data, forward, backward, optimizer) → profile.txt


@dataclass
class ModelConfig:
    name: str = "samnet"
    options: dict[str, Any] = field(default_factory=dict)  # fields of the model's Config (YAML: next to name)


@dataclass
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    seed: int = 0
    run_dir: str | None = None  # None = runs/<config name>


def to_dict(cfg: TrainConfig) -> dict[str, Any]:
    """Plain nested dict in YAML layout (model options flattened next to ``name``)."""
    d = dataclasses.asdict(cfg)
    model = d.pop("model")
    d["model"] = {"name": model["name"], **{k: list(v) if isinstance(v, tuple) else v
                                            for k, v in model["options"].items()}}
    return {"seed": d["seed"], "run_dir": d["run_dir"], "model": d["model"], "data": d["data"],
            "optim": d["optim"], "trainer": d["trainer"]}


def dump_yaml(cfg: TrainConfig) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)


def _set_dotted(tree: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = tree
    for p in parts[:-1]:
        nxt = node.get(p)
        if nxt is None:
            nxt = node[p] = {}
        if not isinstance(nxt, dict):
            raise TypeError(f"{key}: {p} is not a section")
        node = nxt
    node[parts[-1]] = value


def apply_overrides(tree: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key.sub=value`` strings (values parsed as YAML) to a nested dict, in place."""
    for ov in overrides:
        if "=" not in ov or ov.startswith("="):
            raise InputError(f"override {ov!r} is not of the form key.sub=value", "<command line>")
        key, raw = ov.split("=", 1)
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            value = raw
        try:
            _set_dotted(tree, key.strip(), value)
        except TypeError as err:
            raise InputError(str(err), "<command line>") from None
    return tree


def _model_config(section: Any) -> ModelConfig:
    from vrkit.models.registry import available_models, get_model_class

    if not isinstance(section, dict):
        raise TypeError(f"model: expected a mapping, got {section!r}")
    opts = dict(section)
    name = opts.pop("name", "samnet")
    if not isinstance(name, str):
        raise TypeError(f"model.name: expected a string, got {name!r}")
    try:
        cls = get_model_class(name)
    except KeyError:
        raise TypeError(f"unknown model {name!r} (available: {', '.join(available_models())})") from None
    hints = typing.get_type_hints(cls.Config)
    fields = {f.name: f for f in dataclasses.fields(cls.Config)}
    for k, v in opts.items():
        if k not in fields:
            raise TypeError(f"unknown key model.{k} for model {name} (allowed: {', '.join(sorted(fields))})")
        opts[k] = coerce(v, hints[k], f"model.{k}")
        _check_model_value(f"model.{k}", opts[k], fields[k].default)
    return ModelConfig(name=name, options=opts)


def _check_model_value(key: str, value: Any, default: Any) -> None:
    """Generic range checks of model options, from each field's default: an int (or tuple of ints) whose default
    is positive is a size and must be >= 1; a ``*dropout`` float is a probability in [0, 1)."""
    if isinstance(value, bool) or value is None:
        return
    size = isinstance(default, int) and not isinstance(default, bool) and default > 0
    if size and isinstance(value, int) and value < 1:
        raise ValueError(f"{key} must be >= 1, got {value}")
    sizes = isinstance(default, tuple) and all(isinstance(d, int) and d > 0 for d in default)
    if sizes and isinstance(value, tuple) and any(isinstance(v, int) and v < 1 for v in value):
        raise ValueError(f"{key} must hold values >= 1, got {list(value)}")
    if key.endswith("dropout") and isinstance(value, float) and not 0.0 <= value < 1.0:
        raise ValueError(f"{key} must be in [0, 1), got {value}")


# Ranges of numeric config values (None = unset is always allowed), checked when a config is built.
_BOUNDS: tuple[tuple[str, str, float], ...] = (
    ("optim.lr", ">", 0), ("optim.weight_decay", ">=", 0), ("optim.clip", ">", 0), ("optim.warmup_start_lr", ">", 0),
    ("optim.batch_double_every", ">=", 1), ("optim.batch_max", ">=", 1), ("optim.point_weight", ">=", 0),
    ("trainer.max_minutes", ">", 0), ("trainer.early_stopping_patience", ">=", 1),
    ("trainer.val_every_n_epochs", ">=", 1), ("trainer.checkpoint_every_n_steps", ">=", 1),
    ("trainer.log_every_n_steps", ">=", 1), ("trainer.devices", ">=", 1), ("trainer.num_nodes", ">=", 1),
    ("data.batch_size", ">=", 1), ("data.eval_batch_size", ">=", 1), ("data.image_size", ">=", 1),
    ("data.max_objects", ">=", 1), ("data.workers", ">=", 0),
)
_OPS = {">": operator.gt, ">=": operator.ge}


def _check_bounds(cfg: TrainConfig) -> None:
    for key, op, bound in _BOUNDS:
        section, name = key.split(".")
        value = getattr(getattr(cfg, section), name)
        if value is not None and not _OPS[op](value, bound):
            raise ValueError(f"{key} must be {op} {bound:g}, got {value}")
    for key in ("trainer.max_epochs", "trainer.max_steps"):  # -1 = unlimited (Lightning)
        value = getattr(cfg.trainer, key.split(".")[1])
        if value != -1 and value < 1:
            raise ValueError(f"{key} must be >= 1 (or -1 for no limit), got {value}")
    for split in ("train", "val", "test"):
        src = getattr(cfg.data, split)
        if src is not None and src.kind == "files" and src.n is not None and src.n < 1:  # streams: the world's check
            raise ValueError(f"data.{split}.n must be >= 1, got {src.n}")


def from_dict(tree: dict[str, Any]) -> TrainConfig:
    """Checked :class:`TrainConfig` from a nested dict; raises TypeError/ValueError with the dotted key."""
    if not isinstance(tree, dict):
        raise TypeError("the config must be a mapping")
    tree = dict(tree)
    model = _model_config(tree.pop("model", {"name": "samnet"}))
    cfg = build_dataclass(TrainConfig, tree)
    cfg.model = model
    _check_bounds(cfg)
    # Structure only: the world's checks (family names, variants, paths) are its datamodule's (check_config),
    # joined to these in vrkit.engine.recipe (load_run_config), above the datamodules.
    if cfg.optim.answer_balanced and cfg.data.train.kind != "files":
        raise ValueError("optim.answer_balanced needs a files train source (data.train.kind: files)")
    if cfg.optim.max_skipped_steps is not None and cfg.optim.max_skipped_steps < 1:
        raise ValueError("optim.max_skipped_steps must be >= 1 or null")
    if cfg.optim.warmup_every < 1:
        raise ValueError("optim.warmup_every must be >= 1")
    if cfg.optim.decay == "cosine" and cfg.trainer.max_steps <= 0:
        raise ValueError("optim.decay=cosine needs trainer.max_steps > 0 (the schedule is defined over steps)")
    if not (0.0 <= cfg.optim.decay_start < 1.0 and 0.0 <= cfg.optim.decay_floor <= 1.0):
        raise ValueError("optim.decay_start must be in [0, 1) and optim.decay_floor in [0, 1]")
    return cfg


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> TrainConfig:
    """Load a YAML recipe (or the defaults if ``path`` is None), apply overrides and check everything."""
    tree: dict[str, Any] = {}
    where = "<defaults>"
    if path is not None:
        where = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as err:
            raise InputError(f"cannot read config ({err.strerror})", path) from None
        except UnicodeDecodeError as err:
            raise InputError(f"not a UTF-8 text file (byte {err.start})", path) from None
        try:
            tree = yaml.safe_load(text) or {}
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            problem = getattr(err, "problem", None) or str(err).splitlines()[0]  # a ReaderError has no 'problem'
            raise InputError(f"invalid YAML ({problem})", path,
                             None if mark is None else mark.line + 1) from None
        if not isinstance(tree, dict):
            raise InputError("a config file must hold a mapping", path)
    apply_overrides(tree, list(overrides or []))
    try:
        cfg = from_dict(tree)
    except (TypeError, ValueError) as err:
        raise InputError(str(err), where) from None
    if cfg.run_dir is None:
        stem = Path(path).stem if path is not None else "default"
        cfg.run_dir = str(Path("runs") / stem)
    return cfg


def _flat(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in tree.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v and key != "model":
            out.update(_flat(v, key + "."))
        elif isinstance(v, dict) and key == "model":
            out.update({f"model.{m}": w for m, w in v.items()})
        else:
            out[key] = v
    return out


def config_changes(old: TrainConfig, new: TrainConfig) -> dict[str, tuple[Any, Any]]:
    """``{dotted key: (old value, new value)}`` for every value that differs (``run_dir`` excluded)."""
    a, b = _flat(to_dict(old)), _flat(to_dict(new))
    return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if k != "run_dir" and a.get(k) != b.get(k)}


# Values a resumed run may change: budgets and bookkeeping, not what is computed per step.
RESUME_ALLOWED = frozenset({"trainer.max_epochs", "trainer.max_steps", "trainer.max_minutes", "trainer.progress_bar",
                            "trainer.profiler", "trainer.log_every_n_steps", "trainer.early_stopping_patience",
                            "data.workers"})


def resume_config(path: str | Path | None, overrides: list[str]) -> tuple[TrainConfig, dict[str, tuple[Any, Any]]]:
    """The config of ``--resume``: the run's saved ``config.yaml`` plus ``overrides`` (and, when ``path`` is given,
    the recipe, which must agree with it). Changes outside :data:`RESUME_ALLOWED` are refused (InputError naming
    them); returns ``(config, allowed changes)``. ``trainer.max_steps`` may change only without a step schedule."""
    run_dir = apply_overrides({}, [o for o in overrides if o.split("=", 1)[0].strip() == "run_dir"]).get("run_dir")
    if run_dir is None:
        run_dir = load_config(path, overrides).run_dir if path is not None else str(Path("runs") / "default")
    run = Path(str(run_dir))
    saved = run / "config.yaml"
    if not saved.is_file():
        raise InputError("nothing to resume: no config.yaml (was it trained with vrkit train?)", run)
    old = load_config(saved)
    new = load_config(path, overrides) if path is not None else load_config(saved, overrides)
    old.run_dir = new.run_dir = str(run)
    changes = config_changes(old, new)
    allowed = set(RESUME_ALLOWED) - ({"trainer.max_steps"} if old.optim.decay != "none" else set())
    refused = [k for k in changes if k not in allowed]
    if refused:
        raise InputError(f"--resume would change {', '.join(refused)} of the saved run "
                         f"(may change: {', '.join(sorted(allowed))}); start a new run_dir instead", saved)
    return new, changes
