"""A small resumable stage runner, sequential or over parallel processes.

A recipe is an ordered list of :class:`Stage` s. Stage ``name`` writes its result (a JSON object) to
``<results_dir>/<name>/results.json`` atomically when it finishes; a stage whose results file exists is not
recomputed (its stored result is reused), so an interrupted recipe resumes at its first unfinished stage.
A stage may keep scratch files (a training run directory) under ``<results_dir>/<name>/``.

A stage declares the earlier stages whose results it reads (``needs``; by default every earlier stage, so an
undeclared recipe keeps its order) and its function sees only those results. With ``jobs`` > 1 every stage
whose needs are finished runs in a child process of its own, at most ``jobs`` at a time: the child is a command
(the CLI re-run with ``--only-stage NAME``) that rebuilds the same stage list and runs that one stage with
:func:`run_one_stage`, writing its results file as a sequential run would. Stages never share RNG state (each
seeds itself), so the results are the same for any number of jobs. A failing child stops the scheduling: the
running ones finish (finished stages stay finished, so a re-run resumes) and :class:`~vrkit.errors.StageFailed`
carries the child's error line and exit code.

Every start, end (with elapsed seconds) and skip is appended to ``<results_dir>/stages.log`` and passed to the
``log`` callable (the CLI prints it; library code never prints). A child's own output goes to
``<results_dir>/<name>/job.log``.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vrkit.errors import InputError, StageFailed
from vrkit.utils.atomic import atomic_write_text

RESULTS = "results.json"
STAGE_LOG = "stages.log"
JOB_LOG = "job.log"
Log = Callable[[str], None] | None


@dataclass
class Stage:
    """One named step. ``fn(stage_dir, done)`` returns a JSON-serialisable dict; ``done`` maps the names of
    the stages in ``needs`` to their results. ``needs``: the earlier stages whose results ``fn`` reads (None =
    every earlier stage). ``kind`` is "train", "finetune" or "test"; ``meta`` is merged into the stored result
    (recipe, condition, task, ...)."""

    name: str
    kind: str
    fn: Callable[[Path, dict[str, dict[str, Any]]], dict[str, Any]]
    meta: dict[str, Any] = field(default_factory=dict)
    needs: tuple[str, ...] | None = None


@dataclass
class StageList:
    """The stages of one results directory (one model and seed). ``command(name)``: the argv of a child
    process that runs stage ``name`` of this list (needed when ``jobs`` > 1)."""

    stages: Sequence[Stage]
    results_dir: Path
    prefix: str = ""
    command: Callable[[str], Sequence[str]] | None = None


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
    with (results_dir / STAGE_LOG).open("a", encoding="utf-8") as fh:  # one short append: whole under O_APPEND
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


def stage_needs(stages: Sequence[Stage]) -> dict[str, tuple[str, ...]]:
    """{stage name: the names it needs}, checked: names unique, every need an earlier stage."""
    names = [s.name for s in stages]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate stage names in {names}")
    out: dict[str, tuple[str, ...]] = {}
    for i, st in enumerate(stages):
        needs = tuple(names[:i]) if st.needs is None else tuple(st.needs)
        bad = [n for n in needs if n not in out]
        if bad:
            raise ValueError(f"stage {st.name!r} needs {bad}, which are not earlier stages")
        out[st.name] = needs
    return out


def waves(stages: Sequence[Stage]) -> list[list[str]]:
    """The stages grouped by depth: a stage's wave is one after the latest of its needs, so the stages of one
    wave can run side by side once the earlier waves are done."""
    depth: dict[str, int] = {}
    for name, needs in stage_needs(stages).items():
        depth[name] = 1 + max((depth[n] for n in needs), default=-1)
    out: list[list[str]] = [[] for _ in range(1 + max(depth.values(), default=-1))]
    for name, d in depth.items():
        out[d].append(name)
    return out


def cpu_cores() -> int:
    """The cores this process may run on."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity else os.cpu_count() or 1


def resolve_jobs(jobs: int | None, lists: Sequence[Sequence[Stage]]) -> int:
    """``jobs`` (a count, or None = auto: the machine's cores, but no more than the widest wave of all lists
    side by side can use)."""
    if jobs is not None:
        return jobs
    widest = max((len(w) for w in _merged_waves(lists)), default=1)
    return max(1, min(cpu_cores(), widest))


def _merged_waves(lists: Sequence[Sequence[Stage]]) -> list[list[tuple[int, str]]]:
    per = [waves(st) for st in lists]
    return [[(i, n) for i, w in enumerate(per) if d < len(w) for n in w[d]] for d in range(max(map(len, per),
                                                                                              default=0))]


def side_by_side(lists: Sequence[Sequence[Stage]], labels: Sequence[str], jobs: int | None) -> list[str]:
    """Dry-run lines: which stages (of every list, labelled) can run side by side with ``--jobs``."""
    n = resolve_jobs(jobs, lists)
    head = "sequential (--jobs 1): stages run one after another in the order above" if n == 1 else \
        f"side by side (--jobs {'auto = ' if jobs is None else ''}{n}; at most {n} processes at a time, each " \
        "line needs only stages of earlier lines):"
    if n == 1:
        return [head]
    return [head] + [f"  wave {d + 1}: " + ", ".join(f"{labels[i]}{name}" for i, name in w)
                     for d, w in enumerate(_merged_waves(lists))]


def _tag(sl: StageList, i: int, st: Stage) -> str:
    return f"{sl.prefix}[{i}/{len(sl.stages)}] {st.kind:<8} {st.name}"


def _done_line(tag: str, result: dict[str, Any]) -> str:
    extra = f"  acc {100 * result['acc']:.1f}% on {result['examples']} examples" if "acc" in result \
        and "examples" in result else ""
    return f"{tag}: done in {result.get('elapsed_s', 0):.1f}s{extra}"


def _run_here(st: Stage, root: Path, done: dict[str, dict[str, Any]], needs: tuple[str, ...], tag: str,
              log: Log) -> dict[str, Any]:
    """Run one stage in this process and store its result."""
    if log:
        log(f"{tag}: start")
    _append_log(root, f"{_now()} start {st.name}")
    t0 = time.perf_counter()
    sdir = stage_dir(root, st.name)
    sdir.mkdir(parents=True, exist_ok=True)
    result = dict(st.fn(sdir, {n: done[n] for n in needs}))
    elapsed = time.perf_counter() - t0
    result = {**st.meta, **result, "stage": st.name, "kind": st.kind, "elapsed_s": round(elapsed, 3)}
    atomic_write_text(sdir / RESULTS, json.dumps(result, indent=1, sort_keys=True))
    _append_log(root, f"{_now()} done {st.name} {elapsed:.1f}s")
    if log:
        log(_done_line(tag, result))
    return result


def _finished(sl: StageList, log: Log) -> dict[str, dict[str, Any]]:
    """The stored results of the finished stages of ``sl`` (each logged as skipped)."""
    root, done = Path(sl.results_dir), {}
    for i, st in enumerate(sl.stages, 1):
        stored = load_result(root, st.name)
        if stored is not None:
            done[st.name] = stored
            _append_log(root, f"{_now()} skip {st.name}")
            if log:
                log(f"{_tag(sl, i, st)}: done before, skipped")
    return done


def run_stages(stages: Sequence[Stage], results_dir: str | Path, log: Log = None, prefix: str = "",
               jobs: int | None = 1,
               command: Callable[[str], Sequence[str]] | None = None) -> dict[str, dict[str, Any]]:
    """Run ``stages`` (skipping finished ones); returns {stage name: result}. ``jobs`` > 1: in child processes
    started with ``command(name)`` (see :func:`run_stage_lists`)."""
    return run_stage_lists([StageList(stages, Path(results_dir), prefix, command)], log, jobs)[0]


def run_stage_lists(lists: Sequence[StageList], log: Log = None, jobs: int | None = 1,
                    only: str | None = None) -> list[dict[str, dict[str, Any]]]:
    """Run every list (skipping finished stages); returns each list's {stage name: result}. ``jobs`` 1: in this
    process, list after list, in order. ``jobs`` > 1: every stage whose needs are finished runs in its own child
    process (``command(name)`` of its list), at most ``jobs`` at a time, in list order when there is a choice;
    None = auto (:func:`resolve_jobs`). ``only``: run just that stage of every list, in this process
    (:func:`run_one_stage`)."""
    needs = [stage_needs(sl.stages) for sl in lists]
    if only is not None:
        return [run_one_stage(sl.stages, sl.results_dir, only, log, sl.prefix) for sl in lists]
    jobs = resolve_jobs(jobs, [sl.stages for sl in lists])
    if jobs <= 1:
        out = []
        for sl, nd in zip(lists, needs, strict=True):
            done = _finished(sl, log)
            for i, st in enumerate(sl.stages, 1):
                if st.name not in done:
                    done[st.name] = _run_here(st, Path(sl.results_dir), done, nd[st.name], _tag(sl, i, st), log)
            out.append(done)
        return out
    if any(sl.command is None for sl in lists):
        raise ValueError("jobs > 1 needs a child command for every stage list")
    return _run_parallel(lists, needs, log, jobs)


def run_one_stage(stages: Sequence[Stage], results_dir: str | Path, name: str, log: Log = None,
                  prefix: str = "") -> dict[str, dict[str, Any]]:
    """Run stage ``name`` alone (a child of a parallel run, or ``--only-stage``); its needs must be finished.
    Returns {name: result} with the results of its needs. Unknown name or unfinished needs: InputError."""
    sl = StageList(stages, Path(results_dir), prefix)
    where = [i for i, st in enumerate(stages, 1) if st.name == name]
    if not where:
        raise InputError(f"unknown stage {name!r} (stages: {', '.join(st.name for st in stages)})", "--only-stage")
    needs = stage_needs(stages)[name]
    done = {n: r for n in (*needs, name) if (r := load_result(sl.results_dir, n)) is not None}
    missing = [n for n in needs if n not in done]
    if missing:
        raise InputError(f"stage {name!r} needs unfinished stage(s) {', '.join(missing)}", "--only-stage")
    st, tag = stages[where[0] - 1], _tag(sl, where[0], stages[where[0] - 1])
    if name in done:
        if log:
            log(f"{tag}: done before, skipped")
        return done
    done[name] = _run_here(st, sl.results_dir, done, needs, tag, log)
    return done


def _error_line(path: Path) -> str:
    """The line of a child's log that says what went wrong (its ``vrkit:`` line, else its last line)."""
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
    line = next((ln for ln in reversed(lines) if ln.startswith("vrkit:")), lines[-1] if lines else "no output")
    return line.removeprefix("vrkit: ").removeprefix("error: ")


def _run_parallel(lists: Sequence[StageList], needs: list[dict[str, tuple[str, ...]]], log: Log,
                  jobs: int) -> list[dict[str, dict[str, Any]]]:
    done = [_finished(sl, log) for sl in lists]
    pending = [(k, i, st) for k, sl in enumerate(lists) for i, st in enumerate(sl.stages, 1)
               if st.name not in done[k]]
    running: dict[subprocess.Popen, tuple[int, int, Stage, Any]] = {}
    failure: StageFailed | None = None
    try:
        while pending or running:
            for item in [] if failure else list(pending):
                k, i, st = item
                if len(running) >= jobs:
                    break
                if all(n in done[k] for n in needs[k][st.name]):
                    pending.remove(item)
                    sdir = stage_dir(lists[k].results_dir, st.name)
                    sdir.mkdir(parents=True, exist_ok=True)
                    fh = (sdir / JOB_LOG).open("w", encoding="utf-8")
                    proc = subprocess.Popen(list(lists[k].command(st.name)), stdout=fh, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL)
                    running[proc] = (k, i, st, fh)
                    if log:
                        log(f"{_tag(lists[k], i, st)}: start (process {proc.pid})")
            if not running:
                break
            time.sleep(0.05)
            for proc in [p for p in running if p.poll() is not None]:
                k, i, st, fh = running.pop(proc)
                fh.close()
                tag, root = _tag(lists[k], i, st), Path(lists[k].results_dir)
                result = load_result(root, st.name) if proc.returncode == 0 else None
                if result is not None:
                    done[k][st.name] = result
                    if log:
                        log(_done_line(tag, result))
                    continue
                rc = proc.returncode
                code = rc if rc > 0 else (128 - rc if rc < 0 else 1)
                why = _error_line(stage_dir(root, st.name) / JOB_LOG) if rc else "the child wrote no results"
                err = StageFailed(f"stage {lists[k].prefix}{st.name} failed (exit {rc}): {why} "
                                  f"(log: {stage_dir(root, st.name) / JOB_LOG})", code)
                failure = failure or err
                if log:
                    log(f"{tag}: failed: {why}")
                    if running:
                        log(f"waiting for {len(running)} running stage(s) to finish")
    except BaseException:  # Ctrl-C or a bug here: stop the children we started
        for proc, (_, _, _, fh) in running.items():
            proc.terminate()
            proc.wait()
            fh.close()
        raise
    if failure:
        raise failure
    return done


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
