"""`vrkit pretrain ivcl` and `vrkit transfer pretrain` end to end at tiny scale on a stand-in world
(tests/_cater_fake.py), the per-epoch video stream, resume, and bad input (one line, exit 2)."""

from __future__ import annotations

import json

import pytest
import torch
from _cater_fake import FakeSource

from vrkit.cli import main
from vrkit.data.cater import CaterStream, WorldSource

TINY = ["model.preset=tiny", "data.image_size=32", "data.frames=4", "data.train_n=8", "data.val_n=4",
        "data.batch_size=4", "data.workers=0", "trainer.max_epochs=1"]


@pytest.fixture
def fake_world(monkeypatch):
    fake = FakeSource()
    for name in ("make", "state", "sizes"):
        monkeypatch.setattr(WorldSource, name, lambda self, *a, _n=name: getattr(fake, _n)(*a))
    return fake


def test_stream_is_seeded_per_epoch():
    fake = FakeSource()
    s = CaterStream(3, seed=7, world={"size": 32, "frames": 4}, source=fake)
    a = [s[i]["frames"] for i in range(3)]
    assert torch.equal(s[1]["frames"], a[1])  # the same item twice
    s.set_epoch(1)
    assert not torch.equal(s[1]["frames"], a[1])  # fresh videos next epoch
    s.set_epoch(0)
    assert torch.equal(s[1]["frames"], a[1])
    with pytest.raises(IndexError):
        s[3]


def test_pretrain_ivcl_writes_curves_reconstructions_and_encoder_and_resumes(tmp_path, fake_world, one_thread):
    out = tmp_path / "run"
    assert main(["pretrain", "ivcl", "--out", str(out), *TINY]) == 0
    for name in ("loss_curve.csv", "reconstruction.png", "encoder.pt", "config.yaml", "checkpoints/last.ckpt"):
        assert (out / name).is_file(), name
    rows = (out / "loss_curve.csv").read_text().splitlines()
    assert rows[0] == "step,train_loss,train_loss_epoch,val_loss" and len(rows) > 1
    blob = torch.load(out / "encoder.pt", weights_only=False)
    assert blob["config"]["temporal"] and not any(k.startswith("decoder.") for k in blob["state_dict"])
    first = json.loads((out / "final_metrics.json").read_text())
    assert main(["pretrain", "ivcl", "--out", str(out), "--resume", "trainer.max_epochs=2"]) == 0
    again = json.loads((out / "final_metrics.json").read_text())
    assert (first["epochs"], again["epochs"]) == (1, 2) and again["steps"] == 2 * first["steps"]


def test_pretrain_ivcl_bad_input_is_one_line_and_exit_2(tmp_path, fake_world, capsys):
    out = tmp_path / "run"
    assert main(["pretrain", "ivcl", "--out", str(out), *TINY, "model.mask_ratio=1.5"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "mask_ratio" in err and not out.exists()
    assert main(["pretrain", "ivcl", "--out", str(out), "--resume"]) == 2
    assert "nothing to resume" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [1, 2\n")
    assert main(["pretrain", "ivcl", "--out", str(out), "--config", str(bad)]) == 2
    assert "invalid YAML" in capsys.readouterr().err
    assert main(["pretrain", "ivcl", "--out", str(out), *TINY, "data.nope=1"]) == 2
    assert "data.nope" in capsys.readouterr().err


def test_tiny_transfer_pretrain_end_to_end(tmp_path, one_thread, monkeypatch):
    from vrkit.transfer.pretrain import PretrainSpec, run_pretrain_recipe
    from vrkit.transfer.pretrain_fit import INITS, PROBES
    from vrkit.transfer.pretrain_report import write_pretrain_report

    spec = PretrainSpec(scale="tiny", seeds=[0], out=tmp_path / "tp", source=FakeSource())
    done = run_pretrain_recipe(spec)[0]
    for init in INITS:
        for sub in ("all", "contained"):
            r = done[f"test__finetune__{init}__{sub}"]
            assert r["recipe"] == "pretrain" and 0 <= r["top1"] <= r["top5"] <= 1 or r["examples"] == 0
    assert done["test__finetune__ivcl__all"]["examples"] == 8
    steps = {done[f"finetune__{i}"]["steps"] for i in INITS}
    assert steps == {2}  # one budget for every initialisation
    frozen = done["finetune__random_frozen"]["trainable_parameters"]
    assert frozen < done["finetune__scratch"]["trainable_parameters"]
    assert all(done[f"probe__{p}"]["trainable_parameters"] == 2 * 32 * 36 + 36 for p in PROBES)
    paths = write_pretrain_report([tmp_path / "tp"])
    text = paths["pretrain"].read_text()
    assert "| IV-CL |" in text and "state path (upper bound)" in text and "Linear probes" in text
    assert paths["figure_pretrain"].is_file() and "pretrain" in paths["csv"].read_text()
    again = run_pretrain_recipe(spec)[0]  # resumable: nothing recomputed
    assert again["finetune__ivcl"]["elapsed_s"] == done["finetune__ivcl"]["elapsed_s"]
    # a test stage alone (a --jobs child) reads the labels its fine-tuning stage saved, not a regenerated set
    (tmp_path / "tp/ivcl/seed0/test__finetune__ivcl__contained/results.json").unlink()
    monkeypatch.setattr("vrkit.transfer.pretrain.fixed_set", lambda *a: pytest.fail("test set regenerated"))
    alone = run_pretrain_recipe(spec, only="test__finetune__ivcl__contained")[0]["test__finetune__ivcl__contained"]
    assert {k: alone[k] for k in ("top1", "top5", "examples")} == \
        {k: done["test__finetune__ivcl__contained"][k] for k in ("top1", "top5", "examples")}
    assert main(["report", str(tmp_path / "tp"), "--out", str(tmp_path / "r.html")]) == 0
    assert "snitch" in (tmp_path / "r.html").read_text()


def test_transfer_pretrain_dry_run_prints_the_plan(tmp_path, capsys):
    assert main(["transfer", "pretrain", "--scale", "cpu", "--out", str(tmp_path / "x"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "pretrain__ivcl: 1024 pooled videos" in out and "finetune__state" in out and "probe__random" in out
    assert "20 min each" in out and not (tmp_path / "x").exists()
    assert f"cached: the fixed sets in {tmp_path / 'x/ivcl/sets'}/" in out and "~393 MB per seed" in out
    # cpu default: a pool of 8 epochs generated by two stages before the pretrainings, its size stated
    assert "seed 0 data     pool__a: pool epoch(s) 0-3 of the pretraining stream: 4 x 1024 = 4,096 videos " \
           "generated (~805 MB on disk)" in out and "pool__b: pool epoch(s) 4-7" in out
    assert f"8,192 videos per seed in {tmp_path / 'x/ivcl'}/seed<s>/video_pool/ (~1,611 MB per seed)" in out
    assert "reads pool epoch e mod 8" in out
    assert main(["transfer", "pretrain", "--scale", "cpu", "--out", str(tmp_path / "x"), "--dry-run",
                 "--pool-epochs", "0"]) == 0  # the fresh stream stays available
    out = capsys.readouterr().out
    assert "pretrain__ivcl: 1024 fresh videos" in out and " pool" not in out.split("videos: ")[0]
    assert "pretraining videos: fresh every epoch, generated by each pretraining inside its budget" in out
    assert main(["transfer", "pretrain", "--scale", "cpu", "--out", str(tmp_path / "x"), "--dry-run",
                 "--pool-epochs", "-1"]) == 2
    assert "pool epochs must be >= 0" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:  # argparse: one usage line, exit 2
        main(["transfer", "pretrain", "--scale", "huge", "--out", str(tmp_path / "x")])
    assert exc.value.code == 2


def test_fixed_sets_are_generated_once_per_results_directory_and_loaded_from_disk(tmp_path, capsys):
    from vrkit.transfer import pretrain as tp

    fake = FakeSource()
    spec = tp.PretrainSpec(scale="tiny", out=tmp_path / "tp", source=fake)
    tp._SETS.clear()
    made = tp.fixed_set(spec, 6, 5)
    assert fake.made == 6
    files = sorted((tmp_path / "tp/ivcl/sets").glob("*.pt"))
    assert [f.name.startswith("cater-n6-s5-") for f in files] == [True]
    tp._SETS.clear()  # as in a --jobs child process or a resumed run
    loaded = tp.fixed_set(spec, 6, 5)
    assert fake.made == 6  # read from disk: the generator was not called again
    assert loaded.keys() == made.keys() and all(torch.equal(loaded[k], made[k]) for k in made)
    tp._SETS.clear()
    tp.fixed_set(spec, 6, 6)  # another stream seed is another set
    assert fake.made == 12 and len(list((tmp_path / "tp/ivcl/sets").glob("*.pt"))) == 2
    # a truncated cache file is regenerated (one line on stderr naming it) and rewritten whole
    files[0].write_bytes(files[0].read_bytes()[:100])
    tp._SETS.clear()
    again = tp.fixed_set(spec, 6, 5)
    err = capsys.readouterr().err.splitlines()
    assert fake.made == 18 and len(err) == 1 and str(files[0]) in err[0] and "regenerating" in err[0]
    assert all(torch.equal(again[k], made[k]) for k in made)
    tp._SETS.clear()
    tp.fixed_set(spec, 6, 5)
    assert fake.made == 18 and capsys.readouterr().err == ""


def test_a_cache_file_of_another_key_or_size_is_not_used(tmp_path, capsys):
    from vrkit.data.set_cache import cached_set, set_key, set_path

    calls = []

    def make(n):
        calls.append(n)
        return {"x": torch.arange(n)}

    key = set_key(n=3, stream_seed=1)
    assert torch.equal(cached_set(tmp_path, "s", key, lambda: make(3))["x"], torch.arange(3))
    path = set_path(tmp_path, "s", key)
    torch.save({"key": set_key(n=3, stream_seed=2), "data": {"x": torch.arange(3)}}, path)  # wrong key
    cached_set(tmp_path, "s", key, lambda: make(3))
    torch.save({"key": key, "data": {"x": torch.arange(2)}}, path)  # wrong number of rows
    cached_set(tmp_path, "s", key, lambda: make(3))
    assert calls == [3, 3, 3] and capsys.readouterr().err.count("regenerating") == 2
    assert torch.equal(cached_set(tmp_path, "s", key, lambda: make(3))["x"], torch.arange(3)) and len(calls) == 3
    assert cached_set(None, "s", key, lambda: make(3)) and len(calls) == 4  # no directory: nothing cached


def test_a_stage_in_a_new_process_loads_the_sets_instead_of_generating_them(tmp_path, one_thread):
    from vrkit.transfer import pretrain as tp

    fake = FakeSource()
    spec = tp.PretrainSpec(scale="tiny", seeds=[0], out=tmp_path / "tp", source=fake, cog=False)
    done = tp.run_pretrain_recipe(spec)[0]
    assert len(list((tmp_path / "tp/ivcl/sets").glob("*.pt"))) == 2  # the fine-tuning and the test set
    logits = tmp_path / "tp/ivcl/seed0/finetune__scratch/test_logits.pt"
    first = torch.load(logits)
    (tmp_path / "tp/ivcl/seed0/finetune__scratch/results.json").unlink()
    tp._SETS.clear()  # what a --jobs child starts with
    before = fake.made
    alone = tp.run_pretrain_recipe(spec, only="finetune__scratch")[0]["finetune__scratch"]
    assert fake.made == before  # no video generated for a stage that only fine-tunes
    assert {k: alone[k] for k in ("steps", "epoch_losses")} == {k: done["finetune__scratch"][k]
                                                                 for k in ("steps", "epoch_losses")}
    assert torch.equal(torch.load(logits), first)  # the same sets, so the same network and predictions


def test_video_pool_holds_the_stream_videos_and_generates_each_once(tmp_path):
    world = {"size": 32, "frames": 4}
    plain = CaterStream(70, 3, world, state=True, source=FakeSource())  # 70: a full pool file and a partial one
    first, second = FakeSource(), FakeSource()
    pooled = CaterStream(70, 3, world, state=True, source=first, pool=tmp_path)
    no_state = CaterStream(70, 3, world, state=False, source=second, pool=tmp_path)  # an MAE run on the pool
    for epoch in (0, 1):
        for s in (plain, pooled, no_state):
            s.set_epoch(epoch)
        for k in (0, 5, 63, 64, 69):
            want, got, bare = plain[k], pooled[k], no_state[k]
            assert got.keys() == want.keys() and all(torch.equal(got[x], want[x]) for x in want)
            assert set(bare) == {"frames", "snitch_cell", "contained", "actions"}
            assert all(torch.equal(bare[x], want[x]) for x in bare)
    assert first.made == 2 * 70 and second.made == 0  # every video generated once, by the first stream
    assert len(list(tmp_path.glob("cater-s3-e*-c*.pt"))) == 4


def test_a_stream_with_pool_epochs_cycles_through_a_fixed_set_of_epochs(tmp_path):
    world = {"size": 32, "frames": 4}
    plain = CaterStream(5, 3, world, state=True, source=FakeSource())
    cyc = CaterStream(5, 3, world, state=True, source=FakeSource(), pool=tmp_path, pool_epochs=2)
    frames = {}
    for epoch in range(5):
        cyc.set_epoch(epoch)
        frames[epoch] = torch.stack([cyc[k]["frames"] for k in range(5)])
    for e in (0, 1):
        plain.set_epoch(e)
        assert torch.equal(frames[e], torch.stack([plain[k]["frames"] for k in range(5)]))  # pool epoch e = stream's
    assert torch.equal(frames[2], frames[0]) and torch.equal(frames[4], frames[0])  # epoch P reads pool epoch 0
    assert torch.equal(frames[3], frames[1]) and not torch.equal(frames[1], frames[0])
    assert cyc.generated == 2 * 5 and len(list(tmp_path.glob("*.pt"))) == 2  # P epochs made once, then read
    with pytest.raises(ValueError, match="pool_epochs >= 0"):
        CaterStream(5, 3, world, pool_epochs=-1)


def _pool_spec(tmp_path, name, pool_epochs, source=None):
    from vrkit.transfer.pretrain import PretrainSpec

    return PretrainSpec(scale="tiny", out=tmp_path / name, source=source or FakeSource(), cog=False,
                        pool_epochs=pool_epochs)


def test_pool_stages_hold_the_stream_videos_and_pretrainings_generate_none(tmp_path, one_thread):
    from vrkit.data.cater import CaterStream
    from vrkit.engine.datamodules.cater import split_seed
    from vrkit.transfer.pretrain import build_stages, pool_stream
    from vrkit.transfer.pretrain_sizes import PRETRAININGS
    from vrkit.transfer.stages import run_stages

    runs = {}
    for pool in (0, 1):  # tiny: one epoch of 8 videos, so the pool holds exactly what the fresh stream shows
        spec = _pool_spec(tmp_path, f"p{pool}", pool)
        stages = build_stages(spec, 0)
        names = [st.name for st in stages][:4 + pool]
        assert names == ["pool"] * pool + [f"pretrain__{n}" for n in PRETRAININGS]
        assert all(st.needs == ("pool",) * pool for st in stages[pool:4 + pool])
        done = run_stages(stages[:pool], spec.results_dir(0))  # the pool stage alone
        made = spec.source.made
        done = run_stages(stages[:4 + pool], spec.results_dir(0))
        runs[pool] = (made, spec.source.made, {k: (v["steps"], v["train_loss"]) for k, v in done.items()
                                               if k.startswith("pretrain__")})
        if pool:
            assert done["pool"]["videos_generated"] == 8 and done["pool"]["pool_bytes"] > 8 * 4 * 3 * 32 * 32
            assert all(done[f"pretrain__{n}"]["pool_epochs"] == 1 for n in PRETRAININGS)
            # the pool file's videos are the stream's, byte for byte
            pooled, fresh = pool_stream(spec, 0), CaterStream(8, split_seed(0, "train"), {"size": 32, "frames": 4},
                                                              state=True, source=FakeSource())
            for k in range(8):
                assert all(torch.equal(pooled[k][x], fresh[k][x]) for x in fresh[k])
            assert pooled.generated == 0
    assert runs[0][:2] == (0, 4 * 8)  # without a pool every pretraining generates its videos
    assert runs[1][:2] == (8, 8)  # the pool stage generates them once; the four pretrainings generate none
    assert runs[1][2] == runs[0][2]  # the same videos, so the same steps and losses
    assert len(list((tmp_path / "p1/ivcl/seed0/video_pool").glob("*.pt"))) == 1


def test_pool_stages_split_the_epochs_resume_and_never_read_a_partial_file(tmp_path, one_thread, capsys):
    from vrkit.transfer.pretrain import build_stages, pool_parts
    from vrkit.transfer.stages import run_stages

    assert pool_parts(0) == [] and pool_parts(1) == [("pool", [0])]
    assert pool_parts(5) == [("pool__a", [0, 1, 2]), ("pool__b", [3, 4])]
    spec = _pool_spec(tmp_path, "p", 3)
    stages = build_stages(spec, 0)
    assert [st.name for st in stages[:2]] == ["pool__a", "pool__b"]
    assert stages[2].name == "pretrain__ivcl" and stages[2].needs == ("pool__a", "pool__b")
    lines = []
    done = run_stages(stages[:2], spec.results_dir(0), lines.append)
    assert [done[n]["videos_generated"] for n in ("pool__a", "pool__b")] == [16, 8]
    files = sorted((spec.results_dir(0) / "video_pool").glob("*.pt"))
    assert len(files) == 3 and spec.source.made == 24
    again = run_stages(stages[:2], spec.results_dir(0), lines.append)  # resumed: finished pool stages are skipped
    assert again == done and spec.source.made == 24 and sum("done before, skipped" in ln for ln in lines) == 2
    # a pool stage killed while writing: finished files stay, a temp file is ignored, a truncated file (a copy
    # made outside vrkit) fails the loader's checks and is generated again
    (spec.results_dir(0) / "pool__a" / "results.json").unlink()
    (files[0].parent / f".{files[0].name}.999999.x.tmp").write_bytes(b"partial")
    good = torch.load(files[1], weights_only=True)["data"]
    files[1].write_bytes(files[1].read_bytes()[:1000])
    redo = run_stages(stages[:2], spec.results_dir(0))["pool__a"]
    assert redo["videos_generated"] == 8 and spec.source.made == 32
    assert "unusable cached set" in capsys.readouterr().err
    again = torch.load(files[1], weights_only=True)["data"]
    assert again.keys() == good.keys() and all(torch.equal(again[k], good[k]) for k in good)

