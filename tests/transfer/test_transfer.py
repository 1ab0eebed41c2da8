"""Transfer recipes end to end at tiny scale (seconds): tables, example counts, figure, resumable stages,
flex-tuning unit selection."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
import yaml

from vrkit.cli import main
from vrkit.transfer import read_stage_log
from vrkit.worlds.cog.constants import GROUPS

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Tiny models gain nothing from intra-op threads, and on a shared 2-core machine they lose a lot."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.open(encoding="utf-8")))


def _md_table(md: str) -> tuple[list[str], dict[str, list[str]]]:
    """(header cells, {task: row cells}) of the first Markdown table."""
    lines = [ln for ln in md.splitlines() if ln.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = {}
    for ln in lines[2:]:
        cells = [c.strip() for c in ln.strip("|").split("|")]
        rows[cells[0]] = cells[1:]
    return header, rows


@pytest.fixture(scope="module")
def temporal(tmp_path_factory):
    out = tmp_path_factory.mktemp("temporal")
    args = ["transfer", "temporal", "--model", "samnet", "--scale", "tiny", "--seeds", "0", "--out", str(out),
            "--test-n", "20", "--ft-modes", "full,head"]
    assert main(args) == 0
    return out, args


def test_temporal_table_counts_and_figure(temporal, capsys):
    out, _ = temporal
    header, rows = _md_table((out / "results.md").read_text(encoding="utf-8"))
    assert header == ["task", "canonical → canonical", "paper", "canonical → hard (zero-shot)", "paper",
                      "canonical + ft hard [full] → hard", "paper", "canonical + ft hard [head] → hard",
                      "hard → hard", "paper"]
    assert list(rows) == ["all"]
    assert [rows["all"][i] for i in (1, 3, 5, 8)] == ["98.0", "91.6", "96.7", "96.1"]  # the paper's SAMNet
    for i, cell in enumerate(rows["all"]):
        if i not in (1, 3, 5, 8):
            assert cell.endswith("(n=20)") and " ± 0.0 " in cell  # one seed: std 0
    csv_rows = _rows(out / "results.csv")
    assert len(csv_rows) == 5 and {r["examples_per_seed"] for r in csv_rows} == {"20"}
    assert {r["seeds"] for r in csv_rows} == {"0"}
    # every cell is the stored test result (no made-up numbers)
    zs = json.loads((out / "samnet/seed0/test_canonical_on_hard/results.json").read_text())
    assert zs["examples"] == 20 and zs["test_variant"] == "hard" and zs["source"] == "train_canonical"
    row = next(r for r in csv_rows if r["condition"] == "canonical → hard (zero-shot)")
    assert float(row["mean_acc"]) == pytest.approx(zs["acc"], abs=1e-6)
    # the fine-tuning stage ran one epoch on hard (the protocol)
    ft = json.loads((out / "samnet/seed0/ft_full_hard/results.json").read_text())
    assert ft["epochs"] == 1
    # head-only fine-tuning changed the head units' parameters and nothing else
    from vrkit.engine.evaluate import load_task
    from vrkit.transfer.finetune import head_units, unit_tensor_names

    src = load_task(out / "samnet/seed0" / json.loads(
        (out / "samnet/seed0/train_canonical/results.json").read_text())["ckpt"]).model
    head = json.loads((out / "samnet/seed0/ft_head_hard/results.json").read_text())
    assert head["units"] == head_units(src)
    tuned = load_task(out / "samnet/seed0" / head["ckpt"]).model.state_dict()
    allowed = {k for u in head["units"] for k in unit_tensor_names(src, u)}
    changed = {k for k, v in src.state_dict().items() if not torch.equal(v, tuned[k])}
    assert changed and changed <= allowed
    png = out / "figure_temporal.png"
    assert png.read_bytes()[:8] == PNG and png.stat().st_size > 5000
    capsys.readouterr()


def test_rerun_skips_finished_stages(temporal, capsys):
    out, args = temporal
    run_dir = out / "samnet" / "seed0"
    before = read_stage_log(run_dir)
    stamp = (run_dir / "train_canonical" / "results.json").stat().st_mtime_ns
    assert main(args) == 0
    new = read_stage_log(run_dir)[len(before):]
    assert {e for e, _ in new} == {"skip"} and len(new) == 9
    assert (run_dir / "train_canonical" / "results.json").stat().st_mtime_ns == stamp
    assert "done before, skipped" in capsys.readouterr().out
    # a removed result is recomputed, and only it; the interrupted-looking training run resumes its checkpoint
    steps = json.loads((run_dir / "train_hard" / "results.json").read_text())["steps"]
    (run_dir / "train_hard" / "results.json").unlink()
    assert main(args) == 0
    new = read_stage_log(run_dir)[len(before) + 9:]
    assert [n for e, n in new if e == "start"] == ["train_hard"]
    assert json.loads((run_dir / "train_hard" / "results.json").read_text())["steps"] == steps
    capsys.readouterr()
    # other settings in the same directory: refused (their stages would be skipped as done)
    assert main([*args[:-4], "--test-n", "24", "--ft-modes", "full"]) == 2
    assert "other settings (sizes)" in capsys.readouterr().err


def test_reasoning_cog_two_groups(tmp_path, capsys):
    out = tmp_path / "reasoning"
    assert main(["transfer", "reasoning", "--world", "cog", "--model", "samnet", "--scale", "tiny", "--seeds",
                 "0", "--out", str(out), "--tasks", "Basic,Cognitive", "--partition", "A=Basic;B=Cognitive",
                 "--test-n", "16", "--ft-modes", "full"]) == 0
    capsys.readouterr()
    header, rows = _md_table((out / "results.md").read_text(encoding="utf-8"))
    assert header == ["task", "only t", "all tasks", "all but t (zero-shot)", "all but t + ft t [full]",
                      "A (Basic)", "B (Cognitive)"]
    assert list(rows) == ["Basic", "Cognitive"]
    assert all(c.endswith("(n=16)") for cells in rows.values() for c in cells)
    # tests are restricted to the task's families; the zero-shot model never saw them
    res = json.loads((out / "samnet/seed0/test_but__Basic/results.json").read_text())
    assert set(res["summary"]["families"]) <= set(GROUPS["Basic"]) and res["examples"] == 16
    train_cfg = yaml.safe_load((out / "samnet/seed0/train_but__Basic/run/config.yaml").read_text())
    assert train_cfg["data"]["families"] == ["Cognitive"]
    assert (out / "figure_reasoning.png").read_bytes()[:8] == PNG
    # unknown task: one clear error, exit code 2
    assert main(["transfer", "reasoning", "--model", "samnet", "--scale", "tiny", "--out", str(tmp_path / "x"),
                 "--tasks", "Basic,Nope"]) == 2
    assert "Nope" in capsys.readouterr().err


@pytest.mark.parametrize("criterion", ["full", "faster"])
def test_flex_tuning_changes_only_the_selected_unit(tmp_path, criterion):
    from vrkit.engine.config import SourceConfig
    from vrkit.engine.evaluate import load_task
    from vrkit.transfer.finetune import train_run, trainable_units, unit_tensor_names
    from vrkit.transfer.flex import flex_tune
    from vrkit.transfer.scale import base_config, derive

    base = base_config("cog", "samnet", "tiny")
    src = train_run(derive(base, seed=1, variant="canonical", families=["Basic"]), tmp_path / "src")
    ft_cfg = derive(base, seed=1, variant="hard", families=["Basic"], train_n=16, val_n=8, max_epochs=2)
    val = SourceConfig(kind="stream", n=16, seed=77, variant="hard", families=["Basic"])
    res = flex_tune(ft_cfg, src["ckpt"], tmp_path / "flex", criterion, val)

    source = load_task(src["ckpt"]).model
    units = trainable_units(source)
    assert res["unit"] in source.units() and set(res["scores"]) == set(units)
    assert res["scores"][res["unit"]] == max(res["scores"].values())
    tuned = load_task(res["ckpt"]).model.state_dict()
    before = source.state_dict()
    selected = set(unit_tensor_names(source, res["unit"]))
    changed = {k for k in before if not torch.equal(before[k], tuned[k])}
    assert changed and changed <= selected
    # the scores are the stated measurements: re-measure the last unit's
    from vrkit.transfer.finetune import graft
    from vrkit.transfer.flex import val_accuracy

    u = units[-1]
    if criterion == "full":  # that unit fine-tuned alone
        again = val_accuracy(tmp_path / f"flex/unit_{u}/checkpoints/best.ckpt", val)["acc"]
    else:  # the source with that unit grafted from the all-units fine-tune
        donor = load_task(tmp_path / "flex/all_units/checkpoints/best.ckpt").model.state_dict()
        again = val_accuracy(src["ckpt"], val, graft(before, donor, unit_tensor_names(source, u)))["acc"]
    assert again == pytest.approx(res["scores"][u], abs=1e-12)
    if criterion == "faster":  # the proxy donor was fine-tuned for a single epoch
        last = torch.load(tmp_path / "flex/all_units/checkpoints/last.ckpt", map_location="cpu",
                          weights_only=False)
        assert last["epoch"] == 0


def test_feature_end_to_end_and_clevr_reasoning_conditions(tmp_path, monkeypatch, capsys):
    """CLEVR-CoGenT feature transfer at tiny scale; the CLEVR reasoning protocol adds Fig. 5's control."""
    pytest.importorskip("vrkit.engine.datamodules.clevr")
    from vrkit.transfer import RecipeSpec, build_stages

    monkeypatch.setenv("VRKIT_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "feature"
    assert main(["transfer", "feature", "--model", "samnet", "--scale", "tiny", "--out", str(out),
                 "--test-n", "24", "--ft-n", "16", "--ft-modes", "full,head"]) == 0
    capsys.readouterr()
    header, rows = _md_table((out / "results.md").read_text(encoding="utf-8"))
    assert header == ["task", "train A", "train A + ft B [full]", "train A + ft B [head]"]
    assert list(rows) == ["A", "B"] and all(c.endswith("(n=24)") for r in rows.values() for c in r)
    res = json.loads((out / "samnet/seed0/test_ft_full_on_B/results.json").read_text())
    assert res["test_variant"] == "B" and res["source"] == "ft_full_B" and res["examples"] == 24
    ft_cfg = yaml.safe_load((out / "samnet/seed0/ft_full_B/run/config.yaml").read_text())
    assert ft_cfg["data"]["variant"] == "B" and ft_cfg["data"]["train"]["n"] == 16
    assert (out / "figure_feature.png").read_bytes()[:8] == PNG

    spec = RecipeSpec("reasoning", "samnet", "tiny", [0], tmp_path, world="clevr", tasks=["Exist", "Count"])
    conds = {s.meta["condition"] for s in build_stages(spec, 0) if s.kind == "test"}
    assert conds == {"only t", "all tasks", "all but t (zero-shot)", "all but t + ft t [full]",
                     "all + ft t [full]"}


def test_budget_is_shared_by_open_training_runs_only():
    """Fine-tuning runs are epoch-bounded, so only the open-ended training runs split the recipe's minutes."""
    from vrkit.transfer.recipes import TRAIN_SHARE, RecipeSpec, build_stages

    spec = RecipeSpec("temporal", "samnet", "tiny", [0, 1], Path("unused"), minutes=12.0,
                      ft_modes=["full", "head", "flex-fast"])
    stages = build_stages(spec, 0)
    trains = [s for s in stages if s.kind == "train"]
    assert len(trains) == 2 and sum(s.kind == "finetune" for s in stages) == 3
    assert all(s.meta["budget"] == pytest.approx(TRAIN_SHARE * 12.0 / (2 * 2)) for s in trains)


def test_cpu_feature_fine_tuning_follows_the_reference_protocol():
    """CoGenT fine-tuning at cpu scale: one epoch on 30k B questions (as the reference); flags still win; the
    other recipes keep the scale's sizes and temporal keeps its single epoch."""
    from vrkit.transfer.recipes import RecipeSpec
    from vrkit.transfer.scale import SIZES

    feat = RecipeSpec("feature", "samnet", "cpu", [0], Path("unused")).sizes()
    assert (feat.ft_n, feat.ft_epochs, feat.test_n) == (30000, 1, SIZES["cpu"].test_n)
    flagged = RecipeSpec("feature", "samnet", "cpu", [0], Path("unused"), ft_n=500, ft_epochs=3).sizes()
    assert (flagged.ft_n, flagged.ft_epochs) == (500, 3)
    reas = RecipeSpec("reasoning", "samnet", "cpu", [0], Path("unused")).sizes()
    assert (reas.ft_n, reas.ft_epochs) == (SIZES["cpu"].ft_n, SIZES["cpu"].ft_epochs)
    temp = RecipeSpec("temporal", "samnet", "cpu", [0], Path("unused")).sizes()
    assert (temp.ft_n, temp.ft_epochs) == (SIZES["cpu"].ft_n, 1)
    assert SIZES["cpu"].ft_n == 2048  # the shared table is not modified by the per-recipe departure
