"""A CATER-style video world (Girdhar & Ramanan, ICLR 2020) built on vrkit's CLEVR renderer: objects slide,
rotate, are picked up and set down, and cones cover smaller objects and carry them (docs/world-cater.md).

Tasks: snitch localisation (the snitch's cell on a 6 x 6 floor grid at the last frame, 36-way) and atomic
action recognition (multi-label over ``ACTION_LABELS``, ``<shape>_<action>``)."""

from vrkit.worlds.cater.constants import ACTION_LABELS, N_CELLS
from vrkit.worlds.cater.grid import cell_centre, cell_of, grid_l1, localisation_metrics
from vrkit.worlds.cater.video import CaterConfig, Video, generate_video, state_frames

__all__ = [
    "ACTION_LABELS",
    "N_CELLS",
    "CaterConfig",
    "Video",
    "cell_centre",
    "cell_of",
    "generate_video",
    "grid_l1",
    "localisation_metrics",
    "state_frames",
]
