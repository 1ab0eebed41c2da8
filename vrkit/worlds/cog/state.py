"""COG scene-state, question and answer encodings (numpy only; docs/world-cog.md, 'Targets and scoring').

The *state path* describes each frame by the set of objects visible in it rather than by pixels:

* an object vector is ``[colour one-hot (21), shape one-hot (32), x, y]`` (``STATE_FEATURES = 55``);
  x is the column and y the row, both in [0, 1] with y = 0 at the top;
* frame t holds every object whose ``epochs`` (int or list) contains t, distractors included (they are
  visible in the pixels too), in the renderer's draw order: ascending (x, y, colour name, shape name);
* frames are padded to a common N with a boolean mask.

Answers follow the original baseline's convention: a class index from ``OUTPUT_INDEX`` for word answers,
``-100`` (``IGNORE_INDEX``) for
``invalid`` and for point frames; points are ``[x, y]`` with a mask. :func:`grid_target` turns points into
the 7×7 soft target of the original baseline.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from vrkit.worlds.cog.constants import (
    COLOR_INDEX,
    COLORS,
    INPUT_INDEX,
    MAX_QUESTION_TOKENS,
    OUTPUT_INDEX,
    SHAPE_INDEX,
    SHAPES,
)

NUM_COLORS = len(COLORS)  # 21
NUM_SHAPES = len(SHAPES)  # 32
COLOR_SLICE = slice(0, NUM_COLORS)
SHAPE_SLICE = slice(NUM_COLORS, NUM_COLORS + NUM_SHAPES)
X_FEATURE = NUM_COLORS + NUM_SHAPES  # 53
Y_FEATURE = X_FEATURE + 1  # 54
STATE_FEATURES = NUM_COLORS + NUM_SHAPES + 2  # 55
IGNORE_INDEX = -100
GRID_SIZE = 7
GRID_CELLS = GRID_SIZE * GRID_SIZE  # 49
GRID_SIGMA2 = 0.02

# Grid points (49, 2) as (x, y); flattened index = row * 7 + col with row = y.
_g = np.arange(GRID_SIZE, dtype=np.float64) / (GRID_SIZE - 1)
GRID_POINTS: np.ndarray = np.stack(
    [np.tile(_g, GRID_SIZE), np.repeat(_g, GRID_SIZE)], axis=-1
).astype(np.float32)
GRID_POINTS.setflags(write=False)
del _g

# Rank of each colour / shape index when names are compared as strings (the draw-order tie-breakers).
_COLOR_RANK = np.argsort(np.argsort(np.array(COLORS)))
_SHAPE_RANK = np.argsort(np.argsort(np.array(SHAPES)))
_TOKEN_RE = re.compile(r"[A-Za-z0-9_]+|\S")


def _frames_of(obj: dict[str, Any]) -> list[int]:
    ep = obj["epochs"]
    return [ep] if isinstance(ep, int) else list(ep)


def count_visible(example: dict[str, Any]) -> np.ndarray:
    """Number of visible objects (distractors included) per frame: int64 array (E,)."""
    counts = np.zeros(example["epochs"], dtype=np.int64)
    for obj in example["objects"]:
        for t in _frames_of(obj):
            counts[t] += 1
    return counts


def encode_state(example: dict[str, Any], max_objects: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Encode the objects of an official example frame by frame.

    Returns ``objects`` float32 (E, N, 55) and ``mask`` bool (E, N), slots ``mask[t, :n_t]`` filled in draw
    order (ascending x, y, colour name, shape name), padding zero. N is the largest per-frame count (at
    least 1, so that an example with empty frames still gives a non-empty axis) or exactly ``max_objects``
    if given.

    When a frame has more visible objects than ``max_objects``, the kept subset is: every non-distractor first
    (the question can only be about them), then the distractors painted last (latest in draw order, i.e. the
    ones most visible in the image), as many as fit; the kept objects stay in draw order. If there are more
    non-distractors than the cap, the first ``max_objects`` of them in draw order are kept.
    """
    E = int(example["epochs"])
    objs = example["objects"]
    K = len(objs)
    if max_objects is not None and max_objects < 1:
        raise ValueError(f"max_objects must be >= 1, got {max_objects}")
    ts: list[int] = []
    ks: list[int] = []
    for k, obj in enumerate(objs):
        ep = obj["epochs"]
        if isinstance(ep, int):
            ts.append(ep)
            ks.append(k)
        else:
            ts.extend(ep)
            ks.extend([k] * len(ep))
    visible = np.zeros((E, K), dtype=bool)
    visible[ts, ks] = True
    counts = visible.sum(axis=1)
    N = max_objects if max_objects is not None else max(int(counts.max(initial=0)), 1)
    out = np.zeros((E, N, STATE_FEATURES), dtype=np.float32)
    mask = np.zeros((E, N), dtype=bool)
    if K == 0:
        return out, mask
    colour = np.array([COLOR_INDEX[o["color"]] for o in objs], dtype=np.int64)
    shape = np.array([SHAPE_INDEX[o["shape"]] for o in objs], dtype=np.int64)
    xy = np.array([o["location"] for o in objs], dtype=np.float64).reshape(K, 2)
    # Draw order: lexsort sorts by the last key first; names compare as strings like the renderer's sort.
    order = np.lexsort((_SHAPE_RANK[shape], _COLOR_RANK[colour], xy[:, 1], xy[:, 0]))
    feats = np.zeros((K, STATE_FEATURES), dtype=np.float32)
    feats[np.arange(K), colour] = 1.0
    feats[np.arange(K), NUM_COLORS + shape] = 1.0
    feats[:, X_FEATURE:] = xy
    vis = visible[:, order]  # (E, K) visibility in draw order
    if counts.max() > N:
        distractor = np.fromiter((bool(objs[k]["is_distractor"]) for k in order), dtype=bool, count=K)
        for t in np.flatnonzero(counts > N):
            idx = np.flatnonzero(vis[t])
            vis[t] = False
            vis[t, _cap(idx, distractor[idx], N)] = True
    slot = np.cumsum(vis, axis=1) - 1  # (E, K) slot of each visible object in its frame
    t_idx, k_idx = np.nonzero(vis)
    out[t_idx, slot[t_idx, k_idx]] = feats[order[k_idx]]
    mask[t_idx, slot[t_idx, k_idx]] = True
    return out, mask


def _cap(idx: np.ndarray, is_distractor: np.ndarray, cap: int) -> np.ndarray:
    """Keep ``cap`` of ``idx`` (in draw order): non-distractors first, then the last-drawn distractors."""
    real = np.flatnonzero(~is_distractor)
    if len(real) >= cap:
        return idx[real[:cap]]
    extra = np.flatnonzero(is_distractor)[len(real) - cap:]  # the last (cap - len(real)) distractors
    return idx[np.sort(np.concatenate([real, extra]))]


def decode_object(vec: np.ndarray) -> tuple[str, str, float, float]:
    """Inverse of one object vector (55,): (colour, shape, x, y)."""
    return (COLORS[int(np.argmax(vec[COLOR_SLICE]))], SHAPES[int(np.argmax(vec[SHAPE_SLICE]))],
            float(vec[X_FEATURE]), float(vec[Y_FEATURE]))


def tokenize(text: str) -> list[str]:
    """Split a question into tokens: word runs, and every other non-space character on its own."""
    return _TOKEN_RE.findall(text)


def encode_question(text: str, pad_to: int | None = MAX_QUESTION_TOKENS) -> np.ndarray:
    """Token ids (``INPUT_INDEX``) of a question: int64 (pad_to,), zero-padded, or (n,) if ``pad_to`` is None.

    Raises ``ValueError`` naming the token for an unknown token, and for more than ``MAX_QUESTION_TOKENS``
    tokens.
    """
    tokens = tokenize(text)
    ids = []
    for pos, tok in enumerate(tokens):
        i = INPUT_INDEX.get(tok)
        if i is None or i == 0:
            raise ValueError(f"unknown question token {tok!r} at position {pos} in {text!r}")
        ids.append(i)
    limit = MAX_QUESTION_TOKENS if pad_to is None else min(pad_to, MAX_QUESTION_TOKENS)
    if len(ids) > limit:
        raise ValueError(f"question has {len(ids)} tokens, more than {limit}: {text!r}")
    out = np.zeros(len(ids) if pad_to is None else pad_to, dtype=np.int64)
    out[: len(ids)] = ids
    return out


def encode_answers(example: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame targets of an example.

    Returns ``answer`` int64 (E,) (class index, -100 for ``invalid`` and point frames), ``point`` float32
    (E, 2) (``[x, y]``, zero where not a point) and ``point_mask`` bool (E,). Unknown answer words raise
    ``ValueError``.
    """
    answers: Sequence[Any] = example["answers"]
    E = len(answers)
    answer = np.full(E, IGNORE_INDEX, dtype=np.int64)
    point = np.zeros((E, 2), dtype=np.float32)
    point_mask = np.zeros(E, dtype=bool)
    for t, a in enumerate(answers):
        if isinstance(a, str):
            if a == "invalid":
                continue
            i = OUTPUT_INDEX.get(a)
            if i is None:
                raise ValueError(f"unknown answer {a!r} at frame {t}")
            answer[t] = i
        else:
            point[t] = a
            point_mask[t] = True
    return answer, point, point_mask


def grid_target(points: np.ndarray) -> np.ndarray:
    """Soft 7×7 grid target of points (..., 2) as (x, y): float32 (..., 49), each row summing to 1.

    Activity of grid point (px, py) is exp(-((x - px)^2 + (y - py)^2) / 0.02), index row * 7 + col, row = y.
    """
    p = np.asarray(points, dtype=np.float64)[..., None, :]  # (..., 1, 2)
    d2 = ((p - GRID_POINTS.astype(np.float64)) ** 2).sum(-1)  # (..., 49)
    # Subtracting the minimum distance before exp is exact after normalising and avoids underflow far away.
    act = np.exp(-(d2 - d2.min(axis=-1, keepdims=True)) / GRID_SIGMA2)
    return (act / act.sum(axis=-1, keepdims=True)).astype(np.float32)
