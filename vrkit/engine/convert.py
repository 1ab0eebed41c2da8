"""Reference checkpoints → vrkit checkpoints (``vrkit convert mi-prometheus``).

:func:`convert_mi_prometheus` reads a checkpoint of the SAMNet reference implementation (IBM mi-prometheus,
model ``VWM``): a torch file holding its ``state_dict``, mi-prometheus's checkpoint dict around it
(``{"name", "state_dict", "episode", ...}``), or an ``.npz`` of the same arrays. It maps the weights with
:func:`vrkit.models.mi_prometheus.map_reference_state` into a pixel SAMNet in the reference configuration and
writes a checkpoint that ``vrkit eval``, ``predict``, ``explain`` and the transfer functions load like any
trained run's. The checkpoint's ``vrkit_origin`` records where the weights came from (reference tag, source
file and sha256, input scale, vocabulary mapping); ``vrkit eval`` prints it.
"""

from __future__ import annotations

import datetime
import hashlib
import zipfile
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch

from vrkit.engine.config import DataConfig, ModelConfig, OptimConfig, TrainConfig, to_dict
from vrkit.engine.module import ReasoningTask
from vrkit.errors import InputError
from vrkit.models.mi_prometheus import REFERENCE_TAG, ConversionError, map_reference_state, vocabulary_mapping
from vrkit.utils.atomic import atomic_path


def reference_config(seed: int = 0) -> TrainConfig:
    """The run configuration a converted reference model carries: COG canonical on 112 px pixels, SAMNet
    with its reference defaults, the reference optimiser settings (for fine-tuning it further)."""
    return TrainConfig(model=ModelConfig(name="samnet"),
                       data=DataConfig(world="cog", variant="canonical", families="all", path="pixels",
                                       image_size=112),
                       optim=OptimConfig(lr=2e-4, weight_decay=2e-5, clip=10.0, clip_mode="value"), seed=seed)


def read_reference_state(path: str | Path) -> dict[str, Any]:
    """The reference ``state_dict`` in ``path`` (torch file or ``.npz``); InputError if it holds none."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", path)
    if zipfile.is_zipfile(path) and path.suffix == ".npz":
        try:
            with np.load(path) as z:
                return {k: z[k] for k in z.files}
        except (ValueError, OSError) as err:
            raise InputError(f"not a readable .npz ({err})", path) from None
    try:
        # Weights only (no arbitrary code): mi-prometheus checkpoints also hold datetimes and numpy statistics.
        with torch.serialization.safe_globals([datetime.datetime, *_numpy_globals()]):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch.load raises many types for a file that is no checkpoint
        why = [ln.strip() for ln in str(err).splitlines() if "Unsupported global" in ln]
        detail = f": {why[0][:160]} (only tensors, numbers and dates are loaded)" if why else ""
        raise InputError(f"not a torch checkpoint ({type(err).__name__}{detail})", path) from None
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise InputError("not a checkpoint: expected a state_dict or a dict with a 'state_dict' of tensors", path)
    return obj


def _numpy_globals() -> list[Any]:
    """numpy arrays and scalars as pickled in training statistics (data only, no code)."""
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 2
        from numpy.core import multiarray  # type: ignore[no-redef]
    dtypes = [type(np.dtype(t)) for t in ("float32", "float64", "int64", "int32", "bool")]
    return [np.dtype, np.ndarray, multiarray._reconstruct, multiarray.scalar, *dtypes]


def convert_mi_prometheus(ref_path: str | Path, out: str | Path, input_scale: float = 255.0,
                          seed: int = 0) -> dict[str, Any]:
    """Convert the reference checkpoint ``ref_path`` to a vrkit checkpoint ``out`` (written atomically).

    ``input_scale``: the pixel scale the reference was trained on (255: its COG class feeds 0–255 frames;
    1 for weights used on [0, 1] frames). Returns the origin record stored in the checkpoint."""
    ref = read_reference_state(ref_path)
    cfg = reference_config(seed)
    L.seed_everything(seed, workers=False, verbose=False)  # the pointing head (no reference counterpart)
    task = ReasoningTask(to_dict(cfg))
    vocab = vocabulary_mapping()
    try:
        state = map_reference_state(ref, task.model.state_dict(), steps=task.model.cfg.steps,
                                    input_scale=input_scale, vocab=vocab)
    except ConversionError as err:
        raise InputError(str(err), ref_path) from None
    task.model.load_state_dict(state)
    origin = {"reference": REFERENCE_TAG, "source": str(Path(ref_path).resolve()),
              "sha256": hashlib.sha256(Path(ref_path).read_bytes()).hexdigest(), "input_scale": input_scale,
              "vocabulary": vocab, "pointing_head": "not in the reference; vrkit's initialisation (seed "
              f"{seed})"}
    ckpt = {"state_dict": task.state_dict(), "hyper_parameters": dict(task.hparams),
            "pytorch-lightning_version": L.__version__, "epoch": 0, "global_step": 0, "vrkit_origin": origin}
    with atomic_path(out) as tmp:
        torch.save(ckpt, tmp)
    return origin
