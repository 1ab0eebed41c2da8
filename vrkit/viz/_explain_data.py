"""Private helper of :mod:`vrkit.viz.explain`: one example as a batch, its trace, and what to draw it on.

:func:`build_explanation` loads example ``index`` of a data source through the evaluation datamodule (the
same datasets ``vrkit eval`` reads), runs the model once with ``trace=True`` and returns an
:class:`Explanation` of plain numpy arrays and strings (batch element 0), so that drawing needs no torch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from vrkit.engine.config import SourceConfig
from vrkit.errors import InputError

#: Trace keys explain needs (SAMNet's trace, see vrkit/models/samnet.py).
TRACE_KEYS = ("visual_attention", "word_attention", "temporal", "gates", "read_head", "write_weight")
_PUNCT = re.compile(r" ([?,.;])")


@dataclass
class ObjectMark:
    """An object drawn on a canvas: label, position in canvas pixels (x right, y down), RGB colour 0-1."""

    label: str
    x: float
    y: float
    rgb: tuple[float, float, float]


@dataclass
class Explanation:
    """SAMNet's reasoning on one example (T frames, K steps, N items, L words, S memory slots).

    Arrays (float32): ``visual_attention`` (T, K, N), ``word_attention`` (T, K, L), ``temporal`` (T, K, 4)
    (now, last, latest, none), ``gates`` (T, K, 4) (image_match, memory_match, do_replace, do_add_new),
    ``read_head`` / ``write_weight`` / ``write_head`` (T, K, S). ``canvas`` (T, H, W, 3) uint8 backgrounds
    (pixels, or frames rendered from the state) or None (blank canvas); ``feature_hw`` (h, w) of the pixel
    path's feature map (N = h·w) or None; ``objects`` per frame (state path: N marks, padding left out).
    Per frame: ``pred`` / ``target`` words (a point as "(x, y)"), ``correct`` (None: no target),
    ``top`` [(word, probability)] × 3, ``pred_point`` / ``target_point`` (T, 2) in [0, 1] or None.
    """

    world: str
    path: str
    model: str
    family: str
    question: str  # as written (original token order)
    tokens: list[str]  # the words in the order the model read them (word_attention's L axis)
    reversed_question: bool
    visual_attention: np.ndarray
    word_attention: np.ndarray
    temporal: np.ndarray
    gates: np.ndarray
    read_head: np.ndarray
    write_weight: np.ndarray
    write_head: np.ndarray | None
    canvas: np.ndarray | None
    feature_hw: tuple[int, int] | None
    objects: list[list[ObjectMark]] = field(default_factory=list)
    pred: list[str] = field(default_factory=list)
    target: list[str] = field(default_factory=list)
    correct: list[bool | None] = field(default_factory=list)
    top: list[list[tuple[str, float]]] = field(default_factory=list)
    pred_point: np.ndarray | None = None
    target_point: np.ndarray | None = None
    point_mask: np.ndarray | None = None
    # (T, K) attention on the padding after the question (SAMNet's reference question padding attends over
    # it); None when the model masks padding
    pad_attention: np.ndarray | None = None

    @property
    def frames(self) -> int:
        return int(self.gates.shape[0])

    @property
    def steps(self) -> int:
        return int(self.gates.shape[1])

    @property
    def slots(self) -> int:
        return int(self.read_head.shape[-1])

    def summary(self) -> dict[str, Any]:
        """JSON-able digest: per frame the prediction, target, top answers and per-step argmaxes."""
        from vrkit.models.samnet import GATES, TEMPORAL_CLASSES

        frames = []
        for t in range(self.frames):
            steps = []
            for k in range(self.steps):
                steps.append({
                    "word": self.tokens[int(np.argmax(self.word_attention[t, k]))] if self.tokens else None,
                    "temporal": {c: round(float(v), 4) for c, v in zip(TEMPORAL_CLASSES, self.temporal[t, k],
                                                                       strict=True)},
                    "gates": {g: round(float(v), 4) for g, v in zip(GATES, self.gates[t, k], strict=True)},
                    "visual_argmax": int(np.argmax(self.visual_attention[t, k])),
                    "read_argmax": int(np.argmax(self.read_head[t, k])),
                    "write_total": round(float(self.write_weight[t, k].sum()), 4),
                })
                if self.pad_attention is not None:
                    steps[-1]["padding"] = round(float(self.pad_attention[t, k]), 4)
            frames.append({"pred": self.pred[t], "target": self.target[t], "correct": self.correct[t],
                           "top": [[w, round(p, 4)] for w, p in self.top[t]], "steps": steps})
        return {"world": self.world, "path": self.path, "model": self.model, "family": self.family,
                "question": self.question, "tokens": self.tokens, "reversed_question": self.reversed_question,
                "frames": frames}


def _dataset(task: Any, source: SourceConfig) -> tuple[Any, Any]:
    """(dataset, datamodule class) of ``source`` as ``vrkit eval`` builds them (the checkpoint's data config)."""
    from vrkit.engine.evaluate import eval_dataset

    ds, dm = eval_dataset(task, source)
    return ds, type(dm)


def load_example(task: Any, source: SourceConfig, index: int, data_label: str) -> tuple[dict[str, torch.Tensor],
                                                                                          Any]:
    """Batch (B = 1) of example ``index`` of ``source`` and the datamodule class; InputError when out of range
    (negative indices count from the end)."""
    ds, dm_cls = _dataset(task, source)
    n = len(ds)
    if not -n <= index < n:
        raise InputError(f"index {index} out of range: data {data_label} has {n} example(s)")
    return dm_cls.collate([ds[index % n]]), dm_cls


def _vocab(world: str) -> list[str]:
    if world == "clevr":
        from vrkit.engine.datamodules.clevr import template_vocab

        return list(template_vocab().tokens)
    from vrkit.worlds.cog.constants import INPUT_VOCAB

    return list(INPUT_VOCAB)


def _words(ids: torch.Tensor, n: int, vocab: list[str]) -> list[str]:
    return [vocab[int(i)] if 0 <= int(i) < len(vocab) else f"<{int(i)}>" for i in ids[:n]]


def _unit_frames(frames: torch.Tensor) -> np.ndarray:
    """Pixel-path frames (T, 3, H, W) (unit floats, uint8 or mean-subtracted) → (T, H, W, 3) uint8."""
    x = frames.float()
    if frames.dtype == torch.uint8:
        x = x / 255.0
    elif float(x.min()) < -1e-3 or float(x.max()) > 1.0 + 1e-3:  # mean-subtracted 0-255 scale
        from vrkit.data.cog import PIXEL_MEANS

        x = (x + torch.tensor(PIXEL_MEANS).view(1, 3, 1, 1)) / 255.0
    return (x.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def _cog_state(objects: np.ndarray, mask: np.ndarray, size: int) -> tuple[np.ndarray, list[list[ObjectMark]]]:
    """COG frames rendered from the state the model saw, and the object marks (pixel coordinates)."""
    from vrkit.worlds.cog.constants import COLOR_RGB
    from vrkit.worlds.cog.render import render_example
    from vrkit.worlds.cog.state import decode_object

    T = objects.shape[0]
    objs, marks = [], []
    for t in range(T):
        row = []
        for vec in objects[t][mask[t]]:
            colour, shape, x, y = decode_object(vec)
            objs.append({"location": [x, y], "color": colour, "shape": shape, "epochs": t})
            row.append(ObjectMark(f"{colour} {shape}", x * size, y * size,
                                  tuple(c / 255 for c in COLOR_RGB[colour])))
        marks.append(row)
    return render_example({"epochs": T, "objects": objs}, size), marks


def _clevr_state(objects: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray | None, list[list[ObjectMark]]]:
    """CLEVR scene rendered from the state (rotation unknown: 0) with projected object marks; on failure a
    blank canvas (None) with top-down marks (x, y in [-1, 1] mapped to a 200-pixel square)."""
    from vrkit.worlds.clevr.constants import ATTRIBUTE_ORDER, ATTRIBUTES, COLOR_RGB, PLACEMENT_RANGE

    rows = []
    for vec in objects[0][mask[0]]:
        off, attrs = 0, {}
        for a in ATTRIBUTE_ORDER:
            vals = ATTRIBUTES[a]
            attrs[a] = vals[int(np.argmax(vec[off: off + len(vals)]))]
            off += len(vals)
        attrs["3d_coords"] = [float(v) * PLACEMENT_RANGE for v in vec[off: off + 3]]
        rows.append(attrs)
    labels = [f"{o['size']} {o['color']} {o['material']} {o['shape']}" for o in rows]
    rgbs = [tuple(c / 255 for c in COLOR_RGB[o["color"]]) for o in rows]
    try:
        from vrkit.worlds.clevr.render import pixel_coords, render_scene

        scene = {"objects": [{**o, "rotation": 0.0} for o in rows]}
        w, h = 240, 160
        img = render_scene(scene, w, h)
        pts = pixel_coords(scene, w, h)
        marks = [ObjectMark(lab, float(p[0]), float(p[1]), rgb) for lab, p, rgb in zip(labels, pts, rgbs,
                                                                                      strict=True)]
        return img[None], [marks]
    except (InputError, ValueError, KeyError):
        marks = [ObjectMark(lab, (o["3d_coords"][0] / PLACEMENT_RANGE + 1) * 100,
                            (1 - o["3d_coords"][1] / PLACEMENT_RANGE) * 100, rgb)
                 for lab, o, rgb in zip(labels, rows, rgbs, strict=True)]
        return None, [marks]


def _feature_hw(model: Any, height: int, width: int, items: int) -> tuple[int, int]:
    """(h, w) of the feature map the visual attention runs over (N = h·w items)."""
    cnn = getattr(getattr(model, "image_encoder", None), "cnn", None)
    if cnn is not None and hasattr(cnn, "feature_hw"):
        h, w = cnn.feature_hw(height, width)
        if h * w == items:
            return int(h), int(w)
    side = int(round(items ** 0.5))
    return (side, side) if side * side == items else (1, items)


def _point_text(p: np.ndarray) -> str:
    return f"({p[0]:.2f}, {p[1]:.2f})"


def build_explanation(task: Any, batch: dict[str, torch.Tensor], answer_vocab: list[str] | tuple[str, ...],
                      where: str) -> Explanation:
    """Run ``task`` with ``trace=True`` on ``batch`` (B = 1) and collect what explain draws.

    InputError (located at ``where``, the checkpoint) when the model gives no SAMNet trace."""
    model = task.model
    name = task.cfg.model.name
    with torch.no_grad():
        out = task(batch, trace=True)
    trace = out.get("trace") or {}
    missing = [k for k in TRACE_KEYS if k not in trace]
    if missing:
        have = ", ".join(sorted(trace)) or "none"
        raise InputError(f"model {name!r} has no SAMNet reasoning trace to explain (missing {', '.join(missing)}; "
                         f"its trace gives: {have}); explain needs a samnet checkpoint", where)
    world, path = task.cfg.data.world, task.cfg.data.path
    vocab = _vocab(world)
    n_words = int(batch["question_len"][0])
    seen = task.prepare(batch)["question"][0]
    tokens = _words(seen, n_words, vocab)
    question = _PUNCT.sub(r"\1", " ".join(_words(batch["question"][0], n_words, vocab)))
    tr = {k: v[0].float().numpy() for k, v in trace.items() if isinstance(v, torch.Tensor)}
    T = tr["gates"].shape[0]

    canvas, feature_hw, marks = None, None, [[] for _ in range(T)]
    if path == "pixels":
        frames = batch["frames"][0]
        canvas = _unit_frames(frames)
        feature_hw = _feature_hw(model, frames.shape[-2], frames.shape[-1], tr["visual_attention"].shape[-1])
    else:
        objs, mask = batch["objects"][0].float().numpy(), batch["object_mask"][0].numpy().astype(bool)
        if world == "cog":
            from vrkit.worlds.cog.render import DEFAULT_SIZE

            canvas, marks = _cog_state(objs, mask, DEFAULT_SIZE)
        else:
            canvas, marks = _clevr_state(objs, mask)

    probs = torch.softmax(out["logits"][0].float(), dim=-1).numpy()  # (T, A)
    answer, point_mask = batch["answer"][0].numpy(), batch["point_mask"][0].numpy().astype(bool)
    points = batch["point"][0].float().numpy()
    pred_point = None
    if out.get("point_logits") is not None:
        from vrkit.data.targets import grid_readout

        pred_point = grid_readout(out["point_logits"].float())[0].numpy()  # (T, 2)
    from vrkit.data.targets import point_correct

    expl = Explanation(
        world=world, path=path, model=name, family=task.family_names[int(batch["family"][0])], question=question,
        tokens=tokens, reversed_question=bool(task.cfg.optim.reverse_question),
        visual_attention=tr["visual_attention"], word_attention=tr["word_attention"][..., :n_words],
        temporal=tr["temporal"], gates=tr["gates"], read_head=tr["read_head"], write_weight=tr["write_weight"],
        write_head=tr.get("write_head"), canvas=canvas, feature_hw=feature_hw, objects=marks,
        pred_point=pred_point, target_point=points if point_mask.any() else None, point_mask=point_mask,
        pad_attention=pad if (pad := tr["word_attention"][..., n_words:].sum(-1)).any() else None)
    for t in range(T):
        order = np.argsort(-probs[t])[:3]
        expl.top.append([(str(answer_vocab[i]), float(probs[t, i])) for i in order])
        word = str(answer_vocab[int(order[0])])
        if point_mask[t] and answer[t] < 0:
            target = _point_text(points[t])
            if pred_point is not None:
                expl.pred.append(_point_text(pred_point[t]))
                expl.correct.append(bool(point_correct(torch.from_numpy(pred_point[t]), torch.from_numpy(points[t]))))
            else:
                expl.pred.append(word)
                expl.correct.append(False)
        else:
            target = str(answer_vocab[int(answer[t])]) if answer[t] >= 0 else "invalid"
            expl.pred.append(word)
            expl.correct.append(None if answer[t] < 0 else bool(int(order[0]) == int(answer[t])))
        expl.target.append(target)
    return expl
