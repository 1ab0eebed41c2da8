"""Reasoning models behind one registry and one interface (see registry.py)."""

from vrkit.models._baseline_blocks import frames_float, run_frames, state_inputs
from vrkit.models.registry import MODELS, build_model, register

# frames_float / run_frames / state_inputs: how the baselines turn a batch into per-frame inputs (R-CBIR
# feature extraction replays them).
__all__ = ["MODELS", "build_model", "frames_float", "register", "run_frames", "state_inputs"]
