"""`vrkit models`: the registered models and their parameter counts in the standard configurations."""

from __future__ import annotations

import argparse
import json


def parameter_table() -> list[dict[str, object]]:
    """One row per registered model: name and parameter count per preset (None if it cannot be built)."""
    import torch

    from vrkit.models.presets import PRESETS
    from vrkit.models.registry import available_models, build_model

    rows: list[dict[str, object]] = []
    for name in available_models():
        row: dict[str, object] = {"model": name}
        for preset, config in PRESETS.items():
            try:
                with torch.device("meta"):
                    model = build_model(name, **config)
                row[preset] = sum(p.numel() for p in model.parameters())
            except Exception:  # a model that does not support this configuration
                row[preset] = None
        rows.append(row)
    return rows


def _cmd_models(args: argparse.Namespace) -> int:
    from vrkit.models.presets import PRESETS

    rows = parameter_table()
    if args.json:
        print(json.dumps(rows))
        return 0
    cols = ["model", *PRESETS]
    cells = [[str(r["model"])] + [f"{r[c]:,}" if r[c] is not None else "n/a" for c in PRESETS] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) if cells else len(c) for i, c in enumerate(cols)]
    print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cols, widths))))
    for row in cells:
        print("  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(row, widths))))
    print("parameters per preset (vrkit/models/presets.py): cog_pixels = 112 px COG with pointing; "
          "clevr_* = 28 answers, T = 1, no pointing")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list registered models with their parameter counts")
    p.add_argument("--json", action="store_true", help="print the table as one JSON line")
    p.set_defaults(handler=_cmd_models)
