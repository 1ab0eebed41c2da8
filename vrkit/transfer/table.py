"""Tables of transfer results: collect test-stage results, aggregate over seeds, as CSV and Markdown text.

A cell is ``mean ± std`` (sample std over seeds, 0 for one seed) of the test accuracy (mean over families,
COG convention) with the number of test examples it rests on (per seed) and the seeds.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vrkit.errors import InputError
from vrkit.transfer.stages import RESULTS

RESULTS_CSV = "results.csv"
CSV_COLUMNS = ("recipe", "model", "condition", "task", "mean_acc", "std_acc", "n_seeds", "seeds", "examples_per_seed")

# Tables and figures list SAMNet first, then the baselines (as the paper's figures do), then any other model.
MODEL_ORDER = ("samnet", "cog_baseline", "mac", "relation_net", "cnn_lstm")


def ordered(values: Iterable[str]) -> list[str]:
    """The distinct values in order of first appearance (tables and figures list rows, bars and panels so)."""
    return list(dict.fromkeys(values))


@dataclass
class Cell:
    recipe: str
    condition: str
    task: str
    model: str
    mean: float
    std: float
    seeds: list[int]
    examples: list[int]  # test examples per seed (same order as seeds)

    def text(self) -> str:
        n = self.examples[0] if len(set(self.examples)) == 1 else f"{min(self.examples)}-{max(self.examples)}"
        return f"{100 * self.mean:.1f} ± {100 * self.std:.1f} (n={n})"


def collect(dirs: Iterable[str | Path], kind: str = "test") -> list[dict[str, Any]]:
    """Every ``kind`` stage result found under ``dirs`` (recursively), de-duplicated by (model, seed, stage)."""
    seen: dict[tuple, dict[str, Any]] = {}
    for d in dirs:
        d = Path(d)
        if not d.is_dir():
            raise InputError("not a results directory", d)
        for path in sorted(d.rglob(RESULTS)):
            try:
                res = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as err:
                raise InputError(f"invalid JSON ({err.msg})", path, err.lineno) from None
            if res.get("kind") != kind:
                continue
            seen[(res.get("recipe"), res.get("model"), res.get("seed"), res.get("stage"))] = res
    return list(seen.values())


def has_stage_results(d: str | Path) -> bool:
    """Whether ``d`` holds any stage result (then its own ``results.csv``, if any, is derived from them)."""
    return next(Path(d).rglob(RESULTS), None) is not None


def read_csv_cells(path: str | Path) -> list[Cell]:
    """The cells of an earlier report's ``results.csv`` (as written by :func:`to_csv`)."""
    path = Path(path)
    cells = []
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        missing = set(CSV_COLUMNS) - set(reader.fieldnames or ())
        if missing:
            raise InputError(f"not a transfer results table (missing columns {', '.join(sorted(missing))})",
                             path, 1)
        for row in reader:
            try:
                cells.append(Cell(row["recipe"], row["condition"], row["task"], row["model"],
                                  float(row["mean_acc"]), float(row["std_acc"]),
                                  [int(s) for s in row["seeds"].split()],
                                  [int(n) for n in row["examples_per_seed"].split()]))
            except (ValueError, TypeError, AttributeError):
                raise InputError("malformed row", path, reader.line_num) from None
    return cells


def _merged_order(seqs: Iterable[Sequence[str]]) -> list[str]:
    """One order consistent with every sequence where possible: longest first, then each new value goes
    right after its nearest predecessor in its own sequence (or first if it has none)."""
    order: list[str] = []
    for seq in sorted(seqs, key=len, reverse=True):
        for i, v in enumerate(seq):
            if v in order:
                continue
            prev = next((seq[j] for j in range(i - 1, -1, -1) if seq[j] in order), None)
            order.insert(order.index(prev) + 1 if prev is not None else 0, v)
    return order


def merge_cells(primary: Sequence[Cell], extra: Sequence[Cell]) -> list[Cell]:
    """``primary`` plus the cells of ``extra`` whose (recipe, condition, task, model) it does not have, sorted
    by recipe (first appearance), then by a condition and a task order merged from both sources."""
    keys = {(c.recipe, c.condition, c.task, c.model) for c in primary}
    extra = [c for c in extra if (c.recipe, c.condition, c.task, c.model) not in keys]
    cells = list(primary) + extra
    recipes = ordered(c.recipe for c in cells)
    rank: dict[tuple[str, str, str], int] = {}
    for recipe in recipes:
        for attr in ("condition", "task"):
            seqs = [ordered(getattr(c, attr) for c in src if c.recipe == recipe and c.model == m)
                    for src in (primary, extra) for m in ordered(c.model for c in src)]
            rank.update({(recipe, attr, v): i for i, v in enumerate(_merged_order(seqs))})
    models = ordered(c.model for c in cells)
    models = sorted(models, key=lambda m: (MODEL_ORDER.index(m) if m in MODEL_ORDER else len(MODEL_ORDER),
                                           models.index(m)))
    return sorted(cells, key=lambda c: (recipes.index(c.recipe), models.index(c.model),
                                        rank[(c.recipe, "condition", c.condition)], rank[(c.recipe, "task", c.task)]))


def aggregate(results: Sequence[dict[str, Any]]) -> list[Cell]:
    """Cells over seeds, in recipe stage order (then model) of (recipe, condition, task, model)."""
    groups: dict[tuple[str, str, str, str], list[dict[str, Any]]] = {}
    for r in sorted(results, key=lambda r: (r["recipe"], r.get("order", 0), r["model"])):
        groups.setdefault((r["recipe"], r["condition"], r["task"], r["model"]), []).append(r)
    cells = []
    for (recipe, cond, task, model), rs in groups.items():
        rs = sorted(rs, key=lambda r: r["seed"])
        accs = [float(r["acc"]) for r in rs]
        cells.append(Cell(recipe, cond, task, model, statistics.fmean(accs),
                          statistics.stdev(accs) if len(accs) > 1 else 0.0,
                          [int(r["seed"]) for r in rs], [int(r["examples"]) for r in rs]))
    return cells


def to_csv(cells: Sequence[Cell]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for c in cells:
        w.writerow([c.recipe, c.model, c.condition, c.task, f"{c.mean:.6f}", f"{c.std:.6f}", len(c.seeds),
                    " ".join(map(str, c.seeds)), " ".join(map(str, c.examples))])
    return buf.getvalue()


def to_markdown(cells: Sequence[Cell]) -> str:
    """One table per (recipe, model): rows = tasks, columns = conditions (temporal: a single task column), each
    condition a paper reports followed by a "paper" column with the published figure (paper_figures.py); per
    recipe then the published reference models vrkit does not have and whether the papers' directions hold
    (direction.py)."""
    from vrkit.transfer.direction import direction_lines
    from vrkit.transfer.paper_figures import figure, reference_models

    lines: list[str] = []
    for recipe in ordered(c.recipe for c in cells):
        rc = [c for c in cells if c.recipe == recipe]
        models = ordered(c.model for c in rc)
        for model in models:
            mc = [c for c in rc if c.model == model]
            seeds = sorted({s for c in mc for s in c.seeds})
            lines.append(f"### {recipe} — {model} (seeds {', '.join(map(str, seeds))}; "
                         f"accuracy %, mean ± std over seeds, n = test examples per seed)")
            lines.append("")
            conds, tasks = ordered(c.condition for c in mc), ordered(c.task for c in mc)
            by = {(c.condition, c.task): c for c in mc}
            published = {k for k in conds for t in tasks if figure(recipe, model, k, t)}
            head = [h for k in conds for h in ((k, "paper") if k in published else (k,))]
            lines.append("| task | " + " | ".join(head) + " |")
            lines.append("|---|" + "---|" * len(head))
            for t in tasks:
                row = []
                for k in conds:
                    row.append(by[(k, t)].text() if (k, t) in by else "—")
                    if k in published:
                        f = figure(recipe, model, k, t)
                        row.append("—" if f is None else f"{f.value:.1f}")
                lines.append(f"| {t} | " + " | ".join(row) + " |")
            lines.append("")
            figs = [f for k in published for t in tasks if (f := figure(recipe, model, k, t))]
            if figs:
                lines += ["paper: " + "; ".join(ordered([f.source for f in figs] + [f.note for f in figs if f.note])),
                          ""]
        refs = reference_models(recipe, models)
        if refs:
            lines += [f"Published reference models for {recipe} (not measured here; accuracy %):", ""]
            for m in refs:
                figs = _figures_of(recipe, m)
                cellsof = "; ".join(f"{f.condition} → {f.task} {f.value:.1f}" for f in figs)
                lines.append(f"- {m}: {cellsof} ({figs[0].source})")
            lines.append("")
        claims = direction_lines(recipe, rc)
        if claims:
            lines += [f"Paper's direction in these numbers ({recipe}; docs/transfer.md, \"Reading the tables\"):", ""]
            lines += [f"- {c}" for c in claims]
            lines.append("")
    return "\n".join(lines)


def _figures_of(recipe: str, model: str) -> list:
    from vrkit.transfer.paper_figures import FIGURES

    return [f for f in FIGURES if f.recipe == recipe and f.model == model]


def flex_units_markdown(finetunes: Sequence[dict[str, Any]]) -> str:
    """Units chosen by flex-tuning stages, one line per (recipe, model, stage), seeds in order."""
    rows: dict[tuple[str, str, str], list[str]] = {}
    for r in sorted(finetunes, key=lambda r: (r.get("recipe", ""), r.get("order", 0), r.get("seed", 0))):
        if r.get("unit"):
            rows.setdefault((r["recipe"], r["model"], r["stage"]), []).append(f"{r['unit']} (seed {r['seed']})")
    if not rows:
        return ""
    lines = ["### flex-tuning: selected units", ""]
    lines += [f"- {rec} / {model} / {stage}: {', '.join(units)}" for (rec, model, stage), units in rows.items()]
    return "\n".join(lines) + "\n"
