"""Reasoning models behind one registry and one interface (see registry.py)."""

from vrkit.models.registry import MODELS, build_model, register

__all__ = ["MODELS", "build_model", "register"]
