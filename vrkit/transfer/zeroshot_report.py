"""The zero-shot report: on top of the transfer tables (``results.md``/``results.csv`` of
:func:`vrkit.transfer.report.write_report`), ``zeroshot.md`` (methods averaged over the held-out families, the
paper's win rates of TTNet against every other method, the goals of docs/zeroshot.md checked against the
measured numbers), ``winrates.csv``, the Γ heatmap and the accuracy against the number of source families.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vrkit.errors import InputError
from vrkit.transfer.table import collect, ordered
from vrkit.transfer.zeroshot import RECIPE
from vrkit.transfer.zeroshot_heads import win_rate
from vrkit.utils.atomic import atomic_path, atomic_write_text


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def summarize(tests: Sequence[dict[str, Any]], main: str) -> dict[str, Any]:
    """Per method: accuracy averaged over held-out families (mean ± std over seeds) and TTNet(main)'s win rate
    against it, pooled over families and seeds; plus per-family win rates."""
    tests = sorted(tests, key=lambda r: r.get("order", 0))
    by: dict[tuple[str, int, str], dict[str, Any]] = {(r["method"], r["seed"], r["task"]): r for r in tests}
    methods = ordered(r["method"] for r in tests)
    labels = {r["method"]: r["condition"] for r in tests}
    seeds, fams = sorted({r["seed"] for r in tests}), ordered(r["task"] for r in tests)
    ref = f"ttnet_{main}"
    rows, per_family = [], []
    for m in methods:
        accs = [statistics.fmean(by[(m, s, f)]["acc"] for f in fams) for s in seeds
                if all((m, s, f) in by for f in fams)]
        wins = decisive = 0
        for f in fams:
            fw = fd = 0
            for s in seeds:
                if (m, s, f) in by and (ref, s, f) in by:
                    rate, n = win_rate(by[(ref, s, f)]["scores"], by[(m, s, f)]["scores"])
                    fw, fd = fw + round((rate or 0) * n), fd + n
            wins, decisive = wins + fw, decisive + fd
            per_family.append({"method": m, "family": f, "wins": fw, "decisive": fd,
                               "win_rate": fw / fd if fd else None})
        mean, std = _mean_std(accs) if accs else (float("nan"), 0.0)
        rows.append({"method": m, "label": labels[m], "mean": mean, "std": std, "seeds": len(accs),
                     "win_rate": wins / decisive if decisive else None, "decisive": decisive})
    return {"rows": rows, "per_family": per_family, "families": fams, "seeds": seeds, "reference": ref}


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{100 * v:.1f}"


def goals(summary: dict[str, Any], main: str) -> list[str]:
    """The goals of docs/zeroshot.md, each with its measured figure and whether it holds."""
    row = {r["method"]: r for r in summary["rows"]}
    ref = row.get(f"ttnet_{main}")
    if ref is None:
        return [f"- no TTNet (Γ {main}) results"]
    out = []
    for m in ("gamma_average", "nearest", "shared"):
        if m in row:
            r = row[m]
            ok = ref["mean"] > r["mean"] and (r["win_rate"] or 0) > 0.5
            out.append(f"- TTNet beats {r['label']}: {100 * ref['mean']:.1f} vs {100 * r['mean']:.1f} %, win rate "
                       f"{_pct(r['win_rate'])} % over {r['decisive']} decisive examples — "
                       f"{'holds' if ok else 'does not hold'}")
    if "shared" in row and "oracle" in row:
        gap = row["oracle"]["mean"] - row["shared"]["mean"]
        if gap > 0:
            closed = (ref["mean"] - row["shared"]["mean"]) / gap
            out.append(f"- gap from shared head to oracle closed: {100 * closed:.0f} % (oracle − shared = "
                       f"{100 * gap:.1f} points; goal ≥ 50 %) — {'holds' if closed >= 0.5 else 'does not hold'}")
        else:
            out.append(f"- gap from shared head to oracle: none to close — the oracle head is {100 * -gap:.1f} "
                       "points below the shared head (goal ≥ 50 % closed) — does not hold")
    if "ttnet_shuffled" in row:
        sh = row["ttnet_shuffled"]["mean"]
        out.append(f"- shuffled Γ worse than the real one: {100 * sh:.1f} vs {100 * ref['mean']:.1f} % — "
                   f"{'holds' if sh < ref['mean'] else 'does not hold'}")
    for m in row:
        if m.endswith("_ttnet") and f"{m[:-6]}_random" in row and int(m[1:-6]) <= 64:
            t, r = row[m]["mean"], row[f"{m[:-6]}_random"]["mean"]
            out.append(f"- {m[1:-6]}-shot: TTNet initialisation vs random: {100 * t:.1f} vs {100 * r:.1f} % — "
                       f"{'holds' if t > r else 'does not hold'}")
    return out


def markdown(summary: dict[str, Any], main: str) -> str:
    lines = [f"### zero-shot task transfer — held out: {', '.join(summary['families'])} "
             f"(seeds {', '.join(map(str, summary['seeds']))})", "",
             "Accuracy = frame accuracy averaged over the held-out families (mean ± std over seeds). Win rate = "
             f"share of test examples where TTNet (Γ {main}) scores higher than the method, among the examples "
             "where the two differ (decisive).", "",
             "| method | accuracy % | TTNet win rate % | decisive examples |", "|---|---|---|---|"]
    for r in summary["rows"]:
        lines.append(f"| {r['label']} | {100 * r['mean']:.1f} ± {100 * r['std']:.1f} | {_pct(r['win_rate'])} | "
                     f"{r['decisive']} |")
    lines += ["", "#### goals", "", *goals(summary, main), ""]
    return "\n".join(lines)


def winrates_csv(summary: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(("reference", "method", "family", "wins", "decisive", "win_rate"))
    for r in summary["per_family"]:
        w.writerow((summary["reference"], r["method"], r["family"], r["wins"], r["decisive"],
                    "" if r["win_rate"] is None else f"{r['win_rate']:.4f}"))
    return buf.getvalue()


def _save(fig: Any, out: Path, tight: bool = True) -> Path:
    import matplotlib.pyplot as plt

    if tight:
        fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)
    return out


def plot_gamma(gamma_result: dict[str, Any], out: Path) -> Path:
    """One heatmap per Γ source (rows: source task i, columns: target task j; −1 … +2)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    names, gammas = gamma_result["families"], gamma_result["gammas"]
    fig, axes = plt.subplots(1, len(gammas), figsize=(5.2 * len(gammas), 5.4), squeeze=False)
    for ax, (src, g) in zip(axes[0], gammas.items(), strict=True):
        im = ax.imshow(g, vmin=-1, vmax=2, cmap="RdBu_r")
        ax.set_xticks(range(len(names)), names, rotation=90, fontsize=5)
        ax.set_yticks(range(len(names)), names, fontsize=5)
        ax.set_title(f"Γ: {src}", fontsize=10)
    fig.subplots_adjust(left=0.12, bottom=0.25, right=0.92, top=0.94, wspace=0.45)
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.6)
    return _save(fig, out, tight=False)


def plot_sources(curves: Sequence[dict[str, Any]], out: Path) -> Path:
    """Accuracy (mean over held-out families; error bars: std over seeds) against the number of source families."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    ms = sorted({int(m) for c in curves for m in c["accuracy"]})
    means, stds = [], []
    for m in ms:
        vals = [statistics.fmean(c["accuracy"][str(m)].values()) for c in curves if str(m) in c["accuracy"]]
        mean, std = _mean_std(vals)
        means.append(100 * mean)
        stds.append(100 * std)
    fig, ax = plt.subplots(figsize=(5, 3.6))
    ax.errorbar(ms, means, yerr=stds, marker="o", capsize=3)
    ax.set_xlabel("source (known) families given to TTNet")
    ax.set_ylabel("held-out accuracy (%)")
    ax.set_title(f"TTNet (Γ {curves[0].get('gamma')}) vs number of sources", fontsize=10)
    ax.grid(alpha=0.3)
    return _save(fig, out)


def write_zeroshot_report(dirs: Sequence[str | Path], out: str | Path | None = None) -> dict[str, Path]:
    """The transfer tables plus the zero-shot extras for the results under ``dirs``; returns the written paths."""
    from vrkit.transfer.report import write_report

    tests = [r for r in collect(dirs) if r.get("recipe") == RECIPE]
    if not tests:
        raise InputError("no finished zero-shot test stages found", dirs[0] if dirs else None)
    out = Path(out or dirs[0])
    paths = write_report(dirs, out)
    main = next(iter(r["gamma"] for r in collect(dirs, "kshot")), None) or "structure"
    for model in ordered(r["model"] for r in tests):
        summary = summarize([r for r in tests if r["model"] == model], main)
        suffix = "" if model == tests[0]["model"] else f"_{model}"
        paths[f"zeroshot{suffix}"] = out / f"zeroshot{suffix}.md"
        atomic_write_text(paths[f"zeroshot{suffix}"], markdown(summary, main))
        paths[f"winrates{suffix}"] = out / f"winrates{suffix}.csv"
        atomic_write_text(paths[f"winrates{suffix}"], winrates_csv(summary))
        gammas = sorted((r for r in collect(dirs, "gamma") if r["model"] == model), key=lambda r: r["seed"])
        if gammas:
            paths[f"gamma{suffix}"] = plot_gamma(gammas[0], out / f"zeroshot_gamma{suffix}.png")
        curves = [r for r in collect(dirs, "curve") if r["model"] == model]
        if curves:
            paths[f"sources{suffix}"] = plot_sources(curves, out / f"zeroshot_sources{suffix}.png")
    return paths
