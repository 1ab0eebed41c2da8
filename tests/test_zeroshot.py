"""Zero-shot task transfer (TTNet): Γ sources (Dawid–Skene on synthetic raters, Γ files, structure, shuffled),
the meta-learner (gradient through generated parameters, its starting point, learning), and the recipe end to end
at tiny scale (tables, win rates, figures, resume, bad input)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
import yaml

from vrkit.cli import main
from vrkit.errors import InputError
from vrkit.transfer import zeroshot_gamma as zg
from vrkit.transfer.zeroshot import DEFAULT_HELDOUT
from vrkit.transfer.zeroshot_heads import Features, flat, head_module, logits, win_rate
from vrkit.transfer.zeroshot_meta import TTNet, consistency_loss, gamma_average, train_ttnet
from vrkit.worlds.cog.constants import CLASSIFICATION_FAMILIES, FAMILY_RECORDS, GROUPS, POINTING_FAMILIES

PNG = b"\x89PNG\r\n\x1a\n"
FAMS = list(CLASSIFICATION_FAMILIES)


# -- Γ ------------------------------------------------------------------------------------------------------
def _synthetic_votes(rng: np.random.Generator, n_items: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """True classes and the votes of 3 good raters (80 % right), 3 noisy ones (30 %, errors uniform) and one
    that systematically answers the next class (90 %): majority vote is misled, Dawid–Skene should not be."""
    truth = rng.integers(0, 4, n_items)
    votes = []
    for acc in (0.8, 0.8, 0.8, 0.3, 0.3, 0.3):
        wrong = (truth + rng.integers(1, 4, n_items)) % 4
        votes.append(np.where(rng.random(n_items) < acc, truth, wrong))
    votes.append(np.where(rng.random(n_items) < 0.9, (truth + 1) % 4, truth))
    return truth, np.stack(votes, 1)


def test_dawid_skene_recovers_true_labels_and_rater_quality():
    rng = np.random.default_rng(0)
    truth, votes = _synthetic_votes(rng)
    votes[rng.random(votes.shape) < 0.1] = -1  # raters skip some items
    post, conf, prior = zg.dawid_skene(votes, 4)
    ds_acc = float((post.argmax(1) == truth).mean())
    majority = np.array([np.bincount(v[v >= 0], minlength=4).argmax() for v in votes])
    mv_acc = float((majority == truth).mean())
    assert ds_acc >= 0.95 and ds_acc > mv_acc + 0.05
    good = np.array([np.trace(conf[r]) / 4 for r in range(3)])
    assert np.all(np.abs(good - 0.8) < 0.1)
    assert conf[6][np.arange(4), (np.arange(4) + 1) % 4].mean() > 0.8  # the shifting rater is found out
    assert np.allclose(post.sum(1), 1) and np.isclose(prior.sum(), 1)


def test_read_ratings_aggregates_pairs_into_a_symmetric_gamma(tmp_path):
    ratings = {"raters": {
        "a": {"GetColor": {"GetColorSpace": 2, "ExistShape": -1}},
        "b": {"GetColorSpace": {"GetColor": 2}, "GetColor": {"ExistShape": -1}},
        "c": {"GetColor": {"GetColorSpace": 2, "ExistShape": -1}, "Exist": {"ExistShape": 1}}}}
    path = tmp_path / "ratings.yaml"
    path.write_text(yaml.safe_dump(ratings), encoding="utf-8")
    g, info = zg.read_ratings(path, FAMS)
    i = {f: n for n, f in enumerate(FAMS)}
    assert info["rated_pairs"] == 3 and info["raters"] == ["a", "b", "c"]
    assert np.allclose(g, g.T) and np.all(np.diag(g) == 2)
    assert g[i["GetColor"], i["GetColorSpace"]] == pytest.approx(2, abs=0.05)
    assert g[i["ExistShape"], i["GetColor"]] == pytest.approx(-1, abs=0.05)
    assert g[i["GetShape"], i["CompareColor"]] == 0  # nobody rated the pair
    assert g.min() >= -1 and g.max() <= 2


@pytest.mark.parametrize("raters, problem", [
    ({"a": {"GetColor": {"NoSuchFamily": 1}}}, "unknown family 'NoSuchFamily'"),
    ({"a": {"GetColor": {"GetShape": 3}}}, "rating 3 is not one of"),
    ({"a": {"GetColor": {"GetShape": 0.5}}}, "rating 0.5 is not one of"),
])
def test_bad_ratings_name_the_file_and_the_problem(tmp_path, raters, problem):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump({"raters": raters}), encoding="utf-8")
    with pytest.raises(InputError, match=problem) as err:
        zg.read_ratings(path, FAMS)
    assert err.value.path == str(path)


def test_gamma_file_round_trip_in_another_order(tmp_path):
    g = zg.structure_gamma(FAMS)
    rev = FAMS[::-1]
    path = zg.write_gamma(tmp_path / "g.yaml", rev, g[::-1, ::-1])
    assert np.allclose(zg.read_gamma(path, FAMS), g, atol=1e-4)


def _bad_gamma(kind: str) -> dict:
    fams = ["GetColor", "GetShape"]
    return {"unknown": {"families": ["GetColor", "Nope"], "matrix": [[2, 0], [0, 2]]},
            "shape": {"families": fams, "matrix": [[2, 0, 1], [0, 2, 1]]},
            "scale": {"families": fams, "matrix": [[2, 3], [0, 2]]},
            "missing": {"families": fams, "matrix": [[2, 0], [0, 2]]}}[kind]


@pytest.mark.parametrize("kind, problem", [("unknown", "unknown families Nope"), ("shape", "matrix has shape"),
                                           ("scale", "must lie in the scale"), ("missing", "families missing")])
def test_bad_gamma_files(tmp_path, kind, problem):
    path = tmp_path / "g.yaml"
    path.write_text(yaml.safe_dump(_bad_gamma(kind)), encoding="utf-8")
    names = ["GetColor", "GetShape"] if kind != "missing" else FAMS
    with pytest.raises(InputError, match=problem) as err:
        zg.read_gamma(path, names)
    assert err.value.path == str(path)


def test_bad_gamma_file_on_the_command_line_is_one_line_and_exit_2(tmp_path, capsys):
    path = tmp_path / "g.yaml"
    path.write_text(yaml.safe_dump(_bad_gamma("scale")), encoding="utf-8")
    out = tmp_path / "out"
    rc = main(["transfer", "zeroshot", "--scale", "tiny", "--out", str(out), "--gamma", "file",
               "--gamma-file", str(path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert err[-1].startswith(f"vrkit: error: {path}: ") and "Traceback" not in "\n".join(err)
    assert not (out / "samnet").exists()  # refused before any training
    assert main(["transfer", "zeroshot", "--scale", "tiny", "--out", str(out), "--model", "mac"]) == 2
    assert "--model: zero-shot transfer needs a backbone" in capsys.readouterr().err
    assert main(["transfer", "zeroshot", "--scale", "tiny", "--out", str(out), "--heldout", "GoColor"]) == 2
    assert "not: GoColor" in capsys.readouterr().err


def test_structure_gamma_reflects_programs_and_answer_kinds():
    g = zg.structure_gamma(FAMS)
    i = {f: n for n, f in enumerate(FAMS)}
    assert np.allclose(g, g.T) and np.all(np.diag(g) == 2) and g.min() >= -1 and g.max() <= 2
    other_kind = [i[f] for f in FAMS if FAMILY_RECORDS[f].answer != "color"]
    assert g[i["GetColor"], i["GetColorSpace"]] > g[i["GetColor"], other_kind].max()  # same answer, shared ops
    assert g[i["GetColor"], i["GetShape"]] < g[i["GetShapeSpace"], i["GetShape"]]
    assert g[i["ExistColorSpace"], i["ExistShapeSpace"]] > g[i["ExistColorSpace"], i["CompareColor"]]


def test_shuffled_gamma_keeps_values_and_moves_labels():
    g = zg.structure_gamma(FAMS)
    s = zg.shuffled(g, seed=3)
    assert np.allclose(np.sort(s.ravel()), np.sort(g.ravel())) and np.all(np.diag(s) == 2)
    assert not np.allclose(s, g)


def test_scale_gains_maps_onto_the_rating_scale():
    gains = np.array([[0.0, 0.1, -0.2], [0.3, 0.0, 0.0], [0.05, 0.2, 0.0]])
    s = zg.scale_gains(gains)
    assert s[1, 0] == 2 and s[0, 2] == -1 and np.all(np.diag(s) == 2)
    assert s[2, 1] > s[0, 1] > s[1, 2]


def test_default_heldout_is_one_classification_family_per_group():
    groups = [FAMILY_RECORDS[f].group for f in DEFAULT_HELDOUT]
    classification_groups = [g for g, fs in GROUPS.items() if not set(fs) & POINTING_FAMILIES]
    assert sorted(groups) == sorted(classification_groups)


# -- heads and the meta-learner --------------------------------------------------------------------------------
def _toy_frames(n: int, dim: int, classes: int, seed: int) -> Features:
    g = torch.Generator().manual_seed(seed)
    return Features(torch.randn(n, dim, generator=g), torch.randint(classes, (n,), generator=g),
                    torch.arange(n) // 2)


def test_consistency_loss_carries_gradient_through_generated_parameters():
    head = head_module(6, 4, 3, seed=0)
    theta0 = flat(head)
    m, dim = 3, theta0.numel()
    net = TTNet(m, dim, rank=4)
    with torch.no_grad():
        net.up.weight.normal_(0, 0.1)  # a trained net: every part of the output depends on its parameters
    deltas = torch.randn(2, m, dim)
    pred = net(deltas, torch.tensor([[2.0, 0.0, -1.0], [1.0, 1.0, 0.0]]), torch.ones(2, m, dtype=torch.bool))
    loss = consistency_loss(head, theta0, 0.5, pred, [_toy_frames(8, 6, 3, 1), _toy_frames(8, 6, 3, 2)])
    loss.backward()
    for name in ("beta", "source_bias", "scale", "down.weight", "up.weight", "gamma_net.2.weight"):
        grad = dict(net.named_parameters())[name].grad
        assert grad is not None and float(grad.abs().sum()) > 0, name
    # the gradient is the one of the head's own loss at the generated parameters
    vec = (theta0 + 0.5 * pred[0]).detach().requires_grad_(True)
    torch.nn.functional.cross_entropy(logits(head, vec, _toy_frames(8, 6, 3, 1).x), _toy_frames(8, 6, 3, 1).y
                                      ).backward()
    assert float(vec.grad.abs().sum()) > 0


def test_ttnet_starts_as_a_softmax_gamma_weighted_average():
    net = TTNet(3, 5)
    deltas = torch.randn(1, 3, 5)
    gammas = torch.tensor([[2.0, 0.0, -1.0]])
    mask = torch.tensor([[True, True, False]])
    w = torch.softmax(2 * torch.tensor([2.0, 0.0]), 0)
    expect = w[0] * deltas[0, 0] + w[1] * deltas[0, 1]
    assert torch.allclose(net(deltas, gammas, mask)[0], expect, atol=1e-6)
    avg = gamma_average(deltas[0], gammas[0])
    assert torch.allclose(avg, deltas[0, 0])  # only positively related sources count


def test_ttnet_learns_which_sources_to_trust():
    """Tasks come in twins, but Γ misleads: γ = 0 between twins, +1 otherwise. TTNet starts as a softmax Γ-weighted
    average (far from the target); trained in transfer mode it learns to read the twin's parameters."""
    g = torch.Generator().manual_seed(0)
    m, p, dim = 6, 2, 40
    base = torch.randn(m // 2, dim, generator=g)
    deltas = torch.stack([base[i // 2] + 0.05 * torch.randn(p, dim, generator=g) for i in range(m)])
    gamma = torch.ones(m, m)
    for i in range(m):
        gamma[i, i] = 2
        gamma[i, i ^ 1] = 0
    head = head_module(4, 2, 4, seed=0)  # unused: lam = 0
    net, sigma, log = train_ttnet(head, torch.zeros(dim), deltas, gamma, [], steps=300, lam=0.0, self_share=0.0,
                                  seed=0)
    assert log[-1]["regression"] < 0.2 * log[0]["regression"]
    mask = torch.ones(1, m, dtype=torch.bool)
    mask[0, 0] = False
    src = deltas[None, :, 0] / sigma
    pred = net(src, gamma[:, 0][None], mask)[0] * sigma
    start = TTNet(m, dim)(src, gamma[:, 0][None], mask)[0].detach() * sigma
    target = deltas[0, 0]
    assert (pred - target).norm() < 0.3 * (start - target).norm()


def test_win_rate_counts_decisive_examples():
    assert win_rate([1, 0.5, 0, 1], [0, 0.5, 1, 0]) == (2 / 3, 3)
    assert win_rate([1, 1], [1, 1]) == (None, 0)


# -- the recipe end to end -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("zeroshot")
    args = ["transfer", "zeroshot", "--scale", "tiny", "--out", str(out), "--heldout", "GetShape,CompareColor",
            "--threads", "1"]
    assert main(args) == 0
    yield out, args
    torch.set_num_threads(before)


def test_tiny_recipe_tables_win_rates_and_figures(tiny):
    out, _ = tiny
    rows = list(csv.DictReader((out / "results.csv").open(encoding="utf-8")))
    conds = {r["condition"] for r in rows}
    assert {"random head", "shared head (all known)", "nearest task (Γ structure)", "Γ-average (Γ structure)",
            "TTNet (Γ structure)", "TTNet (Γ affinity)", "TTNet (Γ shuffled)", "oracle head",
            "k=4 from random", "k=16 from TTNet"} <= conds
    assert {r["task"] for r in rows} == {"GetShape", "CompareColor"}
    assert all(r["recipe"] == "zeroshot" and r["examples_per_seed"] == "24" for r in rows)
    md = (out / "zeroshot.md").read_text(encoding="utf-8")
    assert "| TTNet (Γ affinity) |" in md and "#### goals" in md and "gap from shared head to oracle" in md
    wr = list(csv.DictReader((out / "winrates.csv").open(encoding="utf-8")))
    assert {r["family"] for r in wr} == {"GetShape", "CompareColor"}
    assert all(r["reference"] == "ttnet_structure" for r in wr)
    for name in ("zeroshot_gamma.png", "zeroshot_sources.png", "figure_zeroshot.png"):
        assert (out / name).read_bytes()[:8] == PNG
    seed = out / "samnet" / "seed0"
    res = json.loads((seed / "test__ttnet_structure__GetShape" / "results.json").read_text(encoding="utf-8"))
    assert len(res["scores"]) == res["examples"] == 24 and 0 <= res["acc"] <= 1
    assert res["acc"] == pytest.approx(sum(res["scores"]) / 24, abs=0.2)  # frame vs example mean
    curve = json.loads((seed / "sources" / "results.json").read_text(encoding="utf-8"))
    assert sorted(map(int, curve["accuracy"])) == [2, 4, 21]
    names = [f for f in FAMS if f not in ("GetShape", "CompareColor")] + ["GetShape", "CompareColor"]
    for src in ("structure", "affinity", "shuffled"):
        g = zg.read_gamma(seed / "gamma" / f"gamma_{src}.yaml", names)
        assert g.shape == (23, 23) and np.all(np.diag(g) == 2)
    backbone = json.loads((seed / "train_backbone" / "results.json").read_text(encoding="utf-8"))
    assert "GetShape" not in backbone["families"] and len(backbone["families"]) == 21


def test_tiny_recipe_resumes_and_refuses_other_settings(tiny, capsys):
    out, args = tiny
    assert main([*args, "--no-report"]) == 0
    log = (out / "samnet" / "seed0" / "stages.log").read_text(encoding="utf-8").splitlines()
    n_stages = sum(1 for ln in log if " done " in ln)
    assert sum(1 for ln in log if " skip " in ln) == n_stages  # the second run recomputed nothing
    capsys.readouterr()
    assert main([*args, "--gamma", "affinity"]) == 2
    assert "made with other settings (gamma)" in capsys.readouterr().err


def _summary(acc: dict[str, float], win: float = 0.6) -> dict:
    return {"rows": [{"method": m, "label": m, "mean": a, "std": 0.0, "seeds": 1, "win_rate": win, "decisive": 10}
                     for m, a in acc.items()]}


def test_goals_state_whether_each_holds():
    from vrkit.transfer.zeroshot_report import goals

    acc = {"shared": 0.5, "nearest": 0.55, "gamma_average": 0.56, "ttnet_structure": 0.6, "oracle": 0.7,
           "ttnet_shuffled": 0.52, "k16_random": 0.4, "k16_ttnet": 0.62, "k256_random": 0.9, "k256_ttnet": 0.5}
    text = "\n".join(goals(_summary(acc), "structure"))
    assert text.count("does not hold") == 0 and "closed: 50 %" in text and "256-shot" not in text
    acc.update(oracle=0.45, ttnet_shuffled=0.65)  # no gap to close; the control wins
    lines = goals(_summary(acc, win=0.4), "structure")
    assert all(ln.endswith("does not hold") for ln in lines if "beats" in ln or "oracle" in ln or "shuffled" in ln)
    assert lines[-1].endswith("— holds")  # 16-shot
