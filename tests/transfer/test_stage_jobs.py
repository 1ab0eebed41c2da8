"""Stages with declared needs, run side by side in child processes (``--jobs``): the order the needs impose,
at most N at a time, a failed or killed child, resuming, the same results as one process, ``--only-stage``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from vrkit.cli import main
from vrkit.errors import InputError, StageFailed
from vrkit.transfer.stages import Stage, StageList, run_one_stage, run_stage_lists, run_stages, waves

# A stand-in child (no torch): checks its needs are finished, sleeps, then writes its results atomically, or
# fails the way the plan says.
CHILD = r"""
import json, os, sys, time
root, name = sys.argv[1], sys.argv[2]
plan = json.load(open(os.path.join(root, "plan.json")))[name]
for n in plan["needs"]:
    if not os.path.exists(os.path.join(root, n, "results.json")):
        print(f"vrkit: error: {name} started before {n} finished"); sys.exit(3)
t0 = time.time()
time.sleep(plan.get("sleep", 0))
if plan.get("fail") == "exit":
    print("some output"); print(f"vrkit: error: bad input in {name}"); sys.exit(2)
if plan.get("fail") == "kill":
    os.kill(os.getpid(), 9)
tmp = os.path.join(root, name, "results.json.tmp")
json.dump({"start": t0, "end": time.time(), "name": name}, open(tmp, "w"))
os.replace(tmp, os.path.join(root, name, "results.json"))
"""


def _unused(sdir: Path, done: dict) -> dict:
    raise AssertionError("a parallel run never calls a stage function in the parent")


def _setup(root: Path, plan: dict[str, dict]) -> tuple[list[Stage], StageList]:
    root.mkdir(parents=True, exist_ok=True)
    (root / "plan.json").write_text(json.dumps(plan))
    script = root / "child.py"
    script.write_text(CHILD)
    stages = [Stage(n, "x", _unused, needs=tuple(p["needs"])) for n, p in plan.items()]
    return stages, StageList(stages, root, "", lambda name: [sys.executable, str(script), str(root), name])


def test_needs_order_children_and_at_most_n_run_at_once(tmp_path):
    plan = {"a": {"needs": [], "sleep": 1.0}, "b": {"needs": [], "sleep": 1.0}, "c": {"needs": ["a"]},
            "d": {"needs": ["b", "c"]}, "e": {"needs": [], "sleep": 0.3}}
    stages, sl = _setup(tmp_path, plan)
    assert waves(stages) == [["a", "b", "e"], ["c"], ["d"]]
    lines: list[str] = []
    done = run_stage_lists([sl], lines.append, jobs=2)[0]
    assert sorted(done) == ["a", "b", "c", "d", "e"]
    t = {n: (r["start"], r["end"]) for n, r in done.items()}
    assert t["a"][0] < t["b"][1] and t["b"][0] < t["a"][1]  # independent stages ran side by side
    assert t["c"][0] >= t["a"][1] and t["d"][0] >= max(t["b"][1], t["c"][1])  # needs first
    for n, (start, _) in t.items():  # never more than 2 at a time
        assert sum(1 for s, e in t.values() if s <= start < e) <= 2, n
    assert sum("start (process" in ln for ln in lines) == 5 and sum("done in" in ln for ln in lines) == 5
    # everything finished: a re-run starts no child
    again: list[str] = []
    assert run_stage_lists([sl], again.append, jobs=2)[0] == done
    assert all("done before, skipped" in ln for ln in again) and len(again) == 5


@pytest.mark.parametrize("how, code", [("exit", 2), ("kill", 137)])
def test_a_failed_child_stops_scheduling_and_finished_stages_are_reused(tmp_path, how, code):
    plan = {"a": {"needs": [], "sleep": 0.5}, "b": {"needs": [], "fail": how}, "c": {"needs": ["b"]},
            "d": {"needs": ["a"]}}
    stages, sl = _setup(tmp_path, plan)
    lines: list[str] = []
    with pytest.raises(StageFailed) as err:
        run_stage_lists([sl], lines.append, jobs=2)
    assert err.value.code == code
    assert "stage b failed" in str(err.value) and str(tmp_path / "b" / "job.log") in str(err.value)
    if how == "exit":  # the child's error line, without its "vrkit: error:" prefix
        assert "bad input in b" in str(err.value) and "vrkit: error" not in str(err.value)
    assert (tmp_path / "a" / "results.json").is_file()  # the running sibling finished
    assert not (tmp_path / "c").exists() and not (tmp_path / "d").exists()  # nothing new was started
    first = json.loads((tmp_path / "a" / "results.json").read_text())
    plan["b"].pop("fail")
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    lines.clear()
    done = run_stage_lists([sl], lines.append, jobs=2)[0]
    assert done["a"] == first and sorted(done) == ["a", "b", "c", "d"]
    assert [ln for ln in lines if "skipped" in ln] == ["[1/4] x        a: done before, skipped"]


def test_stage_functions_see_only_their_needs_and_needs_are_checked(tmp_path):
    seen: dict[str, list[str]] = {}

    def fn(name):
        def run(sdir: Path, done: dict) -> dict:
            seen[name] = sorted(done)
            return {"v": name}
        return run

    stages = [Stage("a", "x", fn("a"), needs=()), Stage("b", "x", fn("b"), needs=()),
              Stage("c", "x", fn("c"), needs=("b",)), Stage("d", "x", fn("d"))]  # d: every earlier stage
    run_stages(stages, tmp_path)
    assert seen == {"a": [], "b": [], "c": ["b"], "d": ["a", "b", "c"]}
    with pytest.raises(ValueError, match="not earlier stages"):
        run_stages([Stage("a", "x", fn("a"), needs=("b",)), Stage("b", "x", fn("b"))], tmp_path / "later")
    with pytest.raises(ValueError, match="child command"):
        run_stages([Stage("a", "x", fn("a"))], tmp_path / "nocmd", jobs=2)
    # one stage alone: unknown name or unfinished needs are bad input
    with pytest.raises(InputError, match="unknown stage 'nope'"):
        run_one_stage(stages, tmp_path, "nope")
    fresh = tmp_path / "fresh"
    with pytest.raises(InputError, match="needs unfinished stage"):
        run_one_stage(stages, fresh, "c")
    assert run_one_stage(stages, fresh, "b")["b"]["v"] == "b"
    assert sorted(run_one_stage(stages, fresh, "c")) == ["b", "c"]


def test_recipes_declare_their_real_dependencies():
    from vrkit.transfer.pretrain import PretrainSpec
    from vrkit.transfer.pretrain import build_stages as pretrain_stages
    from vrkit.transfer.recipes import RecipeSpec, build_stages

    temporal = waves(build_stages(RecipeSpec("temporal", "samnet", scale="tiny"), 0))
    assert temporal[0] == ["train_canonical", "train_hard"]
    assert temporal[1] == ["test_canonical_on_canonical", "test_canonical_on_hard", "ft_full_hard",
                           "test_hard_on_hard"]
    assert temporal[2:] == [["test_ft_full_on_hard"]]
    feature = waves(build_stages(RecipeSpec("feature", "samnet", scale="tiny", world="clevr"), 0))
    assert feature == [["train_A"], ["test_A_on_A", "test_A_on_B", "ft_full_B"], ["test_ft_full_on_A",
                                                                                  "test_ft_full_on_B"]]
    reasoning = waves(build_stages(RecipeSpec("reasoning", "samnet", scale="tiny", tasks=["Basic", "Compare"]), 0))
    assert reasoning[0] == ["train_all", "train_only__Basic", "train_but__Basic", "train_only__Compare",
                            "train_but__Compare"]
    pretrainings = ["pretrain__ivcl", "pretrain__image_only", "pretrain__attributes", "pretrain__sets"]
    pre = waves(pretrain_stages(PretrainSpec(scale="tiny", pool_epochs=0), 0))
    assert pre[0][:4] == pretrainings
    assert {"finetune__scratch", "finetune__state", "finetune__random_frozen", "probe__random"} <= set(pre[0])
    assert "finetune__ivcl" in pre[1] and "probe__sets" in pre[1] and "test__finetune__ivcl__all" in pre[2]
    pooled = waves(pretrain_stages(PretrainSpec(scale="tiny", pool_epochs=4), 0))  # the pool stages come first
    assert pooled[0][:2] == ["pool__a", "pool__b"] and not set(pretrainings) & set(pooled[0])
    assert pooled[1][:4] == pretrainings and "finetune__ivcl" in pooled[2]


def test_dry_run_with_two_jobs_generates_the_pool_before_the_pretrainings(tmp_path, capsys):
    args = ["transfer", "pretrain", "--scale", "cpu", "--seeds", "0,1", "--out", str(tmp_path / "x"), "--dry-run"]
    assert main([*args, "--jobs", "2"]) == 0
    waves_ = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("  wave ")]
    assert waves_[0].startswith("  wave 1: seed 0 pool__a, seed 0 pool__b, ") and "seed 1 pool__b" in waves_[0]
    assert "pretrain__" not in waves_[0].replace("cog_pretrain__", "")
    assert all(f"seed {s} pretrain__{n}" in waves_[1] for s in (0, 1) for n in ("ivcl", "image_only", "sets"))
    assert not (tmp_path / "x").exists()


def _results(root: Path) -> dict[str, dict]:
    out = {}
    for path in sorted(root.glob("samnet/seed*/*/results.json")):
        res = json.loads(path.read_text())
        res.pop("elapsed_s")  # wall clock: the only field allowed to differ
        out[str(path.relative_to(root))] = res
    return out


def test_two_jobs_give_the_results_of_one(tmp_path, capsys):
    args = ["transfer", "reasoning", "--model", "samnet", "--scale", "tiny", "--tasks", "Basic", "--test-n", "16",
            "--no-report", "--threads", "1"]
    assert main([*args, "--out", str(tmp_path / "one")]) == 0
    assert main([*args, "--out", str(tmp_path / "two"), "--jobs", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("start (process") == 4
    one, two = _results(tmp_path / "one"), _results(tmp_path / "two")
    assert len(one) == 4 and one == two
    assert "torch threads: 1" in (tmp_path / "two/samnet/seed0/train_all/job.log").read_text()
    # a child's own command: an unknown stage is one line, exit 2
    assert main([*args, "--out", str(tmp_path / "two"), "--only-stage", "nope"]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if not ln.startswith("torch threads:")]
    assert len(err) == 1 and "unknown stage 'nope'" in err[0] and "train_all" in err[0]
    assert not (tmp_path / "two/samnet/seed0/nope").exists()


def test_dry_run_shows_which_stages_run_side_by_side(tmp_path, capsys, monkeypatch):
    args = ["transfer", "temporal", "--model", "samnet", "--scale", "tiny", "--seeds", "0,1", "--out",
            str(tmp_path / "x"), "--dry-run"]
    assert main([*args, "--jobs", "3"]) == 0
    out = capsys.readouterr().out
    assert "side by side (--jobs 3" in out
    assert "  wave 1: seed 0 train_canonical, seed 0 train_hard, seed 1 train_canonical, seed 1 train_hard" in out
    assert main(args) == 0
    assert "sequential (--jobs 1)" in capsys.readouterr().out
    monkeypatch.setattr("vrkit.transfer.stages.cpu_cores", lambda: 16)
    assert main([*args, "--jobs", "auto"]) == 0  # 16 cores, but at most 8 stages (wave 2) can run side by side
    assert "side by side (--jobs auto = 8;" in capsys.readouterr().out
    monkeypatch.setattr("vrkit.transfer.stages.cpu_cores", lambda: 3)
    assert main([*args, "--jobs", "auto"]) == 0
    assert "side by side (--jobs auto = 3;" in capsys.readouterr().out
    monkeypatch.setattr("vrkit.transfer.stages.cpu_cores", lambda: 1)
    assert main([*args, "--jobs", "auto"]) == 0
    assert "sequential (--jobs 1)" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main([*args, "--jobs", "0"])
    assert exc.value.code == 2
    assert not (tmp_path / "x").exists()
