"""R-CBIR feature indexes: extraction per image for every kind, file format, determinism, bad input."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import torch
from _rcbir_data import N_IMAGES, make_clevr, rn_options, train_tiny

from vrkit.errors import InputError
from vrkit.retrieval.features import extract_index, index_paths, load_index, save_index
from vrkit.retrieval.graphs import load_scene_graphs, pack
from vrkit.utils.atomic import sha256_file


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("rcbir_feat")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VRKIT_CACHE_DIR", str(root / "cache"))
        n = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            data = make_clevr(root / "clevr")
            rn = train_tiny(root / "rn", "relation_net", data, **rn_options())
            sam = train_tiny(root / "sam", "samnet")
        finally:
            torch.set_num_threads(n)
    return {"root": root, "data": data, "rn": rn, "sam": sam}


def test_one_vector_per_image_for_every_rn_kind(setup, one_thread):
    scenes = json.loads((setup["data"] / "scenes" / "CLEVR_val_scenes.json").read_text())["scenes"]
    dims = {}
    for kind in ("2s", "avf", "cnn", "cnn-untrained"):
        ix = extract_index(setup["rn"], setup["data"], kind, batch_size=5)
        assert ix.features.dtype == np.float32 and ix.features.shape[0] == N_IMAGES
        assert np.isfinite(ix.features).all()
        assert ix.filenames == [s["image_filename"] for s in scenes]
        assert ix.scene_indices.tolist() == [s["image_index"] for s in scenes]
        assert ix.graphs.sizes.tolist() == [len(s["objects"]) for s in scenes]
        assert ix.meta["checkpoint_sha256"] == sha256_file(setup["rn"]) and ix.meta["split"] == "val"
        dims[kind] = ix.features.shape[1]
    assert dims["2s"] == dims["avf"] == 32  # g width of the small config
    assert dims["cnn"] == dims["cnn-untrained"] == 2 * 16  # mean + max of the last CNN layer's 16 channels
    graphs = pack(load_scene_graphs(setup["data"] / "scenes" / "CLEVR_val_scenes.json"))
    assert ix.graphs.digest() == graphs.digest()


def test_rn_features_are_question_free_and_match_the_model(setup, one_thread):
    a = extract_index(setup["rn"], setup["data"], "2s", batch_size=4)
    b = extract_index(setup["rn"], setup["data"], "2s", question="Is there a big red cube behind the sphere?")
    np.testing.assert_array_equal(a.features, b.features)
    avf = extract_index(setup["rn"], setup["data"], "avf", pool="sum")
    assert not np.allclose(avf.features, a.features)
    # pool "sum" (and 2s, pooled in-network before the question here): the same vectors as the model's own
    # forward pass with each image's real questions
    from vrkit.data.clevr import ClevrDataset, collate_clevr
    from vrkit.engine.evaluate import load_task

    task = load_task(setup["rn"])
    ds = ClevrDataset(setup["data"], "val", path="pixels", image_size=32)
    items = [ds[i] for i in range(len(ds))]
    with torch.no_grad():
        trace = task.model(collate_clevr(items), trace=True)["trace"]
    pos = {int(s): i for i, s in enumerate(a.scene_indices)}
    rows = [pos[int(i)] for i in ds.questions.image_index]
    np.testing.assert_allclose(trace["2s"][:, 0].numpy(), a.features[rows], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(trace["avf"][:, 0].numpy(), avf.features[rows], rtol=1e-4, atol=1e-5)


def test_summary_depends_on_the_question_and_official_sample_indexes(setup, clevr_sample, one_thread):
    s1 = extract_index(setup["sam"], clevr_sample, "summary")
    s2 = extract_index(setup["sam"], clevr_sample, "summary", question="What color is the large cube?")
    assert s1.features.shape == (60, 32) and s1.meta["path"] == "state" and s1.meta["images"] is None
    assert not np.allclose(s1.features, s2.features)
    cnn = extract_index(setup["sam"], clevr_sample, "cnn")
    assert cnn.features.shape == (60, 64) and cnn.filenames[0].startswith("CLEVR_")
    with pytest.raises(InputError, match="has no image directory"):  # the sample has no images
        extract_index(setup["rn"], clevr_sample, "2s")


def test_save_is_deterministic_and_round_trips(setup, tmp_path, one_thread):
    paths = []
    for name in ("a", "b"):
        ix = extract_index(setup["rn"], setup["data"], "2s", label="2S")
        paths.append(save_index(ix, tmp_path / name / "idx"))
    (a_npz, a_js), (b_npz, b_js) = paths
    assert a_npz.read_bytes() == b_npz.read_bytes() and a_js.read_bytes() == b_js.read_bytes()
    back = load_index(a_npz)
    np.testing.assert_array_equal(back.features, ix.features)
    assert back.filenames == ix.filenames and back.name == "2S"
    assert back.graphs.digest() == ix.graphs.digest()
    assert index_paths(tmp_path / "x.json") == (tmp_path / "x.npz", tmp_path / "x.json")


def test_bad_index_files_name_the_file(setup, tmp_path, one_thread):
    npz, side = save_index(extract_index(setup["rn"], setup["data"], "cnn", limit=4), tmp_path / "i")
    with pytest.raises(InputError, match="no such index file") as e:
        load_index(tmp_path / "missing.npz")
    assert str(tmp_path / "missing.npz") in str(e.value)
    good = npz.read_bytes()
    npz.write_bytes(good[: len(good) // 2])
    with pytest.raises(InputError, match="corrupt index file") as e:
        load_index(npz)
    assert str(npz) in str(e.value) and "\n" not in str(e.value)
    with zipfile.ZipFile(npz, "w") as zf:  # a valid archive of other content
        zf.writestr("features.npy", b"nonsense")
    with pytest.raises(InputError, match="corrupt index file"):
        load_index(npz)
    npz.write_bytes(good)
    side.write_text(side.read_text().replace('"npz_sha256": "', '"npz_sha256": "0'))
    with pytest.raises(InputError, match="does not match its sidecar"):
        load_index(npz)
    side.unlink()
    with pytest.raises(InputError, match="index sidecar not found") as e:
        load_index(npz)
    assert str(side) in str(e.value)


def test_kind_and_layout_errors(setup, tmp_path):
    with pytest.raises(InputError, match="'summary' features need a samnet or mac checkpoint"):
        extract_index(setup["rn"], setup["data"], "summary")
    with pytest.raises(InputError, match="unknown feature kind"):
        extract_index(setup["rn"], setup["data"], "pixels")
    root = tmp_path / "two"
    (root / "scenes").mkdir(parents=True)
    for split in ("trainA", "valB"):
        (root / "scenes" / f"CLEVR_{split}_scenes.json").write_text('{"info": {}, "scenes": []}')
    with pytest.raises(InputError, match=r"give a split \(available: trainA, valB\)"):
        extract_index(setup["rn"], root, "2s")
    with pytest.raises(InputError, match="no scenes for split 'val'"):
        extract_index(setup["rn"], root, "2s", split="val")
    with pytest.raises(InputError, match="no such file or directory"):
        extract_index(setup["rn"], tmp_path / "nowhere", "2s")
    with pytest.raises(InputError, match="no such checkpoint"):
        extract_index(tmp_path / "none.ckpt", setup["data"], "2s")
