"""Symbolic worlds (pure Python + numpy, no torch): COG and CLEVR."""
