"""A small resumable stage runner.

A recipe is an ordered list of :class:`Stage` s. Stage ``name`` writes its result (a JSON object) to
``<results_dir>/<name>/results.json`` atomically when it finishes; a stage whose results file exists is not
recomputed (its stored result is reused), so an interrupted recipe resumes at its first unfinished stage.
A stage may keep scratch files (a training run directory) under ``<results_dir>/<name>/``.

Every start, end (with elapsed seconds) and skip is appended to ``<results_dir>/stages.log`` and passed to the
``log`` callable (the CLI prints it; library code never prints).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vrkit.utils.atomic import atomic_write_text

RESULTS = "results.json"
STAGE_LOG = "stages.log"


@dataclass
class Stage:
    """One named step. ``fn(stage_dir, done)`` returns a JSON-serialisable dict; ``done`` maps the names of
    earlier stages to their results. ``kind`` is "train", "finetune" or "test"; ``meta`` is merged into the
    stored result (recipe, condition, task, ...)."""

    name: str
    kind: str
    fn: Callable[[Path, dict[str, dict[str, Any]]], dict[str, Any]]
    meta: dict[str, Any] = field(default_factory=dict)


def stage_dir(results_dir: str | Path, name: str) -> Path:
    return Path(results_dir) / name


def load_result(results_dir: str | Path, name: str) -> dict[str, Any] | None:
    """The stored result of stage ``name`` or None if it has not finished."""
    path = stage_dir(results_dir, name) / RESULTS
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def _append_log(results_dir: Path, line: str) -> None:
    results_dir.mkdir(parents=True, exist_ok=True)
    with (results_dir / STAGE_LOG).open("a", encoding="utf-8") as fh:
        fh.write(line + "\n")


def read_stage_log(results_dir: str | Path) -> list[tuple[str, str]]:
    """(event, stage name) pairs of ``stages.log``; events are "start", "done" and "skip"."""
    path = Path(results_dir) / STAGE_LOG
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 3:
            out.append((parts[1], parts[2]))
    return out


def run_stages(stages: Sequence[Stage], results_dir: str | Path,
               log: Callable[[str], None] | None = None, prefix: str = "") -> dict[str, dict[str, Any]]:
    """Run ``stages`` in order (skipping finished ones); returns {stage name: result}."""
    root = Path(results_dir)
    names = [s.name for s in stages]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate stage names in {names}")
    done: dict[str, dict[str, Any]] = {}
    n = len(stages)
    for i, st in enumerate(stages, 1):
        tag = f"{prefix}[{i}/{n}] {st.kind:<8} {st.name}"
        stored = load_result(root, st.name)
        if stored is not None:
            done[st.name] = stored
            _append_log(root, f"{_now()} skip {st.name}")
            if log:
                log(f"{tag}: done before, skipped")
            continue
        if log:
            log(f"{tag}: start")
        _append_log(root, f"{_now()} start {st.name}")
        t0 = time.perf_counter()
        sdir = stage_dir(root, st.name)
        sdir.mkdir(parents=True, exist_ok=True)
        result = dict(st.fn(sdir, done))
        elapsed = time.perf_counter() - t0
        result = {**st.meta, **result, "stage": st.name, "kind": st.kind, "elapsed_s": round(elapsed, 3)}
        atomic_write_text(sdir / RESULTS, json.dumps(result, indent=1, sort_keys=True))
        done[st.name] = result
        _append_log(root, f"{_now()} done {st.name} {elapsed:.1f}s")
        if log:
            extra = f"  acc {100 * result['acc']:.1f}% on {result['examples']} examples" if "acc" in result \
                and "examples" in result else ""
            log(f"{tag}: done in {elapsed:.1f}s{extra}")
    return done


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
