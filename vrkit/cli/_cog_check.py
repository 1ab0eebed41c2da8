"""`vrkit cog check PATH...`: re-evaluate every question and compare with the stored per-frame answers.

Prints one line per disagreement (at most ``--max-report``),
``FILE:LINE: family: frame t: stored X, evaluated Y`` (or ``FILE:LINE: family: <problem>`` for a question that
cannot be parsed, is not in canonical form, does not fit its family's template, or has an object outside the
compositional split the data records or ``--split-combos`` names),
then as the last line ``checked N examples, M disagree``. Exit 0 only if M == 0, 1 otherwise, 2 for
unreadable input (including a question word outside the COG vocabulary, as for eval and training).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vrkit.cli._args import add_command, non_negative_int
from vrkit.cli._check_report import CheckReport
from vrkit.errors import InputError
from vrkit.worlds.cog import io
from vrkit.worlds.cog.checker import (
    QuestionSyntaxError,
    diff_example,
    family_lookback,
    lookback_from_variant,
    parse_question,
    template_problem,
    to_text,
)
from vrkit.worlds.cog.combos import outside
from vrkit.worlds.cog.constants import INPUT_INDEX


def _dir_lookback(path: Path) -> int | None:
    """M from an official parent directory name ``<split>_<E>_<M>_<D>``, else None."""
    m = io.SPLIT_DIR_RE.match(path.parent.name)
    return lookback_from_variant(int(m.group(3))) if m else None


def _dir_combos(path: Path) -> str | None:
    """The compositional split recorded by the manifest beside an official split directory, else None."""
    import json

    from vrkit.worlds.manifest import beside

    for m in beside(path.parent) if io.SPLIT_DIR_RE.match(path.parent.name) else []:
        try:
            combos = json.loads(m.read_text(encoding="utf-8")).get("combos")
        except (OSError, ValueError, AttributeError):
            continue
        if combos is not None:
            return combos
    return None


def _combo_problems(example: dict, split: str | None) -> list[str]:
    """Objects whose colour x shape pair is outside the compositional split (combos.py)."""
    if split is None:
        return []
    try:
        bad = outside(example["objects"], split)
    except KeyError as err:
        return [f"object with an unknown colour or shape {err.args[0]!r}"]
    return [f"object {c} {s} outside compositional split {split}" for c, s in bad[:1]]


def _problems(example: dict, lookback: int | None, override: int | None) -> list[str]:
    """Descriptions of everything wrong with one example (empty if it agrees)."""
    question, family = example["question"], example["family"]
    try:
        node = parse_question(question)
    except QuestionSyntaxError as err:
        return [f"cannot parse question {question!r}: {err}"]
    if to_text(node) != question:
        return [f"question is not in canonical form: {question!r} (canonical {to_text(node)!r})"]
    problems = []
    template = template_problem(question, family)
    if template:
        problems.append(template)
    if override is not None:
        m = override
    else:
        m = family_lookback(family, lookback if lookback is not None else int(example["epochs"]) - 1)
    problems += [mm.describe() for mm in diff_example(example, m)]
    return problems


def run_check(args: argparse.Namespace) -> int:
    report = CheckReport(args.max_report)
    for path in io.expand_paths(args.paths):
        lookback = _dir_lookback(path)
        combos = args.split_combos or _dir_combos(path)
        for lineno, example in io.iter_file_numbered(path):
            unknown = [w for w in str(example["question"]).split() if w not in INPUT_INDEX]
            if unknown:  # not a disagreement: the file is not COG data (exit 2, as eval and training say)
                raise InputError(f"unknown question word {unknown[0]!r}", path, lineno)
            problems = _problems(example, lookback, args.memory) + _combo_problems(example, combos)
            report.add(f"{path}:{lineno}: {example['family']}", problems)
    return report.finish("examples")


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub, "check", run_check,
        help="re-evaluate questions and compare with the stored per-frame answers",
        description="Parse every question, evaluate it frame by frame on the example's objects "
        "(the original generator's semantics, its quirks included) and compare with the stored answers. "
        "Exit 0 if all agree, 1 if any disagree, 2 on bad input.",
    )
    p.add_argument(
        "paths", nargs="+", metavar="PATH",
        help="COG files or directories (official layout or flat; a directory holding COG files must hold nothing "
             "else, and with a manifest beside it exactly the files it lists)"
    )
    p.add_argument(
        "--memory",
        type=non_negative_int,
        default=None,
        metavar="M",
        help="look-back M for every example (default: from a <split>_<E>_<M>_<D> directory name, "
        "else epochs-1; 4 for the fixed-scene families as in the original)",
    )
    p.add_argument(
        "--max-report",
        type=non_negative_int,
        default=10,
        metavar="N",
        help="print at most N disagreement lines (default 10)",
    )
    p.add_argument(
        "--split-combos",
        choices=["A", "B"],
        help="also check that every object's colour x shape pair is in this compositional split "
        "(default: the split a manifest beside the directory records, if any)",
    )
