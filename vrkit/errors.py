"""User-facing errors.

Library code raises :class:`InputError` for bad input (a malformed file, an unknown
name, a wrong type). The CLI turns it into one line on stderr and exit code 2.
"""

from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """Bad user input, located by file and (optionally) line or position."""

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None) -> None:
        self.message = message
        self.path = None if path is None else str(path)
        self.line = line
        super().__init__(self.format())

    def format(self) -> str:
        where = ""
        if self.path is not None:
            where = self.path if self.line is None else f"{self.path}:{self.line}"
            where += ": "
        return f"{where}{self.message}"

    def at(self, path: str | Path, line: int | None = None) -> InputError:
        """Return a copy located at ``path`` (and ``line``), keeping an existing location."""
        return InputError(self.message, self.path or path, self.line if self.line is not None else line)


class TrainingDiverged(RuntimeError):
    """Training produced non-finite gradients for too many consecutive steps (the CLI: one line, exit 1)."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, with a hint on how to continue (the CLI: ``vrkit: interrupted; <hint>``, exit 130)."""

    def __init__(self, hint: str = "") -> None:
        self.hint = hint
        super().__init__(hint)


class StageFailed(RuntimeError):
    """A recipe stage run in a child process failed (the CLI: ``vrkit: <message>``, the child's exit code)."""

    def __init__(self, message: str, code: int = 1) -> None:
        self.code = code
        super().__init__(message)
