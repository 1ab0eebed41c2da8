"""The transfer report: ``results.csv``, ``results.md`` and one figure per recipe, from stage results.

It brings the tables (:mod:`vrkit.transfer.table`) and the figures (:mod:`vrkit.transfer.figure`) together.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from vrkit.errors import InputError
from vrkit.transfer.figure import plot_recipe
from vrkit.transfer.table import (
    RESULTS_CSV,
    aggregate,
    collect,
    flex_units_markdown,
    has_stage_results,
    merge_cells,
    ordered,
    read_csv_cells,
    to_csv,
    to_markdown,
)
from vrkit.utils.atomic import atomic_write_text


def write_report(dirs: Sequence[str | Path], out: str | Path | None = None) -> dict[str, Path]:
    """Collect ``dirs``, write ``results.csv``, ``results.md`` and one figure per recipe into ``out``
    (default: the first directory). Returns the written paths.

    A directory without stage results but with an earlier report's ``results.csv`` (e.g. a published
    ``docs/results/temporal``) contributes its cells as they are, so new models can be added to a report
    whose run directories are gone; cells computed from stage results win over such cells."""
    csv_dirs = [Path(d) for d in dirs if Path(d).is_dir() and not has_stage_results(d)
                and (Path(d) / RESULTS_CSV).is_file()]
    results = collect([d for d in dirs if Path(d) not in csv_dirs])
    earlier = [c for d in csv_dirs for c in read_csv_cells(d / RESULTS_CSV)]
    if not results and not earlier:
        raise InputError("no finished test stages found", dirs[0] if dirs else None)
    cells = merge_cells(aggregate(results), earlier)
    out = Path(out or dirs[0])
    out.mkdir(parents=True, exist_ok=True)
    paths = {"csv": out / RESULTS_CSV, "md": out / "results.md"}
    atomic_write_text(paths["csv"], to_csv(cells))
    atomic_write_text(paths["md"], to_markdown(cells) + flex_units_markdown(collect(dirs, "finetune")))
    for recipe in ordered(c.recipe for c in cells):
        paths[f"figure_{recipe}"] = plot_recipe([c for c in cells if c.recipe == recipe],
                                                out / f"figure_{recipe}.png")
    return paths
