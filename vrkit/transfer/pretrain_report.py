"""The report of ``vrkit transfer pretrain``: the transfer tables and figures (:func:`vrkit.transfer.report.
write_report`: ``results.csv``, ``results.md``, ``figure_pretrain.png``, ``figure_pretrain_probe.png``,
``figure_pretrain_cog.png``) plus ``pretrain.md``: top-1, top-5 and grid L1 per initialisation, overall and on
the contained-at-end subset, COG accuracy on conditions A and B with the A−B gap (mean ± std over seeds), and
the issue's goals checked against the measured numbers."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path

from vrkit.transfer.pretrain import PROBE_RECIPE, RECIPE, SUBSETS
from vrkit.transfer.pretrain_cog import COG_RECIPE, CONDITIONS
from vrkit.transfer.table import collect, ordered
from vrkit.utils.atomic import atomic_write_text

_METRICS = (("top1", "top-1 %", 100.0), ("top5", "top-5 %", 100.0), ("l1", "grid L1", 1.0))


def _cell(values: list[float], scale: float) -> str:
    values = [v for v in values if v == v]  # drop NaN (an empty subset)
    if not values:
        return "—"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{scale * statistics.fmean(values):.1f} ± {scale * sd:.1f}" if scale > 1 else \
        f"{statistics.fmean(values):.2f} ± {sd:.2f}"


def _mean(tests: list[dict], recipe: str, label: str, task: str) -> float | None:
    vals = [r["top1"] for r in tests if r["recipe"] == recipe and r["condition"] == label and r["task"] == task
            and r["top1"] == r["top1"]]
    return statistics.fmean(vals) if vals else None


def goals(tests: list[dict]) -> list[str]:
    """The issue's expected directions, each stated as holding or not with the numbers."""
    all_, cont = SUBSETS["all"], SUBSETS["contained"]
    iv, sup, scr = (_mean(tests, RECIPE, k, all_) for k in ("IV-CL", "supervised attributes", "scratch"))
    sets = _mean(tests, RECIPE, "supervised object sets", all_)
    out = []
    best_sup = max((v for v in (sup, sets) if v is not None), default=None)
    if None not in (iv, best_sup, scr):
        holds = iv > best_sup > scr
        out.append(f"snitch top-1: IV-CL {100 * iv:.1f} > supervised pretraining {100 * best_sup:.1f} > scratch "
                   f"{100 * scr:.1f} — {'holds' if holds else 'does not hold'}")
    a, b = _mean(tests, RECIPE, "IV-CL", cont), _mean(tests, RECIPE, "IV-CL image-only", cont)
    if None not in (a, b):
        gain = 100 * (a - b)
        out.append(f"contained at end: the temporal transformer adds {gain:+.1f} points over the image-only "
                   f"ablation (goal >= +5) — {'holds' if gain >= 5 else 'does not hold'}")
    return out


def cog_gaps(tests: list[dict]) -> dict[str, dict[int, tuple[float, float]]]:
    """{initialisation: {seed: (accuracy on A, on B)}} of the COG stage group (seeds with both)."""
    out: dict[str, dict[int, tuple[float, float]]] = {}
    acc = {(r["condition"], r["seed"], r["task"]): float(r["acc"]) for r in tests if r["recipe"] == COG_RECIPE}
    for label, seed, task in acc:
        if task == CONDITIONS["A"] and (label, seed, CONDITIONS["B"]) in acc:
            out.setdefault(label, {})[seed] = (acc[label, seed, task], acc[label, seed, CONDITIONS["B"]])
    return out


def cog_markdown(tests: list[dict]) -> list[str]:
    """The COG table (A, B, A−B gap per initialisation) and the smallest-gap goal as holding or not."""
    gaps = cog_gaps(tests)
    if not gaps:
        return []
    seeds = sorted({s for g in gaps.values() for s in g})
    n = {r["task"]: r["examples"] for r in tests if r["recipe"] == COG_RECIPE}
    lines = [f"### COG with the combination split: fine-tuned on A, tested on A and B (seeds "
             f"{', '.join(map(str, seeds))}; accuracy = mean over the 23 classification families; mean ± std)", "",
             "| initialisation | A % | B % | A−B gap (points) |", "|---|---|---|---|"]
    for label, per in gaps.items():
        a, b = [v[0] for v in per.values()], [v[1] for v in per.values()]
        lines.append(f"| {label} | {_cell(a, 100.0)} | {_cell(b, 100.0)} | "
                     f"{_cell([x - y for x, y in zip(a, b, strict=True)], 100.0)} |")
    lines += ["", f"Test examples per condition: A {n.get(CONDITIONS['A'], '—')}, B {n.get(CONDITIONS['B'], '—')} "
              "(the same for every seed; every object of a B example is a colour × shape pair never seen in A).", ""]
    return lines


def cog_goal(tests: list[dict]) -> list[str]:
    """'IV-CL has the smallest A−B gap on the COG combination split', holding or not, with the gaps."""
    mean_gap = {label: statistics.fmean(a - b for a, b in per.values()) for label, per in cog_gaps(tests).items()}
    if "IV-CL" not in mean_gap or len(mean_gap) < 2:
        return []
    others = {k: v for k, v in mean_gap.items() if k != "IV-CL"}
    holds = all(mean_gap["IV-CL"] < v for v in others.values())
    listed = ", ".join(f"{k} {100 * v:+.1f}" for k, v in others.items())
    return [f"COG combination split: IV-CL's A−B gap is {100 * mean_gap['IV-CL']:+.1f} points ({listed}) — "
            f"IV-CL has the smallest gap: {'holds' if holds else 'does not hold'}"]


def pretrain_markdown(tests: Sequence[dict]) -> str:
    tests = sorted(tests, key=lambda r: r.get("order", 0))
    lines = []
    for recipe, title in ((RECIPE, "Snitch localisation after fine-tuning (same budget for every initialisation)"),
                          (PROBE_RECIPE, "Linear probes of the frozen encoders")):
        rows = [r for r in tests if r["recipe"] == recipe]
        if not rows:
            continue
        seeds = sorted({r["seed"] for r in rows})
        lines += [f"### {title} (seeds {', '.join(map(str, seeds))}; mean ± std over seeds)", ""]
        tasks = ordered(r["task"] for r in rows)
        head = [f"{t}: {name}" for t in tasks for _, name, _ in _METRICS]
        lines += ["| initialisation | " + " | ".join(head) + " | n (per subset) |", "|---|" + "---|" * (len(head) + 1)]
        for label in ordered(r["condition"] for r in rows):
            cells = []
            for t in tasks:
                rs = [r for r in rows if r["condition"] == label and r["task"] == t]
                cells += [_cell([float(r[k]) for r in rs], scale) for k, _, scale in _METRICS]
            n = "/".join(str(r["examples"]) for r in rows if r["condition"] == label and r["seed"] == seeds[0])
            lines.append(f"| {label} | " + " | ".join(cells) + f" | {n} |")
        lines.append("")
    lines += cog_markdown(list(tests))
    claims = goals(list(tests)) + cog_goal(list(tests))
    if claims:
        lines += ["Goals (issue 17) in these numbers:", ""] + [f"- {c}" for c in claims] + [""]
    return "\n".join(lines)


def write_pretrain_report(dirs: Sequence[str | Path], out: str | Path | None = None) -> dict[str, Path]:
    """The transfer report of ``dirs`` plus ``pretrain.md`` in ``out`` (default: the first directory)."""
    from vrkit.transfer.report import write_report

    paths = write_report(dirs, out)
    target = Path(out or dirs[0]) / "pretrain.md"
    tests = [r for r in collect(dirs) if r.get("recipe") in (RECIPE, PROBE_RECIPE, COG_RECIPE)]
    atomic_write_text(target, pretrain_markdown(tests))
    return {**paths, "pretrain": target}
