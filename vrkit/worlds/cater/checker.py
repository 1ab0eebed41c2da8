"""An independent check of a CATER-style video record: every label re-derived from the per-frame state.

Nothing here runs the generator's code path (vrkit/worlds/cater/motion.py, video.py); the two share only the
run-length reading of a cover array (intervals.py). From the objects'
per-frame positions and rotations alone it derives

- which objects are covered, frame by frame: object j is under cone c when c rests on the floor (its centre at
  its half-extent) at j's floor position and j fits under c — compared with the stored ``contained_by`` and
  ``containment`` intervals, and with ``visible`` (a covered object is never visible);
- each object's own motion, frame interval by interval: a turn (rotation changes), a lift (the object leaves
  the floor: pick-place, or contain when the cone comes down over another object), a slide (moves along the
  floor while uncovered; an object that moves while covered is carried, not acting) — compared with every
  stored action (its frames, start and end points, target) and, as ``<shape>_<action>`` labels, with the
  stored action labels;
- the snitch's cell on the 6 x 6 grid at the last frame, and whether it is covered then;
- that no two uncovered objects interpenetrate in any frame.

:func:`check_video` returns the problems found (empty when the record agrees with itself).
"""

from __future__ import annotations

import math

import numpy as np

from vrkit.worlds.cater.intervals import cover_intervals

EPS = 1e-5  # positions are stored to 6 decimals
_GOLDEN = (1.0 + math.sqrt(5.0)) / 2.0  # a ball fits under a cone of base radius R if its radius <= R / this


def _fits(cone: dict, inner: dict) -> bool:
    if cone["shape"] != "cone" or inner["shape"] not in ("snitch", "sphere", "cone"):
        return False
    if inner["shape"] == "cone":
        return inner["radius"] < cone["radius"]
    return inner["radius"] <= cone["radius"] / _GOLDEN + 1e-9


def _covers(objs: list[dict], P: np.ndarray) -> np.ndarray:
    """(K, T) the direct cover of each object per frame: the smallest resting cone over it (-1: none; an
    object under a small cone under a large one is directly under the small one)."""
    k, t = P.shape[:2]
    out = np.full((k, t), -1, dtype=np.int64)
    best = np.full((k, t), np.inf)
    for j in range(k):
        for c in range(k):
            if c == j or not _fits(objs[c], objs[j]):
                continue
            rest = np.abs(P[c, :, 2] - objs[c]["radius"]) < EPS
            over = rest & (np.hypot(P[c, :, 0] - P[j, :, 0], P[c, :, 1] - P[j, :, 1]) < 1e-4)
            smaller = over & (objs[c]["radius"] < best[j])
            out[j, smaller] = c
            best[j, smaller] = objs[c]["radius"]
    return out


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs of True in a mask as spans (s, e): mask[s..e-1] true. On a per-interval mask (interval i
    = frames i..i+1) that is the frame span s..e."""
    out, i = [], 0
    while i < len(mask):
        if mask[i]:
            s = i
            while i < len(mask) and mask[i]:
                i += 1
            out.append((s, i))
        else:
            i += 1
    return out


def derive(rec: dict) -> dict:
    """Labels and per-object motion episodes re-derived from the record's per-frame state."""
    objs = rec["objects"]
    P = np.array([o["positions"] for o in objs], dtype=np.float64)  # (K, T, 3)
    R = np.array([o["rotations"] for o in objs], dtype=np.float64)
    cover = _covers(objs, P)
    episodes: list[tuple[str, int, int, int]] = []  # (kind, object, start, end)
    for i, o in enumerate(objs):
        lifted = P[i, :, 2] > o["radius"] + EPS
        d_xy = np.hypot(*np.diff(P[i, :, :2], axis=0).T) > EPS
        free = (cover[i, :-1] < 0) | (cover[i, 1:] < 0)
        air = lifted[:-1] | lifted[1:]
        for s, e in _runs(lifted):  # frames s..e-1 off the floor: a pick-place over frames s-1..e
            s, e = max(s - 1, 0), min(e, len(lifted) - 1)
            target = [j for j in range(len(objs)) if cover[j, e] == i and cover[j, s] != i]
            episodes.append(("contain" if target else "pick_place", i, s, e))
        for s, e in _runs(d_xy & free & ~air):
            episodes.append(("slide", i, s, e))
        for s, e in _runs(np.abs(np.diff(R[i])) > EPS):
            episodes.append(("rotate", i, s, e))
    last = P[0, -1]
    col = min(max(math.floor(last[0]) + 3, 0), 5)
    row = min(max(math.floor(last[1]) + 3, 0), 5)
    labels = sorted({f"{objs[i]['shape']}_{kind}" for kind, i, _, _ in episodes})
    return {"snitch_cell": row * 6 + col, "snitch_contained_at_end": bool(cover[0, -1] >= 0),
            "actions": labels, "cover": cover, "episodes": sorted(episodes, key=lambda e: (e[2], e[1])),
            "P": P, "R": R}


def _check_actions(rec: dict, d: dict) -> list[str]:
    probs = []
    P, R, cover, objs = d["P"], d["R"], d["cover"], rec["objects"]
    explained: set[tuple[str, int, int, int]] = set()
    for n, a in enumerate(rec["actions"]):
        kind, i, s, e = a["action"], a["object"], a["start"], a["end"]
        where = f"actions[{n}] ({kind} of object {i}, frames {s}-{e})"
        eps = [ep for ep in d["episodes"] if ep[0] == kind and ep[1] == i and ep[2] <= s and e <= ep[3]]
        if not eps:
            probs.append(f"{where}: the state shows no such motion")
            continue
        explained.update(eps)
        if kind in ("slide", "pick_place", "contain"):
            for key, f in (("from", s), ("to", e)):
                if key in a and np.hypot(*(P[i, f, :2] - np.asarray(a[key]))) > 1e-4:
                    probs.append(f"{where}: '{key}' {a[key]} but the object is at {P[i, f, :2].round(6).tolist()}")
        if kind == "contain":
            j = a.get("target")
            if not isinstance(j, int) or not (0 <= j < len(objs)) or cover[j, e] != i:
                probs.append(f"{where}: target {j!r} is not under the cone at frame {e}")
        if kind == "rotate" and "angle" in a and abs(R[i, e] - R[i, s] - a["angle"]) > 1e-4:
            probs.append(f"{where}: turned {R[i, e] - R[i, s]:.4f} degrees, record says {a['angle']}")
    for ep in d["episodes"]:
        if ep not in explained:
            probs.append(f"object {ep[1]} ({objs[ep[1]]['shape']}): {ep[0]} in frames {ep[2]}-{ep[3]} "
                         f"that no recorded action explains")
    return probs


def _check_overlaps(rec: dict, d: dict) -> list[str]:
    P, cover, objs = d["P"], d["cover"], rec["objects"]
    foot = [o["radius"] * (math.sqrt(2.0) if o["shape"] == "cube" else 1.0) for o in objs]
    probs = []
    for a in range(len(objs)):
        for b in range(a + 1, len(objs)):
            both = (cover[a] < 0) & (cover[b] < 0)
            dist = np.hypot(P[a, :, 0] - P[b, :, 0], P[a, :, 1] - P[b, :, 1])
            z = (P[a, :, 2] - objs[a]["radius"] < P[b, :, 2] + objs[b]["radius"] - EPS) & \
                (P[b, :, 2] - objs[b]["radius"] < P[a, :, 2] + objs[a]["radius"] - EPS)
            nested = (dist < 1e-4) & (_fits(objs[a], objs[b]) | _fits(objs[b], objs[a]))
            bad = np.flatnonzero(both & z & ~nested & (dist < foot[a] + foot[b] - 1e-4))
            if bad.size:
                probs.append(f"objects {a} and {b} interpenetrate at frame {int(bad[0])}")
    return probs


def check_video(rec: dict) -> list[str]:
    """Problems of one (structurally valid, vrkit.worlds.cater.io.check_record) record; [] if it agrees."""
    d = derive(rec)
    objs, labels = rec["objects"], rec["labels"]
    probs = []
    for key in ("snitch_cell", "snitch_contained_at_end"):
        if labels[key] != d[key]:
            probs.append(f"label {key}: stored {labels[key]!r}, derived {d[key]!r}")
    if sorted(labels["actions"]) != d["actions"]:
        probs.append(f"action labels: stored {sorted(labels['actions'])}, derived {d['actions']}")
    stored = np.array([o["contained_by"] for o in objs], dtype=np.int64)
    for j, t in zip(*np.nonzero(stored != d["cover"])):
        probs.append(f"object {j} frame {t}: contained_by {int(stored[j, t])}, derived {int(d['cover'][j, t])}")
        break
    seen = sorted((c["cone"], c["object"], c["start"], c["end"]) for c in rec["containment"]
                  if isinstance(c, dict) and {"cone", "object", "start", "end"} <= set(c))
    if seen != cover_intervals(d["cover"]):
        probs.append(f"containment intervals: stored {seen}, derived {cover_intervals(d['cover'])}")
    least = labels.get("min_visible_pixels", 1)
    for j, o in enumerate(objs):
        vis = np.asarray(o["visible"], dtype=bool)
        expect = (d["cover"][j] < 0) & (np.asarray(o["pixels"]) >= least)
        if (vis != expect).any():
            t = int(np.flatnonzero(vis != expect)[0])
            probs.append(f"object {j} frame {t}: visible {bool(vis[t])}, but covered={bool(d['cover'][j, t] >= 0)} "
                         f"and {o['pixels'][t]} pixels (least {least})")
    return probs + _check_actions(rec, d) + _check_overlaps(rec, d)
