"""Private helper of :mod:`vrkit.viz.report`: what a directory (or file) given to ``vrkit report`` holds.

Recognised, in path order (shallow files first; in a directory tables before figures):

* Markdown (``*.md``): headings, pipe tables, lists; CSV (``*.csv``) as tables unless a Markdown or an eval
  JSON of the same stem sits beside it (the same numbers);
* figures: ``*.png``, ``*.gif``, ``*.jpg`` inlined as data URIs;
* transfer results (``<model>/seed<s>/<stage>/results.json``): when no ``results.md`` exists, the stage
  results are aggregated on the fly (:mod:`vrkit.transfer.table`) into the paper-style tables and figures;
* evaluation summaries (``vrkit eval`` JSON) as accuracy tables; ``explain`` digests are skipped (their PNG
  is shown);
* other JSON (``bench/results`` style): files of one directory with the same keys form one table (a row
  per file), a lone file a key/value table;
* training run directories (``config.yaml`` + ``metrics.csv``): a summary table of all runs, then per run the
  loss/accuracy curves, the final val/test table and the config.
Checkpoints, TensorBoard logs, hidden files and temporary files are ignored.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vrkit.errors import InputError
from vrkit.viz import _report_html as H
from vrkit.viz import _report_runs as R

IMAGE_TYPES = {".png": "image/png", ".gif": "image/gif", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
MAX_IMAGE_BYTES = 8 << 20
MAX_RUN_BLOCKS = 24  # training runs drawn in full; the others appear in the runs table only
_SKIP_DIRS = {"checkpoints", "tb", "__pycache__", "lightning_logs"}
_STAGE_KINDS = {"train", "test", "finetune"}
_MAX_KV_ROWS = 80
_MAX_COLUMNS = 18
_RANK = {".md": 0, ".csv": 1, ".json": 2, **{k: 3 for k in IMAGE_TYPES}}  # tables before figures in a directory


@dataclass
class Block:
    title: str
    html: str
    kind: str  # markdown | table | figure | transfer | eval | json | runs | run


def _skipped(rel: Path) -> bool:
    return any(p.startswith(".") or p in _SKIP_DIRS for p in rel.parts[:-1]) or rel.name.startswith(".") or \
        rel.name.endswith(".tmp")


def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Scalars of a JSON value by dotted key; short lists of scalars joined, other lists counted."""
    out: dict[str, Any] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(_flatten(v, f"{prefix}{k}."))
    elif isinstance(obj, list):
        if len(obj) <= 12 and all(not isinstance(v, dict | list) for v in obj):
            out[prefix[:-1]] = ", ".join(map(str, obj))
        else:
            out[prefix[:-1]] = f"[{len(obj)} items]"
    else:
        out[prefix[:-1] or "value"] = obj
    return out


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return "null" if v is None else str(v)


def _json_group_block(files: list[tuple[str, dict[str, Any]]]) -> str:
    """Several JSON files with the same keys: a row per file, the keys that differ as columns."""
    keys = list(files[0][1])
    varying = [k for k in keys if len({_fmt(f[k]) for _, f in files}) > 1]
    constant = [k for k in keys if k not in varying]
    cols = varying[:_MAX_COLUMNS]
    rows = [[name, *[_fmt(f.get(k)) for k in cols]] for name, f in files]
    note = None
    if constant:
        note = "same in every file: " + "; ".join(f"{k} = {_fmt(files[0][1][k])}" for k in constant[:30])
    if len(varying) > len(cols):
        note = (note + " · " if note else "") + f"{len(varying) - len(cols)} more varying key(s) not shown"
    return H.table(["file", *cols], rows, note)


def _kv_block(flat: dict[str, Any], obj: Any = None) -> str:
    """A key/value table of the scalars, then one table per top-level list of records (e.g. ``cells``)."""
    items = list(flat.items())
    note = f"{len(items) - _MAX_KV_ROWS} more key(s)" if len(items) > _MAX_KV_ROWS else None
    parts = [H.table(["key", "value"], [[k, _fmt(v)] for k, v in items[:_MAX_KV_ROWS]], note)]
    for key, value in (obj.items() if isinstance(obj, dict) else ()):
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            records = [_flatten(v) for v in value[: H.MAX_ROWS]]
            cols = list(dict.fromkeys(k for r in records for k in r))
            more = f"{len(cols) - _MAX_COLUMNS} more column(s) not shown" if len(cols) > _MAX_COLUMNS else None
            cols = cols[:_MAX_COLUMNS]
            parts.append(f"<p><strong>{H.esc(key)}</strong> ({len(value)} records)</p>" +
                         H.table(cols, [[_fmt(r.get(c, "")) for c in cols] for r in records], more))
    return "\n".join(parts)


def _transfer_blocks(root: Path) -> list[Block]:
    """Aggregated transfer tables and figures of the stage results under ``root`` (none: [])."""
    from vrkit.transfer.figure import plot_recipe
    from vrkit.transfer.table import aggregate, collect, flex_units_markdown, to_markdown

    results = collect([root])
    if not results:
        return []
    try:
        cells = aggregate(results)
    except (KeyError, TypeError, ValueError) as err:
        raise InputError(f"malformed transfer stage results ({type(err).__name__}: {err})", root) from None
    md = to_markdown(cells) + "\n" + flex_units_markdown(collect([root], "finetune"))
    blocks = [Block("transfer results (aggregated from the stage results)", H.markdown(md), "transfer")]
    with tempfile.TemporaryDirectory() as tmp:
        for recipe in dict.fromkeys(c.recipe for c in cells):
            png = plot_recipe([c for c in cells if c.recipe == recipe], Path(tmp) / f"{recipe}.png").read_bytes()
            blocks.append(Block(f"figure: {recipe} transfer", H.image(png, "image/png", f"{recipe} transfer"),
                                "figure"))
    return blocks


def scan(target: Path) -> list[Block]:
    """Blocks of one report argument (a directory, or a single file); InputError if it does not exist."""
    if not target.exists():
        raise InputError("no such file or directory", target)
    if target.is_file():
        root, files = target.parent, [target]
    else:
        root = target
        files = [p for p in target.rglob("*") if p.is_file() and not _skipped(p.relative_to(target))]
    files.sort(key=lambda p: (len(p.relative_to(root).parts), _RANK.get(p.suffix.lower(), 9),
                              p.relative_to(root).as_posix()))
    names = {p.relative_to(root).as_posix() for p in files}
    runs = sorted({p.parent for p in files if p.name in ("metrics.csv", "final_metrics.json")
                   and R.is_run_dir(p.parent)}, key=lambda d: d.relative_to(root).as_posix() if d != root else "")
    run_set = set(runs)
    blocks: list[Block] = []
    json_groups: dict[tuple[str, tuple[str, ...]], list[tuple[str, dict[str, Any], Any]]] = {}
    has_stages = has_results_md = False
    for p in files:
        rel = p.relative_to(root).as_posix()
        if p.parent in run_set and p.name in R.RUN_FILES:
            continue
        suffix = p.suffix.lower()
        stem = rel[: -len(p.suffix)] if p.suffix else rel
        if suffix == ".md":
            has_results_md |= p.name == "results.md"
            blocks.append(Block(rel, H.markdown(p.read_text(encoding="utf-8")), "markdown"))
        elif suffix == ".csv":
            if f"{stem}.md" in names or (f"{stem}.json" in names and R.is_eval_summary(
                    R.read_json(p.with_suffix(".json")))):
                continue
            blocks.append(Block(rel, H.csv_table(p.read_text(encoding="utf-8")), "table"))
        elif suffix in IMAGE_TYPES:
            size = p.stat().st_size
            if size > MAX_IMAGE_BYTES:
                blocks.append(Block(rel, f'<p class="note">({size >> 20} MB image not inlined)</p>', "figure"))
            else:
                blocks.append(Block(rel, H.image(p.read_bytes(), IMAGE_TYPES[suffix], rel), "figure"))
        elif suffix == ".json":
            obj = R.read_json(p)
            if isinstance(obj, dict) and obj.get("kind") in _STAGE_KINDS and "stage" in obj:
                has_stages = True
            elif isinstance(obj, dict) and {"tokens", "frames", "question"} <= set(obj):
                continue  # an explain digest: its PNG is the picture
            elif R.is_eval_summary(obj):
                blocks.append(Block(f"evaluation: {rel}", R.eval_block(obj), "eval"))
            elif isinstance(obj, dict) and isinstance(obj.get("val") or obj.get("test"), dict):
                cols = {k: obj[k] for k in ("val", "test") if isinstance(obj.get(k), dict)}
                blocks.append(Block(f"summary: {rel}", R.summary_table(cols), "eval"))
            else:
                flat = _flatten(obj)
                parent = p.parent.relative_to(root).as_posix()
                json_groups.setdefault((parent, tuple(sorted(flat))), []).append((rel, flat, obj))
    if has_stages and not has_results_md:
        blocks = _transfer_blocks(root) + blocks
    for (parent, _), group in json_groups.items():
        if len(group) > 1:
            title = f"JSON results in {parent or '.'}/ ({len(group)} files)"
            blocks.append(Block(title, _json_group_block([(rel, flat) for rel, flat, _ in group]), "json"))
        else:
            rel, flat, obj = group[0]
            blocks.append(Block(rel, _kv_block(flat, obj), "json"))
    if runs:
        labels = [d.relative_to(root).as_posix() if d != root else (root.name or ".") for d in runs]
        if len(runs) > 1:
            blocks.append(Block(f"training runs ({len(runs)})",
                                H.table(R.RUN_HEADER, [R.run_row(d, lab) for d, lab in zip(runs, labels,
                                                                                               strict=True)]),
                                "runs"))
        for d, lab in list(zip(runs, labels, strict=True))[:MAX_RUN_BLOCKS]:
            blocks.append(Block(f"training run: {lab}", R.run_block(d, lab, with_row=len(runs) == 1), "run"))
        if len(runs) > MAX_RUN_BLOCKS:
            blocks.append(Block("more training runs", f'<p class="note">{len(runs) - MAX_RUN_BLOCKS} more run(s) '
                                "are in the table above only</p>", "runs"))
    return blocks
