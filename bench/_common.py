"""Helpers shared by the benchmark scripts: machine facts, writing results, a busy core beside a measurement."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "load_avg_1m": round(os.getloadavg()[0], 2), "date": time.strftime("%Y-%m-%d %H:%M:%S")}


def seed_summary(cells: list[dict]) -> str:
    """Markdown cells ``accuracy (mean) | per seed | weakest group`` of one variant's cells (one per seed): the
    mean accuracy, each seed's, and the group with the lowest mean accuracy over the seeds."""
    import statistics

    accs = [c["acc"] for c in cells]
    groups: dict[str, list[float]] = {}
    for c in cells:
        for g, v in c["groups"].items():
            groups.setdefault(g, []).append(v)
    weakest = min(groups, key=lambda g: statistics.mean(groups[g]))
    return (f"{100 * statistics.mean(accs):.1f} % | {' / '.join(f'{100 * a:.1f}' for a in accs)} | "
            f"{weakest} {100 * statistics.mean(groups[weakest]):.1f} %")


def write_result(name: str, result: dict) -> None:
    """Write bench/results/<name>.json and print the result as one JSON line (last line of output)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = {**result, "machine": machine()}
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(json.dumps(result, sort_keys=True))


# -- background load for thread-policy measurements ------------------------------------------------------------
# Hand-written rather than using a stress tool: the load must be a plain Python process like the jobs that share
# the machine in practice (tests, a second training run, data generation), bounded in time by itself (it ends
# at its deadline, and as soon as its parent is gone even if the benchmark is killed: os.getppid() changes when
# a process is re-parented) and killed with its whole process group at the end.
_BUSY_LOOP = """import os, time
end = time.monotonic() + {seconds}
while time.monotonic() < end and os.getppid() == {parent}:
    pass
"""
# A mix of short jobs: one after another, short-lived Python processes doing 20-200 ms of work with gaps of
# 0-30 ms (interpreter start-up included, as with test runs, git hooks, linters): one core, busy on and off.
_BUSY_MIX = """import os, random, subprocess, sys, time
end = time.monotonic() + {seconds}
rng = random.Random(0)
job = "import time\\nt = time.monotonic() + %f\\nwhile time.monotonic() < t:\\n    pass\\n"
while time.monotonic() < end and os.getppid() == {parent}:
    subprocess.run([sys.executable, "-S", "-c", job % rng.uniform(0.02, 0.2)], check=False)
    time.sleep(rng.uniform(0.0, 0.03))
"""
BUSY_KINDS = ("none", "loop", "mix")


class BusyCore:
    """``with BusyCore("loop" | "mix" | "none", seconds):`` one core kept busy by another process meanwhile."""

    def __init__(self, kind: str, seconds: float = 120.0) -> None:
        if kind not in BUSY_KINDS:
            raise ValueError(f"busy load must be one of {', '.join(BUSY_KINDS)}, got {kind!r}")
        self.kind, self.seconds = kind, seconds
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> BusyCore:
        if self.kind != "none":
            code = (_BUSY_LOOP if self.kind == "loop" else _BUSY_MIX).format(seconds=self.seconds, parent=os.getpid())
            self.proc = subprocess.Popen([sys.executable, "-S", "-c", code], start_new_session=True,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.3)  # let it get going before the measurement starts
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):  # its own session: the mix's current job dies too
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
