"""The report every ``check`` command prints: one line per problem (up to ``--max-report``), then
``checked N <items>, M disagree``; exit 0 when all agree, 1 otherwise (bad input is exit 2, raised before)."""

from __future__ import annotations


class CheckReport:
    """Counts checked items and the ones with problems; prints each problem as ``<where>: <problem>``."""

    def __init__(self, max_report: int) -> None:
        self.max_report = max_report
        self.checked = self.disagree = self.reported = 0

    def add(self, where: str, problems: list[str]) -> None:
        """One checked item and its problems (none: it agrees)."""
        self.checked += 1
        self.disagree += bool(problems)
        for text in problems:
            if self.reported < self.max_report:
                print(f"{where}: {text}")
                self.reported += 1

    def finish(self, items: str) -> int:
        """Print the last line; the exit code."""
        print(f"checked {self.checked} {items}, {self.disagree} disagree")
        return 0 if self.disagree == 0 else 1
