"""Helpers shared by the benchmark scripts: machine facts and writing results."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "load_avg_1m": round(os.getloadavg()[0], 2), "date": time.strftime("%Y-%m-%d %H:%M:%S")}


def write_result(name: str, result: dict) -> None:
    """Write bench/results/<name>.json and print the result as one JSON line (last line of output)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = {**result, "machine": machine()}
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(json.dumps(result, sort_keys=True))
