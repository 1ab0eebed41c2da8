"""Visualisation helpers (PNG/GIF of samples with questions and answers)."""
