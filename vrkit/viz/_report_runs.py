"""Private helper of :mod:`vrkit.viz.report`: training run directories (vrkit/engine/run.py layout) and
evaluation summaries (vrkit/engine/evaluate.py) as HTML.

A run directory holds ``config.yaml``, ``metrics.csv`` (Lightning CSV log: ``step``, ``epoch``,
``train/loss_step``, ``val/acc`` ...) and, when finished, ``final_metrics.json`` (``val`` / ``test`` summaries).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import yaml

from vrkit.errors import InputError
from vrkit.viz import _report_html as H

RUN_FILES = ("config.yaml", "metrics.csv", "final_metrics.json", "hparams.yaml")
_LOSS_KEYS = ("train/loss_step", "train/loss_epoch", "val/loss", "train/answer_loss_epoch", "train/point_loss_epoch")
_ACC_KEYS = ("train/acc", "val/acc", "val/frames_acc", "test/acc")


def is_run_dir(d: Path) -> bool:
    return (d / "config.yaml").is_file() and ((d / "metrics.csv").is_file() or (d / "final_metrics.json").is_file())


def is_eval_summary(obj: Any) -> bool:
    """A summary of :func:`vrkit.engine.evaluate.evaluate` (or ``write_eval``'s JSON)."""
    return isinstance(obj, dict) and isinstance(obj.get("families"), dict) and "frames_acc" in obj


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise InputError(f"invalid JSON ({err.msg})", path, err.lineno) from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read ({err})", path) from None


def _pct(v: Any) -> str:
    return f"{100 * float(v):.1f}" if isinstance(v, int | float) else "—"


def summary_table(columns: dict[str, dict[str, Any]], fold_families: int = 12) -> str:
    """Accuracy table of one or more summaries side by side (e.g. {"val": ..., "test": ...}): the overall
    rows and the groups, then the families (folded into a <details> element beyond ``fold_families``);
    each cell ``acc % (n = frames)``."""
    head: list[tuple[str, str, str]] = [("overall", "overall (mean of families)", ""),
                                        ("pooled", "overall (pooled frames)", "")]
    fams: list[tuple[str, str, str]] = []
    for s in columns.values():
        head += [("group", f"[{g}]", g) for g in (s.get("groups") or {}) if ("group", f"[{g}]", g) not in head]
        fams += [("family", f, f) for f in (s.get("families") or {}) if ("family", f, f) not in fams]

    def row(kind: str, label: str, key: str) -> list[object]:
        out: list[object] = [label]
        for s in columns.values():
            if kind == "overall":
                v, n = s.get("acc"), s.get("frames")
            elif kind == "pooled":
                v, n = s.get("frames_acc"), s.get("frames")
            else:
                cell = (s.get("groups" if kind == "group" else "families") or {}).get(key) or {}
                v, n = cell.get("acc"), cell.get("frames")
            out.append(f"{_pct(v)} (n={n})" if v is not None else "—")
        return out

    header = ["", *[f"{k} accuracy % (frames)" for k in columns]]
    if len(fams) <= fold_families:
        return H.table(header, [row(*r) for r in head + fams])
    return H.table(header, [row(*r) for r in head]) + H.details(
        f"per family ({len(fams)})", H.table(["family", *header[1:]], [row(*r) for r in fams]))


def eval_block(obj: dict[str, Any]) -> str:
    """An evaluation summary JSON: what was evaluated, then the accuracy table."""
    meta = [f"{k}: {obj[k]}" for k in ("checkpoint", "data", "seed", "examples") if k in obj]
    note = f'<p class="note">{H.esc("; ".join(meta))}</p>' if meta else ""
    return note + summary_table({"eval": obj})


def _read_metrics(path: Path) -> list[dict[str, str]]:
    try:
        return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise InputError(f"cannot read metrics CSV ({err})", path) from None


def _series(rows: list[dict[str, str]], key: str) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for i, r in enumerate(rows):
        v = r.get(key)
        if v in (None, ""):
            continue
        try:
            y = float(v)
            x = float(r.get("step") or i)
        except ValueError:
            continue
        xs.append(x)
        ys.append(y)
    return xs, ys


def curves_png(rows: list[dict[str, str]], title: str) -> bytes | None:
    """Loss and accuracy curves (x = optimizer step) of a metrics CSV, as PNG bytes; None if nothing to draw."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    loss = [(k, *_series(rows, k)) for k in _LOSS_KEYS]
    acc = [(k, *_series(rows, k)) for k in _ACC_KEYS]
    loss, acc = [s for s in loss if s[1]], [s for s in acc if s[1]]
    if not loss and not acc:
        return None
    fig = Figure(figsize=(9, 3.0), dpi=90)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2)
    for ax, series, label in ((axes[0], loss, "loss"), (axes[1], acc, "accuracy")):
        for k, xs, ys in series:
            style = "-" if "step" in k or k.startswith("val") else "--"
            ax.plot(xs, ys, style, marker="o" if len(xs) < 30 else None, markersize=3, linewidth=1.2, label=k)
        ax.set_xlabel("step", fontsize=8)
        ax.set_ylabel(label, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if series:
            ax.legend(fontsize=7)
        if label == "accuracy":
            ax.set_ylim(0, 1.02)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def _config(d: Path) -> dict[str, Any]:
    try:
        cfg = yaml.safe_load((d / "config.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise InputError(f"cannot read run config ({err})", d / "config.yaml") from None
    return cfg if isinstance(cfg, dict) else {}


def run_row(d: Path, label: str) -> list[object]:
    """One row of the training-runs table: run, model, world, variant, path, epochs, steps, val / test acc."""
    cfg = _config(d)
    data, model = cfg.get("data") or {}, cfg.get("model") or {}
    final = read_json(d / "final_metrics.json") if (d / "final_metrics.json").is_file() else {}
    val, test = final.get("val") or {}, final.get("test") or {}
    return [label, model.get("name", "?"), data.get("world", "?"), data.get("variant", "?"), data.get("path", "?"),
            final.get("epochs", "—"), final.get("steps", "—"), _pct(val.get("acc")), _pct(test.get("acc"))]


RUN_HEADER = ["run", "model", "world", "variant", "path", "epochs", "steps", "val acc %", "test acc %"]


def run_block(d: Path, label: str, with_row: bool = True) -> str:
    """A training run: its summary row (``with_row``), curves, the final val/test table, and the resolved
    config (collapsed)."""
    parts = [H.table(RUN_HEADER, [run_row(d, label)])] if with_row else []
    if (d / "metrics.csv").is_file():
        png = curves_png(_read_metrics(d / "metrics.csv"), label)
        if png:
            parts.append(H.image(png, "image/png", f"training curves of {label}", "loss and accuracy per step"))
    if (d / "final_metrics.json").is_file():
        final = read_json(d / "final_metrics.json")
        cols = {k: final[k] for k in ("val", "test") if isinstance(final.get(k), dict)}
        if cols:
            parts.append(summary_table(cols))
    parts.append(H.details("config.yaml", H.pre((d / "config.yaml").read_text(encoding="utf-8"))))
    return "\n".join(parts)
