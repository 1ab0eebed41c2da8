"""The COG stage group of ``vrkit transfer pretrain`` (IV-CL fine-tuned on COG condition A, tested on A and B):
end to end at tiny scale, the held-out pairs of the B examples (the combos checker), the head's COG answer
space, accuracy as the mean over families, the small-frame rendering and the dry-run plan."""

from __future__ import annotations

import pytest
import torch

from vrkit.cli import main
from vrkit.transfer.pretrain import PretrainSpec
from vrkit.transfer.pretrain_cog import (
    COG_FT_SEED,
    COG_INITS,
    COG_RECIPE,
    COG_TEST_SEED,
    CONDITIONS,
    build_qa_net,
    cog_accuracy,
    cog_examples,
    cog_set,
    cog_stages,
    qa_logits,
)
from vrkit.worlds.cog.combos import outside
from vrkit.worlds.cog.constants import CLASSIFICATION_FAMILIES, FAMILY_INDEX, INPUT_VOCAB, OUTPUT_VOCAB


def _tiny_model_cfg():
    from vrkit.engine.pretrain import from_tree, model_config
    from vrkit.transfer.pretrain_cog import COG_SIZES
    from vrkit.transfer.pretrain_sizes import pretrain_tree

    return model_config(from_tree(pretrain_tree(COG_SIZES["tiny"], "image_only", 0), "<test>"))


def test_cog_group_runs_end_to_end_at_tiny_scale_and_reports_the_gap(tmp_path, one_thread):
    from vrkit.transfer.pretrain_report import write_pretrain_report
    from vrkit.transfer.stages import run_stages

    spec = PretrainSpec(scale="tiny", seeds=[0], out=tmp_path / "tp")
    done = run_stages(cog_stages(spec, 0), spec.results_dir(0))
    steps = {done[f"cog_finetune__{i}"]["steps"] for i in COG_INITS}
    assert steps == {2}  # 8 examples, batch 4, one epoch: one budget for every initialisation
    for name in ("ivcl", "image_only", "attributes", "sets"):
        assert done[f"cog_pretrain__{name}"]["steps"] == 2
    for init in COG_INITS:
        for split, task in CONDITIONS.items():
            r = done[f"cog_test__cog_finetune__{init}__{split}"]
            assert r["recipe"] == COG_RECIPE and r["task"] == task and r["examples"] == 8
            assert 0.0 <= r["acc"] <= 1.0 and set(r["families"]) <= set(CLASSIFICATION_FAMILIES)
    labels = torch.load(spec.results_dir(0) / "cog_finetune__ivcl" / "test_labels_B.pt")  # what a --jobs test reads
    assert torch.equal(labels["answer"], cog_set("B", 8, COG_TEST_SEED, 32)["answer"])
    text = write_pretrain_report([tmp_path / "tp"])["pretrain"].read_text()
    assert "A−B gap" in text and "| IV-CL |" in text and "| scratch |" in text
    assert "IV-CL has the smallest gap: " in text
    assert (tmp_path / "tp" / "figure_pretrain_cog.png").is_file()


def test_b_examples_use_only_held_out_pairs_and_a_examples_only_seen_ones():
    for split, other in (("A", "B"), ("B", "A")):
        examples = cog_examples(split, 46, COG_TEST_SEED)
        assert {ex["family"] for ex in examples} == set(CLASSIFICATION_FAMILIES)
        for ex in examples:
            assert not outside(ex["objects"], split)  # the checker of vrkit cog check --split-combos
            assert len(outside(ex["objects"], other)) == len(ex["objects"]) > 0
    train = cog_examples("A", 23, COG_FT_SEED)
    assert all(not outside(ex["objects"], "A") for ex in train)
    assert train[0] != cog_examples("A", 1, COG_TEST_SEED)[0]  # the A test examples are fresh


def test_cog_set_is_the_examples_collated():
    from vrkit.worlds.cog.state import encode_question

    examples = cog_examples("B", 5, COG_TEST_SEED)
    data = cog_set("B", 5, COG_TEST_SEED, 32)
    assert data["frames"].shape == (5, 4, 3, 32, 32) and data["frames"].dtype == torch.uint8
    for i, ex in enumerate(examples):
        q = torch.from_numpy(encode_question(ex["question"], pad_to=None))
        assert torch.equal(data["question"][i, :len(q)], q) and int(data["family"][i]) == FAMILY_INDEX[ex["family"]]


def test_cog_sets_are_cached_on_disk_and_loaded_without_generating(tmp_path, monkeypatch):
    from vrkit.transfer import pretrain_cog as pc

    calls = []
    real = pc.cog_examples
    monkeypatch.setattr(pc, "cog_examples", lambda *a: calls.append(a) or real(*a))
    pc._SETS.clear()
    made = cog_set("B", 5, COG_TEST_SEED, 32, tmp_path)
    assert len(calls) == 1 and [p.name[:14] for p in tmp_path.glob("*.pt")] == [f"cog-B-n5-s{COG_TEST_SEED}"[:14]]
    pc._SETS.clear()  # a --jobs child process or a resumed run
    loaded = cog_set("B", 5, COG_TEST_SEED, 32, tmp_path)
    assert len(calls) == 1 and loaded.keys() == made.keys() and all(torch.equal(loaded[k], made[k]) for k in made)
    pc._SETS.clear()
    cog_set("B", 5, COG_TEST_SEED, 16, tmp_path)  # another image size is another set
    assert len(calls) == 2 and len(list(tmp_path.glob("*.pt"))) == 2


def test_pretraining_videos_are_condition_a_cog_frames():
    from vrkit.data.cog import render_frames
    from vrkit.data.cog_video import CogVideoSource

    src = CogVideoSource("canonical-A")
    videos = [src.make(seed, {"size": 32, "frames": 4}) for seed in range(20)]
    assert all(not outside(v.example["objects"], "A") for v in videos)
    assert len({v.example["family"] for v in videos}) > 5
    v = videos[0]
    assert v.frames.shape == (4, 32, 32, 3)
    assert torch.equal(torch.from_numpy(v.frames).permute(0, 3, 1, 2), render_frames(v.example, 32, "uint8"))
    objects, mask, n_cat = src.state(v)
    assert objects.shape[:2] == mask.shape and n_cat == 53 and objects.shape[-1] == 55
    with pytest.raises(ValueError, match="4 frames"):
        src.make(0, {"size": 32, "frames": 16})


def test_small_frames_are_block_means_of_a_larger_rendering():
    from vrkit.data.cog import render_frames

    ex = cog_examples("A", 1, 5)[0]
    small, big = render_frames(ex, 32, "uint8").float(), render_frames(ex, 64, "uint8").float()
    assert (small - big.reshape(4, 3, 32, 2, 32, 2).mean(dim=(3, 5))).abs().max() <= 0.5
    assert small.sum() > 0


def test_head_answers_in_cog_answer_space_and_reads_the_question():
    net = build_qa_net("scratch", None, _tiny_model_cfg(), 0).eval()
    assert net.words.num_embeddings == len(INPUT_VOCAB) and net.head.out_features == len(OUTPUT_VOCAB) == 55
    data = cog_set("A", 4, COG_TEST_SEED, 32)
    logits = qa_logits(net, data)
    assert logits.shape == (4, 4, 55)
    other = dict(data, question=data["question"].roll(1, dims=0), question_len=data["question_len"].roll(1, dims=0))
    assert not torch.allclose(qa_logits(net, other), logits)  # the answer depends on the question


def test_accuracy_is_the_mean_over_families():
    data = cog_set("A", 23, COG_TEST_SEED, 32)
    answer = data["answer"]
    perfect = torch.nn.functional.one_hot(answer.clamp_min(0), 55).float()
    assert cog_accuracy(perfect, data)["acc"] == 1.0
    first = int(data["family"][0])
    one = perfect.clone()
    one[data["family"] != first] = perfect[data["family"] != first].roll(1, dims=-1)  # wrong everywhere else
    families = {int(f) for f, a in zip(data["family"], answer, strict=True) if (a != -100).any()}
    assert cog_accuracy(one, data)["acc"] == pytest.approx(1 / len(families))


def test_dry_run_lists_the_cog_stages(tmp_path, capsys):
    assert main(["transfer", "pretrain", "--scale", "cpu", "--out", str(tmp_path / "x"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "cog_pretrain__ivcl: 2048 fresh COG canonical-A videos" in out
    assert "cog_finetune__scratch: 5000 COG examples" in out and "cog_test__cog_finetune__ivcl__B" in out
    assert "COG: canonical examples" in out and not (tmp_path / "x").exists()
    assert main(["transfer", "pretrain", "--scale", "cpu", "--out", str(tmp_path / "x"), "--dry-run",
                 "--no-cog"]) == 0
    assert not [ln for ln in capsys.readouterr().out.splitlines() if " cog_" in ln or ln.startswith("COG")]


def test_cog_stages_need_only_their_pretraining():
    from vrkit.transfer.pretrain import build_stages
    from vrkit.transfer.stages import waves

    w = waves(build_stages(PretrainSpec(scale="tiny"), 0))
    assert {f"cog_pretrain__{n}" for n in ("ivcl", "image_only", "attributes", "sets")} <= set(w[0])
    assert "cog_finetune__scratch" in w[0] and "cog_finetune__ivcl" in w[1]
    assert {"cog_test__cog_finetune__ivcl__A", "cog_test__cog_finetune__ivcl__B"} <= set(w[2])
    assert not any(n.startswith("cog_") for n in sum(waves(build_stages(PretrainSpec(scale="tiny", cog=False), 0)),
                                                      []))
