"""Stage runner (resume after a failure) and the merged report (mean ± std over seeds, several models),
without any training."""

from __future__ import annotations

import csv
import json
import statistics
from pathlib import Path

import pytest

from vrkit.cli import main
from vrkit.errors import InputError
from vrkit.transfer import Stage, parse_partitions, read_stage_log, run_stages


def test_runner_resumes_after_a_failure(tmp_path):
    calls: list[str] = []

    def ok(name, value):
        def fn(sdir: Path, done: dict) -> dict:
            calls.append(name)
            (sdir / "scratch.txt").write_text("x")
            return {"value": value, "seen": sorted(done)}
        return fn

    def boom(sdir: Path, done: dict) -> dict:
        calls.append("b")
        raise RuntimeError("interrupted")

    lines: list[str] = []
    stages = [Stage("a", "train", ok("a", 1), {"recipe": "r"}), Stage("b", "test", boom)]
    with pytest.raises(RuntimeError):
        run_stages(stages, tmp_path, lines.append)
    assert calls == ["a", "b"] and not (tmp_path / "b" / "results.json").exists()
    stages[1] = Stage("b", "test", ok("b", 2))
    done = run_stages(stages, tmp_path, lines.append)
    assert calls == ["a", "b", "b"]  # "a" was not recomputed
    assert done["a"]["value"] == 1 and done["a"]["recipe"] == "r" and done["b"]["seen"] == ["a"]
    assert [e for e, n in read_stage_log(tmp_path)] == ["start", "done", "start", "skip", "start", "done"]
    assert any("skipped" in ln for ln in lines) and any("done in" in ln for ln in lines)
    assert json.loads((tmp_path / "b" / "results.json").read_text())["kind"] == "test"
    with pytest.raises(ValueError):
        run_stages([Stage("a", "x", ok("a", 1)), Stage("a", "x", ok("a", 1))], tmp_path / "dup")


def _fake(root: Path, model: str, seed: int, stage: str, cond: str, task: str, acc: float, n: int,
          order: int) -> None:
    d = root / model / f"seed{seed}" / stage
    d.mkdir(parents=True)
    (d / "results.json").write_text(json.dumps({
        "kind": "test", "recipe": "reasoning", "model": model, "seed": seed, "stage": stage,
        "condition": cond, "task": task, "acc": acc, "examples": n, "order": order}))


def test_report_merges_models_and_seeds(tmp_path, capsys):
    accs = {("m1", 0): 0.50, ("m1", 1): 0.70, ("m2", 0): 0.90}
    for (model, seed), acc in accs.items():
        root = tmp_path / model
        _fake(root, model, seed, "test_only__Basic", "only t", "Basic", acc, 40, 1)
        _fake(root, model, seed, "test_all__Basic", "all tasks", "Basic", acc / 2, 40, 2)
        _fake(root, model, seed, "test_only__Spatial", "only t", "Spatial", acc / 4, 30, 5)
    (tmp_path / "m1" / "m1" / "seed0" / "train_all").mkdir()
    (tmp_path / "m1" / "m1" / "seed0" / "train_all" / "results.json").write_text(json.dumps({"kind": "train"}))
    ft = tmp_path / "m1" / "m1" / "seed0" / "ft_flex-fast_but__Basic"
    ft.mkdir()
    (ft / "results.json").write_text(json.dumps({"kind": "finetune", "recipe": "reasoning", "model": "m1",
                                                 "seed": 0, "stage": ft.name, "unit": "controller"}))
    out = tmp_path / "merged"
    assert main(["transfer", "report", str(tmp_path / "m1"), str(tmp_path / "m2"), "--out", str(out)]) == 0
    md = capsys.readouterr().out
    assert "### reasoning — m1 (seeds 0, 1;" in md and "### reasoning — m2 (seeds 0;" in md
    rows = {(r["model"], r["condition"], r["task"]): r for r in csv.DictReader((out / "results.csv").open())}
    assert len(rows) == 6  # the train stage is not a cell
    r = rows[("m1", "only t", "Basic")]
    assert float(r["mean_acc"]) == pytest.approx(0.6)
    assert float(r["std_acc"]) == pytest.approx(statistics.stdev([0.5, 0.7]), abs=1e-6)
    assert r["seeds"] == "0 1" and r["examples_per_seed"] == "40 40"
    assert rows[("m2", "all tasks", "Basic")]["std_acc"] == "0.000000"
    assert "| Basic | 60.0 ± 14.1 (n=40) | 30.0 ± 7.1 (n=40) |" in md
    assert "| Spatial | 15.0 ± 3.5 (n=30) | — |" in md  # a missing cell is marked, not invented
    assert "- reasoning / m1 / ft_flex-fast_but__Basic: controller (seed 0)" in md
    assert (out / "figure_reasoning.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["transfer", "report", str(tmp_path / "nothing_here")]) == 2
    assert "not a results directory" in capsys.readouterr().err


def test_report_adds_runs_to_an_earlier_published_table(tmp_path, capsys):
    for seed, acc in ((0, 0.5), (1, 0.7)):
        _fake(tmp_path / "runs_m1", "m1", seed, "test_only__Basic", "only t", "Basic", acc, 40, 1)
    _fake(tmp_path / "runs_m2", "m2", 0, "test_only__Basic", "only t", "Basic", 0.9, 40, 1)
    _fake(tmp_path / "runs_m2", "m2", 0, "test_all__Basic", "all tasks", "Basic", 0.8, 40, 2)
    published = tmp_path / "published"
    assert main(["transfer", "report", str(tmp_path / "runs_m1"), "--out", str(published)]) == 0
    # m1's run directories are gone; a new m2 run and a re-run of m1 (seed 5) are added to the published table
    _fake(tmp_path / "rerun_m1", "m1", 5, "test_all__Basic", "all tasks", "Basic", 0.25, 40, 2)
    out = tmp_path / "merged"
    capsys.readouterr()
    assert main(["transfer", "report", str(tmp_path / "runs_m2"), str(published), str(tmp_path / "rerun_m1"),
                 "--out", str(out)]) == 0
    md = capsys.readouterr().out
    rows = {(r["model"], r["condition"]): r for r in csv.DictReader((out / "results.csv").open())}
    assert set(rows) == {("m1", "only t"), ("m1", "all tasks"), ("m2", "only t"), ("m2", "all tasks")}
    assert float(rows[("m1", "only t")]["mean_acc"]) == pytest.approx(0.6)  # carried over as published
    assert rows[("m1", "only t")]["seeds"] == "0 1" and rows[("m1", "all tasks")]["seeds"] == "5"
    assert "| Basic | 60.0 ± 14.1 (n=40) | 25.0 ± 0.0 (n=40) |" in md  # conditions in stage order
    # a cell computed from stage results wins over the published one
    _fake(tmp_path / "rerun_m1", "m1", 0, "test_only__Basic", "only t", "Basic", 0.1, 40, 1)
    assert main(["transfer", "report", str(published), str(tmp_path / "rerun_m1"), "--out", str(out)]) == 0
    rows = {(r["model"], r["condition"]): r for r in csv.DictReader((out / "results.csv").open())}
    assert float(rows[("m1", "only t")]["mean_acc"]) == pytest.approx(0.1)
    bad = tmp_path / "bad"
    bad.mkdir()
    lines = (published / "results.csv").read_text().splitlines()
    (bad / "results.csv").write_text("\n".join([lines[0], lines[1].replace("0.6", "sixty", 1)]) + "\n")
    capsys.readouterr()
    assert main(["transfer", "report", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "results.csv" in err and ":2" in err and "malformed row" in err and "Traceback" not in err


def test_parse_partitions():
    assert parse_partitions("A=Basic,Compare; B=Spatial") == {"A": ["Basic", "Compare"], "B": ["Spatial"]}
    assert parse_partitions(None) == {}
    with pytest.raises(InputError):
        parse_partitions("A=Basic;Spatial")
    with pytest.raises(InputError):
        parse_partitions("A=")
