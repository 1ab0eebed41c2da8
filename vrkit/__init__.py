"""vrkit — transfer learning in visual and relational reasoning."""

__version__ = "0.1.0"
