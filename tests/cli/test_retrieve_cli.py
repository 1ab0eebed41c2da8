"""`vrkit retrieve index|query|eval` end to end on a tiny generated CLEVR split."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from _rcbir_data import N_IMAGES, make_clevr, rn_options, train_tiny

from vrkit.cli import main
from vrkit.retrieval.evaluation import split_queries


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("rcbir_cli")
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        data = make_clevr(root / "clevr")
        ckpt = train_tiny(root / "rn", "relation_net", data, **rn_options())
        for kind in ("2s", "avf", "cnn"):
            assert main(["retrieve", "index", "--ckpt", str(ckpt), "--data", str(data), "--out",
                         str(root / "idx" / kind), "--kind", kind, "--quiet"]) == 0
    finally:
        torch.set_num_threads(n)
    return {"root": root, "data": data, "ckpt": ckpt, "idx": root / "idx"}


def test_index_command_writes_npz_and_sidecar(built, capsys):
    for kind in ("2s", "avf", "cnn"):
        meta = json.loads((built["idx"] / f"{kind}.json").read_text())
        assert meta["kind"] == kind and meta["n"] == N_IMAGES and meta["model"] == "relation_net"
        with np.load(built["idx"] / f"{kind}.npz") as z:
            assert z["features"].shape == (N_IMAGES, meta["dim"])


def test_query_ranks_the_image_itself_first_and_writes_a_grid(built, capsys, one_thread):
    png = built["root"] / "grid.png"
    assert main(["retrieve", "query", str(built["idx"] / "2s.npz"), "--image", "CLEVR_val_000004.png", "-k", "5",
                 "--out", str(png)]) == 0
    out = capsys.readouterr().out.splitlines()
    rows = [line.split() for line in out if re.match(r"^\s+\d+\s", line)]
    assert len(rows) == 5 and [int(r[0]) for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0][1] == "CLEVR_val_000004.png" and float(rows[0][2]) == 0.0 and float(rows[0][3]) == 0.0
    dists = [float(r[2]) for r in rows]
    assert dists == sorted(dists) and len({r[1] for r in rows}) == 5
    assert all(float(r[3]) > 0 for r in rows[1:])  # other scenes are never identical to the query's
    import matplotlib.image as mpimg

    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = mpimg.imread(png)
    assert img.ndim == 3 and img.shape[1] > img.shape[0]  # 6 panels in one row
    assert main(["retrieve", "query", str(built["idx"] / "2s"), "--image", "3", "-k", "2"]) == 0
    assert "CLEVR_val_000003.png" in capsys.readouterr().out.splitlines()[2]


def test_eval_reports_every_index_and_random_sharing_one_ged_table(built, capsys, one_thread):
    cache, out = built["root"] / "ged", built["root"] / "table.md"
    idx = [str(built["idx"] / f"{k}.npz") for k in ("2s", "avf", "cnn")]
    args = ["retrieve", "eval", *idx, str(built["idx"] / "2s.json"), "--queries", "4", "--gallery", "100",
            "--ks", "3,5", "--cache-dir", str(cache), "--workers", "1", "--quiet"]
    assert main([*args, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    md = out.read_text()
    assert md.strip() == printed.strip()
    for name in ("2s (relation_net)", "avf (relation_net)", "cnn (relation_net)", "random"):
        assert md.count(f"| {name} |") == 2  # one row per GED mode, 2s listed once despite two paths
    res = json.loads(out.with_suffix(".json").read_text())
    assert res["queries"] == 4 and res["gallery"] == N_IMAGES - 4 and res["modes"] == ["soft", "hard"]
    assert [r["name"] for r in res["rows"]][-1] == "random" and len(res["rows"]) == 4
    for row in res["rows"]:
        for mode in ("soft", "hard"):
            assert set(row[mode]) == {"spearman", "ndcg@3", "ndcg@5"}
            assert -1 <= row[mode]["spearman"]["mean"] <= 1 and 0 <= row[mode]["ndcg@5"]["mean"] <= 1
    tables = sorted(p.name for p in cache.iterdir())
    assert len(tables) == 2 and tables[0].startswith("ged-hard-") and tables[1].startswith("ged-soft-")
    assert main(args) == 0  # a second run reads the cached tables and gives the same numbers
    assert sorted(p.name for p in cache.iterdir()) == tables
    assert capsys.readouterr().out.strip() == printed.strip()


def test_split_is_seeded_and_disjoint():
    q, g = split_queries(50, 10, 100, seed=3)
    q2, g2 = split_queries(50, 10, 100, seed=3)
    assert (q == q2).all() and (g == g2).all() and len(g) == 40 and not set(q) & set(g)
    assert not (split_queries(50, 10, 100, seed=4)[0] == q).all()


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_bad_index_and_bad_image_exit_2_with_one_line(built, tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip archive")
    (tmp_path / "bad.json").write_text((built["idx"] / "2s.json").read_text())
    for cmd in (["retrieve", "query", str(bad), "--image", "0"], ["retrieve", "eval", str(bad)]):
        assert main(cmd) == 2
        assert str(bad) in _error_line(capsys)
    assert main(["retrieve", "query", str(tmp_path / "nothing.npz"), "--image", "0"]) == 2
    assert "nothing.npz: no such index file" in _error_line(capsys)
    assert main(["retrieve", "query", str(built["idx"] / "cnn"), "--image", "CLEVR_val_999999.png"]) == 2
    assert "is not in the index" in _error_line(capsys)
    assert main(["retrieve", "eval", str(built["idx"] / "cnn"), "--queries", str(N_IMAGES)]) == 2
    assert "leave no gallery" in _error_line(capsys)


def test_eval_refuses_indexes_of_different_images(built, tmp_path, capsys):
    other = tmp_path / "few"
    assert main(["retrieve", "index", "--ckpt", str(built["ckpt"]), "--data", str(built["data"]), "--out",
                 str(other), "--kind", "cnn", "--limit", "6", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["retrieve", "eval", str(built["idx"] / "cnn"), str(other), "--queries", "2"]) == 2
    assert "different images" in _error_line(capsys)


def test_index_of_a_missing_directory_exits_2(built, tmp_path, capsys):
    assert main(["retrieve", "index", "--ckpt", str(built["ckpt"]), "--data", str(tmp_path / "x"), "--out",
                 str(tmp_path / "i")]) == 2
    assert f"{Path(tmp_path / 'x')}: no such file or directory" in _error_line(capsys)


def test_index_pool_mean_max_are_normalised_pairs_and_sum_is_the_raw_vector(built, one_thread):
    from vrkit.engine.evaluate import load_task
    from vrkit.retrieval._images import make_batch, open_image_set
    from vrkit.retrieval.features import extract_index

    feats = {pool: extract_index(built["ckpt"], built["data"], "avf", pool=pool, limit=4) for pool in
             ("mean", "max", "sum")}
    assert [feats[p].meta["pool"] for p in ("mean", "max", "sum")] == ["mean", "max", "sum"]
    assert feats["max"].name == "avf max (relation_net)" and feats["mean"].name == "avf (relation_net)"
    mean, mx = feats["mean"].features, feats["max"].features
    assert (np.linalg.norm(mean, axis=1) <= 1 + 1e-5).all() and (np.abs(mx) <= 1 + 1e-6).all()
    assert (mx >= mean - 1e-6).all() and np.abs(mx - mean).max() > 1e-3  # max over pairs ≥ their mean
    task = load_task(built["ckpt"])
    from vrkit.engine.datamodules.clevr import template_vocab
    from vrkit.retrieval.features import GENERIC_QUESTION

    batch = task.prepare(make_batch(open_image_set(built["data"], None), list(range(4)),
                                    template_vocab().encode(GENERIC_QUESTION), "pixels", task.cfg.data.image_size))
    with torch.no_grad():
        raw = task.model.extract_features(batch, "avf", pool="sum")  # the model's own aggregate
    np.testing.assert_allclose(feats["sum"].features, raw.numpy(), rtol=1e-5, atol=1e-5)
    assert np.abs(feats["sum"].features - mean).max() > 1e-3
