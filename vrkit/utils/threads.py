"""How many CPU threads a vrkit process gives torch: one home for the policy (CLI, engine and bench use it).

Why a policy at all. torch defaults to one intra-op thread per core (2 on the 2-core machines vrkit targets).
Intra-op parallelism in torch's CPU kernels is OpenMP: every op splits its work over the team and ends in a
barrier, and an idle team member spin-waits for the next op. SAMNet's training step is thousands of small ops
(32 sequential reasoning steps per sample), so the team meets at a barrier thousands of times per step. When
another process runs on one of the two cores, the thread on that core is descheduled for whole scheduler
slices while its partner spins at the barrier. Measured (issue 7), ``bench/train_step.py --model samnet --path
state`` with 2 threads fell from ~720 samples/s (idle) to 91-267 beside a busy loop and to ~4 beside a mix of
short jobs, against ~500 with 1 thread; ``bench/thread_policy.py`` here: 444 idle, 4.4 beside a busy loop, 51
beside a mix, against 375-402 with 1 thread in all three. ``OMP_WAIT_POLICY=PASSIVE`` (sleep instead of
spin) made it worse: every barrier becomes a futex wake-up. On an idle machine 2 threads are 1.1x (state path)
to 1.6x (pixels, bf16) faster than 1, and beside another job 3-90x slower (bench/results/thread_policy.json,
README "Threads and cores").

The policy, therefore: **one intra-op thread per training process** unless the user says otherwise. A single
thread never waits on a descheduled partner, so another job on the machine costs it at most its fair share of
a core instead of 3-90x. To use both cores for one run, run one process per core (``vrkit train --devices 2
--strategy ddp``: every DDP process gets one thread through this policy) — the future path the issue accepts
where data parallelism beats intra-op threads; it is not made automatic here because it changes the effective
batch size.

Precedence: the ``--threads`` flag > the ``VRKIT_THREADS`` environment variable > an explicit
``OMP_NUM_THREADS`` (the user sized OpenMP on purpose) > auto (1).

Process plumbing (why no ``worker_init_fn`` and no config key):

* ``OMP_NUM_THREADS`` is read by OpenMP when torch is first imported; :func:`apply_thread_policy` sets it in
  ``os.environ`` before importing torch, so this process's pool starts at the right size where possible and
  every child process inherits it: DDP ranks started by Lightning's ``ddp`` launcher (which re-runs the same
  command line, flag included) or ``ddp_spawn`` (fresh interpreters; Lightning only picks its own
  ``cpus // processes`` when ``OMP_NUM_THREADS`` is unset), and any subprocess of a benchmark.
* ``torch.set_num_threads`` after import does resize the intra-op pool, so the policy also works when torch was
  imported first (e.g. a test calling the CLI's ``main`` in-process).
* DataLoader worker processes (``data.workers``) already call ``torch.set_num_threads(1)`` in torch's own
  worker loop; ``tests/utils/test_threads.py`` pins that, so no ``worker_init_fn`` is needed.
* The thread count is a property of the machine and the process, not of the experiment (results do not depend
  on it), so it is not a ``trainer.*`` config key: a run's ``config.yaml`` stays machine-independent.

Inter-op threads (``torch.set_num_interop_threads``; the pool used by ``torch.jit.fork`` and a few async ops, idle in
vrkit) are set to the same number. Torch allows that once and only before any inter-op work; a later call raises
``RuntimeError``, which is recorded (``interop_applied: False``) rather than raised.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass

from vrkit.errors import InputError

ENV_VAR = "VRKIT_THREADS"
AUTO_THREADS = 1  # per process; see the module docstring for the measurements behind it
THREADS_HELP = ("torch threads per process: N or auto (default auto = 1 per process: a second intra-op thread "
                "gains 1.1-1.6x on an idle machine but loses 3-90x when another job shares a core; "
                f"env {ENV_VAR} when the flag is absent)")


@dataclass(frozen=True)
class ThreadChoice:
    """The resolved thread count and where it came from (``flag``, ``VRKIT_THREADS``, ``OMP_NUM_THREADS``,
    ``auto``)."""

    threads: int
    source: str


def parse_threads(value: int | str | None, where: str = "--threads") -> int | None:
    """``N`` (a positive integer) → N; ``auto``/None/"" → None. Anything else raises :class:`InputError`
    naming ``where`` (the flag or the environment variable)."""
    if value is None:
        return None
    if isinstance(value, bool):  # bool is an int subclass; True threads is a bug, not a count
        raise InputError(f"{where}: expected a positive integer or 'auto', got {value!r}")
    if isinstance(value, int):
        n = value
    else:
        text = value.strip().lower()
        if text in ("", "auto"):
            return None
        try:
            n = int(text)
        except ValueError:
            raise InputError(f"{where}: expected a positive integer or 'auto', got {value!r}") from None
    if n < 1:
        raise InputError(f"{where}: expected a positive integer or 'auto', got {value!r}")
    return n


def _omp_threads(env: Mapping[str, str]) -> int | None:
    """An explicit ``OMP_NUM_THREADS`` (first level of a nested list such as ``2,1``); None if unset or not a
    positive integer (OpenMP ignores such values too, so we do not fail on a variable that is not ours)."""
    raw = env.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else None


def resolve_threads(threads: int | str | None = None, env: Mapping[str, str] | None = None) -> ThreadChoice:
    """Apply the precedence flag > ``VRKIT_THREADS`` > ``OMP_NUM_THREADS`` > auto without touching torch.

    ``threads``: the flag's value (int, ``"N"``, ``"auto"`` or None when absent). ``auto`` on the flag means
    "decide for me" and still lets nothing below it override: it resolves to :data:`AUTO_THREADS`."""
    env = os.environ if env is None else env
    if threads is not None:
        n = parse_threads(threads, "--threads")
        return ThreadChoice(AUTO_THREADS, "auto") if n is None else ThreadChoice(n, "flag")
    if ENV_VAR in env:
        n = parse_threads(env[ENV_VAR], ENV_VAR)
        return ThreadChoice(AUTO_THREADS, "auto") if n is None else ThreadChoice(n, ENV_VAR)
    omp = _omp_threads(env)
    if omp is not None:
        return ThreadChoice(omp, "OMP_NUM_THREADS")
    return ThreadChoice(AUTO_THREADS, "auto")


def apply_thread_policy(threads: int | str | None = None) -> dict[str, int | str | bool]:
    """Resolve (see :func:`resolve_threads`) and apply the thread count to this process and its children.

    Sets ``OMP_NUM_THREADS`` in ``os.environ`` (before importing torch, for this process's OpenMP pool and for
    child processes), ``torch.set_num_threads`` and, when still possible, the inter-op thread count.
    Returns what was done: ``threads``, ``source``, ``interop_threads``, ``interop_applied``."""
    choice = resolve_threads(threads)
    os.environ["OMP_NUM_THREADS"] = str(choice.threads)
    import torch

    torch.set_num_threads(choice.threads)
    interop_applied = True
    if torch.get_num_interop_threads() != choice.threads:
        # the name differs between torch releases (set_num_interop_threads in the pinned 2.13, set_interop_threads)
        set_interop = getattr(torch, "set_num_interop_threads", None) or torch.set_interop_threads
        try:
            set_interop(choice.threads)
        except RuntimeError:  # already set, or inter-op work has started: harmless, that pool is idle here
            interop_applied = False
    return {"threads": torch.get_num_threads(), "source": choice.source,
            "interop_threads": torch.get_num_interop_threads(), "interop_applied": interop_applied}


def add_threads_argument(parser: argparse.ArgumentParser, default: str | None = None) -> None:
    """The shared ``--threads N|auto`` flag (value checked by :func:`apply_thread_policy`, so a bad value is
    the project's one-line InputError, exit 2). ``default`` None = absent, i.e. ``VRKIT_THREADS`` or auto."""
    parser.add_argument("--threads", default=default, metavar="N|auto", help=THREADS_HELP)
