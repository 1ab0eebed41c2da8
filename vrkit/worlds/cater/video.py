"""One CATER-style video: configuration, rendering, the JSON record and the labels (docs/world-cater.md).

``generate_video(seed, config)`` is a pure function of its arguments. The motion comes from the stream
``default_rng([seed, 0])`` and the moving camera's path from ``default_rng([seed, 1])``, so one seed gives the
same objects and actions at every image size and with or without the moving camera.

Frames are drawn by vrkit's CLEVR renderer (vrkit/worlds/clevr/render.py, ``render_objects``) with CLEVR's
base camera and lamps. A covered object sits wholly inside its cone, so it is left out of the frame (what the
ray tracer would show anyway). With a fixed camera a frame in which nothing moved is the previous frame.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from vrkit.worlds.cater.constants import ACTION_LABELS, SNITCH_COLOR, SNITCH_RGB
from vrkit.worlds.cater.grid import cell_of
from vrkit.worlds.cater.intervals import cover_intervals
from vrkit.worlds.cater.motion import Body, simulate
from vrkit.worlds.clevr.constants import CAMERA_LOCATION, COLOR_RGB
from vrkit.worlds.clevr.render import BOUND, CONE, CUBE, CYLINDER, SPHERE, Objects, RenderParams, render_objects

FORMAT = "vrkit-cater-1"
_CODE = {"cube": CUBE, "sphere": SPHERE, "cylinder": CYLINDER, "cone": CONE, "snitch": SPHERE}
_RGB = {**COLOR_RGB, SNITCH_COLOR: SNITCH_RGB}
#: visible = uncovered and at least this fraction of the frame's pixel centres see the object (2 px at 64 x 64)
VISIBLE_FRACTION = 1.0 / 2048.0


@dataclass(frozen=True)
class CaterConfig:
    """What a video looks like. Defaults: 16 frames of 64 x 64 px, 5-8 objects, CLEVR's fixed camera.

    ``action_frames``: the least and most frames an action lasts; ``contain_prob``: chance that a segment of
    the schedule starts with a contain (vrkit/worlds/cater/motion.py); ``camera_sweep``: with
    ``moving_camera``, the camera orbits the scene's vertical axis by 20 degrees up to this many degrees over
    the video, either way. ``quality`` 0 (one hard key-lamp shadow) keeps generation fast; 1 is CLEVR's."""

    frames: int = 16
    size: int = 64
    min_objects: int = 5
    max_objects: int = 8
    moving_camera: bool = False
    action_frames: tuple[int, int] = (4, 7)
    contain_prob: float = 0.5
    camera_sweep: float = 60.0
    antialias: bool = True
    quality: int = 0

    def __post_init__(self) -> None:
        lo, hi = self.action_frames
        checks = [
            (2 <= self.frames <= 1000, f"frames must be in 2..1000, got {self.frames}"),
            (8 <= self.size <= 1024, f"size must be in 8..1024, got {self.size}"),
            (3 <= self.min_objects <= self.max_objects <= 10,
             f"objects must satisfy 3 <= min <= max <= 10, got {self.min_objects}..{self.max_objects}"),
            (2 <= lo <= hi, f"action_frames must satisfy 2 <= least <= most, got {self.action_frames}"),
            (0.0 <= self.contain_prob <= 1.0, f"contain_prob must be in 0..1, got {self.contain_prob}"),
            (20.0 <= self.camera_sweep <= 180.0, f"camera_sweep must be in 20..180, got {self.camera_sweep}"),
            (self.quality in (0, 1, 2), f"quality must be 0, 1 or 2, got {self.quality}"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ValueError(msg)

    def to_json(self) -> dict:
        d = asdict(self)
        d["action_frames"] = list(self.action_frames)
        return d


@dataclass
class Video:
    """A rendered video, its JSON record (docs/world-cater.md, 'The record') and its labels."""

    frames: np.ndarray  # uint8 (T, H, W, 3)
    meta: dict
    snitch_cell: int
    actions: np.ndarray  # float32 multi-hot over ACTION_LABELS
    snitch_contained_at_end: bool
    ids: np.ndarray | None = field(default=None, repr=False)  # int16 (T, H, W) object id per pixel, -1 floor


def camera_path(seed: int, config: CaterConfig) -> np.ndarray:
    """(T, 3) camera positions: CLEVR's base camera, or with ``moving_camera`` an orbit starting there."""
    base = np.asarray(CAMERA_LOCATION, dtype=np.float64)
    out = np.repeat(base[None, :], config.frames, axis=0)
    if config.moving_camera:
        rng = np.random.default_rng([seed, 1])
        sweep = math.radians(float(rng.uniform(20.0, config.camera_sweep))) * (1 if rng.random() < 0.5 else -1)
        phi0, rho = math.atan2(base[1], base[0]), math.hypot(base[0], base[1])
        phi = phi0 + sweep * np.linspace(0.0, 1.0, config.frames)
        out[:, 0], out[:, 1] = rho * np.cos(phi), rho * np.sin(phi)
    return np.round(out, 6)


def _objects(bodies: list, keep: np.ndarray, pos: np.ndarray, yaw_deg: np.ndarray) -> Objects:
    idx = np.flatnonzero(keep)
    r = np.array([bodies[i].radius for i in idx], dtype=np.float32)
    code = np.array([_CODE[bodies[i].shape] for i in idx], dtype=np.int8)
    yaw = np.radians(yaw_deg[idx])
    return Objects(
        centre=pos[idx].astype(np.float32).reshape(-1, 3), r=r, shape=code,
        cos=np.cos(yaw).astype(np.float32), sin=np.sin(yaw).astype(np.float32),
        bound=(r * np.array([BOUND[int(c)] for c in code], dtype=np.float32)).astype(np.float32),
        albedo=np.array([_RGB[bodies[i].color] for i in idx], dtype=np.float32).reshape(-1, 3) / 255.0,
        metal=np.array([bodies[i].material == "metal" for i in idx], dtype=bool),
    )


def render_frames(bodies: list[Body], holder: np.ndarray, pos: np.ndarray, yaw_deg: np.ndarray,
                  cameras: np.ndarray, size: int, antialias: bool = True, quality: int = 0
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Frames (T, H, W, 3) uint8 and object-id buffers (T, H, W) int16 (object index, -1 floor/background)
    of per-frame centres ``pos`` (K, T, 3) and yaws in degrees (K, T); objects with a cover (``holder``
    (K, T) >= 0) are left out."""
    t_n = pos.shape[1]
    frames = np.empty((t_n, size, size, 3), dtype=np.uint8)
    ids = np.empty((t_n, size, size), dtype=np.int16)
    base = RenderParams()
    prev = None
    for t in range(t_n):
        keep = holder[:, t] < 0
        key = (cameras[t].tobytes(), keep.tobytes(), pos[keep, t].tobytes(), yaw_deg[keep, t].tobytes())
        if key == prev:
            frames[t], ids[t] = frames[t - 1], ids[t - 1]
            continue
        prev = key
        params = RenderParams(camera=tuple(float(v) for v in cameras[t]), lamp_key=base.lamp_key,
                              lamp_fill=base.lamp_fill, lamp_back=base.lamp_back)
        rgb, sub = render_objects(_objects(bodies, keep, pos[:, t], yaw_deg[:, t]), params, size, size,
                                  antialias=antialias, quality=quality)
        lut = np.concatenate([[-1, -1], np.flatnonzero(keep)]).astype(np.int16)  # -2 -> -1, -1 -> -1, k -> id
        frames[t], ids[t] = rgb, lut[sub + 2]
    return frames, ids


def _intervals(holder: np.ndarray) -> list[dict]:
    """Containment intervals from the per-frame direct containers (K, T): end = last covered frame."""
    runs = [{"cone": c, "object": j, "start": s, "end": e} for c, j, s, e in cover_intervals(holder)]
    return sorted(runs, key=lambda d: (d["start"], d["object"]))


def action_labels(meta_actions: list[dict], shapes: list[str]) -> list[str]:
    """Label names (ACTION_LABELS order) of the actions performed: ``<actor shape>_<action>``."""
    done = {f"{shapes[a['object']]}_{a['action']}" for a in meta_actions}
    return [name for name in ACTION_LABELS if name in done]


def generate_video(seed: int, config: CaterConfig = CaterConfig()) -> Video:
    """The video of ``seed`` (an int >= 0) under ``config``; deterministic in (seed, config)."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    seed = int(seed)
    rng = np.random.default_rng([seed, 0])
    n = int(rng.integers(config.min_objects, config.max_objects + 1))
    motion = simulate(rng, n, config.frames, config.action_frames, config.contain_prob)
    pos = np.round(motion.frame_pos(), 6) + 0.0  # + 0.0: no negative zeros in the record
    yaw = np.round(np.degrees(motion.frame_yaw()), 6) + 0.0
    cameras = camera_path(seed, config)
    frames, ids = render_frames(motion.bodies, motion.holder, pos, yaw, cameras, config.size, config.antialias,
                                config.quality)
    k = len(motion.bodies)
    pixels = np.stack([np.bincount(ids[t][ids[t] >= 0].ravel(), minlength=k)[:k] for t in range(config.frames)],
                      axis=1)  # (K, T)
    least = max(1, round(config.size * config.size * VISIBLE_FRACTION))
    visible = (motion.holder < 0) & (pixels >= least)
    shapes = [b.shape for b in motion.bodies]
    labels = action_labels(motion.actions, shapes)
    snitch_cell = cell_of(float(pos[0, -1, 0]), float(pos[0, -1, 1]))
    contained_end = bool(motion.holder[0, -1] >= 0)
    objects = []
    for i, b in enumerate(motion.bodies):
        objects.append({"id": i, **b.to_json(), "positions": pos[i].tolist(), "rotations": yaw[i].tolist(),
                        "contained_by": motion.holder[i].tolist(), "visible": visible[i].tolist(),
                        "pixels": pixels[i].tolist()})
    meta = {
        "format": FORMAT, "seed": seed, "config": config.to_json(), "frames": config.frames,
        "camera": {"moving": config.moving_camera, "positions": cameras.tolist(),
                   "lamps": {k_: v for k_, v in RenderParams().to_json().items() if k_ != "camera"}},
        "objects": objects, "actions": motion.actions, "containment": _intervals(motion.holder),
        "labels": {"snitch_cell": snitch_cell, "snitch_contained_at_end": contained_end, "actions": labels,
                   "min_visible_pixels": least},
    }
    hot = np.array([name in labels for name in ACTION_LABELS], dtype=np.float32)
    return Video(frames, meta, snitch_cell, hot, contained_end, ids)


def render_record(rec: dict) -> tuple[np.ndarray, np.ndarray]:
    """Frames and id buffers re-rendered from a (checked) record alone: its objects, per-frame positions,
    rotations, covers and cameras, at the size and quality of its ``config``."""
    cfg = rec["config"]
    bodies = [Body(o["shape"], o["size"], o["color"], o["material"], float(o["radius"])) for o in rec["objects"]]
    holder = np.array([o["contained_by"] for o in rec["objects"]], dtype=np.int64)
    pos = np.array([o["positions"] for o in rec["objects"]], dtype=np.float64)
    yaw = np.array([o["rotations"] for o in rec["objects"]], dtype=np.float64)
    cams = np.array(rec["camera"]["positions"], dtype=np.float64)
    return render_frames(bodies, holder, pos, yaw, cams, int(cfg["size"]), bool(cfg.get("antialias", True)),
                         int(cfg.get("quality", 0)))


_STATE_KEYS = ("shape", "size", "color", "material")


def state_frames(meta: dict) -> list[list[dict]]:
    """Per frame, the records of the objects the camera sees (uncovered and not hidden behind others):
    ``{"id", "shape", "size", "color", "material", "position": [x, y, z], "rotation": degrees}``."""
    out: list[list[dict]] = []
    objs = meta["objects"]
    for t in range(int(meta["frames"])):
        out.append([{"id": o["id"], **{k: o[k] for k in _STATE_KEYS}, "position": list(o["positions"][t]),
                     "rotation": o["rotations"][t]} for o in objs if o["visible"][t]])
    return out
