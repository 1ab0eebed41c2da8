"""CLEVR data: `vrkit generate clevr` (layout, manifest, same bytes for any worker count, CoGenT palettes) and
the torch dataset / collate over generated and official files."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from vrkit.cli import main
from vrkit.data.clevr import ANSWER_INDEX, QTYPE_INDEX, STATE_FEATURES, ClevrDataset, collate_clevr
from vrkit.data.clevr_vocab import ClevrVocab, tokenize
from vrkit.errors import InputError
from vrkit.worlds.clevr.constants import ANSWERS, COGENT, COLORS, MATERIALS, SHAPES, SIZES, question_type
from vrkit.worlds.clevr.io import read_questions, read_scenes
from vrkit.worlds.clevr.render import render_scene
from vrkit.worlds.clevr.writer import ClevrGenerateConfig, generate_clevr, make_scene, read_manifest


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _cfg(out: Path, **kw) -> ClevrGenerateConfig:
    base = dict(n_images=6, questions_per_image=3, width=64, height=64, seed=3, out=str(out))
    base.update(kw)
    return ClevrGenerateConfig(**base)


@pytest.fixture(scope="module")
def gen_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("clevr")
    generate_clevr(_cfg(root))
    return root


def test_same_bytes_for_any_worker_count(gen_root: Path, tmp_path: Path):
    stages: dict[str, int] = {}
    generate_clevr(_cfg(tmp_path, workers=2, images_per_task=2),
                   progress=lambda s, n: stages.__setitem__(s, stages.get(s, 0) + n))
    assert stages == {"images": 6, "questions": 6}
    a, b = _files(gen_root), _files(tmp_path)
    assert a == b and len(a) == 6 + 3
    other = tmp_path / "seed4"
    generate_clevr(_cfg(other, seed=4))
    assert _files(other)["scenes/CLEVR_train_scenes.json"] != a["scenes/CLEVR_train_scenes.json"]


def test_layout_and_manifest(gen_root: Path):
    names = sorted(p.name for p in (gen_root / "images" / "train").iterdir())
    assert names == [f"CLEVR_train_{i:06d}.png" for i in range(6)]
    img = cv2.imread(str(gen_root / "images/train/CLEVR_train_000002.png"), cv2.IMREAD_UNCHANGED)
    assert img.shape == (64, 64, 3) and img.dtype == np.uint8
    raw = (gen_root / "scenes/CLEVR_train_scenes.json").read_bytes()
    assert json.dumps(json.loads(raw)).encode() == raw  # streamed writer = json.dumps of the whole file
    info, scenes = read_scenes(gen_root / "scenes/CLEVR_train_scenes.json")
    assert info["split"] == "train" and info["date"] == ""
    assert [s["image_filename"] for s in scenes] == names and all("render" in s for s in scenes)
    _, qs = read_questions(gen_root / "questions/CLEVR_train_questions.json")
    assert [q["question_index"] for q in qs] == list(range(len(qs)))
    assert 6 <= len(qs) <= 18 and all(1 <= sum(q["image_index"] == i for q in qs) <= 3 for i in range(6))

    m = read_manifest(gen_root)
    e = m["splits"]["train"]
    assert (e["images"], e["questions"], e["seed"], e["condition"]) == (6, len(qs), 3, "unrestricted")
    assert sum(e["question_types"].values()) == len(qs)
    for f in e["files"].values():
        assert hashlib.sha256((gen_root / f["path"]).read_bytes()).hexdigest() == f["sha256"]
    combined = hashlib.sha256("".join(
        f"{n} {hashlib.sha256((gen_root / 'images/train' / n).read_bytes()).hexdigest()}\n" for n in names
    ).encode()).hexdigest()
    assert e["images_sha256"] == combined


def test_manifest_keeps_other_splits_and_splits_differ(tmp_path: Path):
    generate_clevr(_cfg(tmp_path, n_images=2, questions_per_image=1, split="train"))
    generate_clevr(_cfg(tmp_path, n_images=2, questions_per_image=1, split="val"))
    m = read_manifest(tmp_path)
    assert sorted(m["splits"]) == ["train", "val"]
    _, tr = read_scenes(tmp_path / "scenes/CLEVR_train_scenes.json")
    _, va = read_scenes(tmp_path / "scenes/CLEVR_val_scenes.json")
    assert tr[0]["objects"] != va[0]["objects"] and va[1]["image_filename"] == "CLEVR_val_000001.png"
    with pytest.raises(InputError, match=r"give a split \(available: train, val\)"):
        ClevrDataset(tmp_path, path="state")


def test_clevr_check_passes(gen_root: Path, capsys):
    rc = main(["clevr", "check", "--scenes", str(gen_root / "scenes/CLEVR_train_scenes.json"),
               "--questions", str(gen_root / "questions/CLEVR_train_questions.json")])
    assert rc == 0 and ", 0 disagree" in capsys.readouterr().out


def test_cogent_palettes_and_split_names(tmp_path: Path):
    for cond in ("A", "B"):
        cfg = _cfg(tmp_path, condition=cond, split="val")
        assert cfg.name == f"val{cond}"
        for i in range(25):
            for o in make_scene(cfg, i)["objects"]:
                assert o["color"] in COGENT[cond][o["shape"]]
    generate_clevr(_cfg(tmp_path, condition="B", split="test", n_images=3, questions_per_image=2))
    _, scenes = read_scenes(tmp_path / "scenes/CLEVR_testB_scenes.json")
    objs = [o for s in scenes for o in s["objects"]]
    assert all(o["color"] in COGENT["B"][o["shape"]] for o in objs)
    assert (tmp_path / "images/testB/CLEVR_testB_000002.png").is_file()
    assert read_manifest(tmp_path)["splits"]["testB"]["condition"] == "B"


@pytest.mark.parametrize("path", ["pixels", "state"])
def test_dataset_contract_on_generated(gen_root: Path, path: str):
    ds = ClevrDataset(gen_root, "train", path=path, image_size=32)
    _, qs = read_questions(gen_root / "questions/CLEVR_train_questions.json")
    assert len(ds) == len(qs) and ds.questions.unknown_tokens == 0
    batch = next(iter(DataLoader(ds, batch_size=4, collate_fn=collate_clevr)))
    B = 4
    L = max(len(tokenize(q["question"])) for q in qs[:B])
    assert batch["question"].shape == (B, L) and batch["question"].dtype == torch.int64
    assert batch["question_len"].tolist() == [len(tokenize(q["question"])) for q in qs[:B]]
    assert batch["answer"].shape == (B, 1) and batch["answer"][:, 0].tolist() == [ANSWER_INDEX[q["answer"]]
                                                                                 for q in qs[:B]]
    assert batch["point"].shape == (B, 1, 2) and not batch["point_mask"].any()
    assert batch["family"].tolist() == [q["question_family_index"] for q in qs[:B]]
    want = [QTYPE_INDEX[question_type(q["program"][-1]["function"])] for q in qs[:B]]
    assert batch["qtype"].tolist() == want
    assert ds.vocab.decode(batch["question"][0]) == " ".join(tokenize(qs[0]["question"]))
    if path == "pixels":
        f = batch["frames"]
        assert f.shape == (B, 1, 3, 32, 32) and f.dtype == torch.float32 and f.min() >= 0 and f.max() <= 1
    else:
        _, scenes = read_scenes(gen_root / "scenes/CLEVR_train_scenes.json")
        n = [len(scenes[q["image_index"]]["objects"]) for q in qs[:B]]
        assert batch["objects"].shape == (B, 1, max(n), STATE_FEATURES)
        assert batch["object_mask"].sum(-1)[:, 0].tolist() == n


def test_pixels_full_size_match_the_scene(gen_root: Path):
    ds = ClevrDataset(gen_root, "train", path="pixels", image_size=64, pixel_norm="uint8")
    _, scenes = read_scenes(gen_root / "scenes/CLEVR_train_scenes.json")
    k = int(ds.questions.image_index[-1])
    frame = ds[len(ds) - 1]["frames"][0].permute(1, 2, 0).numpy()  # (64, 64, 3)
    assert np.array_equal(frame, render_scene(scenes[k], 64, 64))  # scenes keep the camera: exact re-render


def test_state_features_encode_the_scene(gen_root: Path):
    ds = ClevrDataset(gen_root, "train", path="state")
    _, scenes = read_scenes(gen_root / "scenes/CLEVR_train_scenes.json")
    item = ds[0]
    objs = scenes[int(ds.questions.image_index[0])]["objects"]
    x = item["objects"][0]
    assert x.shape == (len(objs), 18) and item["object_mask"].all()
    sizes, colors, mats, shapes = x[:, :2], x[:, 2:10], x[:, 10:12], x[:, 12:15]
    for j, o in enumerate(objs):
        assert SIZES[int(sizes[j].argmax())] == o["size"] and COLORS[int(colors[j].argmax())] == o["color"]
        assert MATERIALS[int(mats[j].argmax())] == o["material"]
        assert SHAPES[int(shapes[j].argmax())] == o["shape"]
        assert torch.allclose(x[j, 15:], torch.tensor(o["3d_coords"], dtype=torch.float32) / 3)
    assert float(x[:, :15].sum()) == 4 * len(objs)


def test_official_sample_state_without_images(clevr_sample: Path):
    ds = ClevrDataset(clevr_sample, path="state")
    _, qs = read_questions(clevr_sample / "questions.json")
    assert len(ds) == len(qs) == 600
    assert ds.questions.unknown_tokens < 0.01 * sum(len(tokenize(q["question"])) for q in qs)
    fam = ds.family_indices()
    assert sorted(set(fam.tolist())) == list(range(90))  # all 90 templates, raw index converted to global id
    types = [QTYPE_INDEX[question_type(q["program"][-1]["function"])] for q in qs]
    assert ds.qtypes().tolist() == types
    assert ds.answer_labels().tolist() == [ANSWERS.index(q["answer"]) for q in qs]
    batch = collate_clevr([ds[i] for i in range(0, 600, 75)])
    assert batch["objects"].shape[:2] == (8, 1) and batch["objects"].shape[3] == STATE_FEATURES
    with pytest.raises(InputError, match="image directory"):
        ClevrDataset(clevr_sample, path="pixels")
    vq = ClevrVocab.from_questions(clevr_sample / "questions.json")
    loose = [clevr_sample / "questions.json", clevr_sample / "scenes.json"]
    files = ClevrDataset(loose, path="state", vocab=vq)
    assert files.questions.unknown_tokens == 0 and len(files) == 600


def test_hidden_answers_test_split(tmp_path: Path):
    generate_clevr(_cfg(tmp_path, split="test", n_images=3, questions_per_image=4, hide_answers=True))
    _, qs = read_questions(tmp_path / "questions/CLEVR_test_questions.json")
    assert qs and all("answer" not in q and "program" not in q for q in qs)
    ds = ClevrDataset(tmp_path, path="pixels", image_size=16)  # the only split: no name needed
    assert ds.split == "test" and (ds.answer_labels() == -1).all()
    assert ds[0]["answer"].tolist() == [-100]
    assert (ds.qtypes() >= 0).all()  # type from the family's template when the program is absent


def test_vocab_roundtrip_and_errors(tmp_path: Path):
    v = ClevrVocab.from_templates()
    assert v.tokens[:2] == ["<pad>", "<unk>"] and v == ClevrVocab.from_templates()
    assert {"cubes", "blocks", "things", "matte", "shiny", "?", ";"} <= set(v.tokens)
    v.save(tmp_path / "v.json")
    assert ClevrVocab.load(tmp_path / "v.json") == v
    (tmp_path / "bad.json").write_text('{"tokens": ["a"]}')
    with pytest.raises(InputError, match="bad.json"):
        ClevrVocab.load(tmp_path / "bad.json")
    assert v.encode("Is there a zorblax?").tolist()[-2] == 1


def test_cli_generate_and_bad_input(tmp_path: Path, capsys):
    out = tmp_path / "cli"
    rc = main(["generate", "clevr", "--condition", "A", "--n-images", "2", "--questions-per-image", "2",
               "--size", "32", "--width", "40", "--split", "val", "--seed", "1", "--workers", "2", "--quiet",
               "--out", str(out)])
    assert rc == 0 and (out / "images/valA/CLEVR_valA_000001.png").is_file()
    assert cv2.imread(str(out / "images/valA/CLEVR_valA_000000.png")).shape == (32, 40, 3)
    capsys.readouterr()
    for bad in (["--n-images", "0"], ["--condition", "C"], ["--split", "dev"],
                ["--questions-per-image", "91"], ["--size", "4"], ["--workers", "0"]):
        assert main(["generate", "clevr", "--quiet", "--out", str(out), *bad]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("vrkit: error:")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no questions JSON"):
        ClevrDataset(tmp_path / "empty", path="state")
    with pytest.raises(InputError, match="no questions for split 'trainA'"):
        ClevrDataset(out, "trainA", path="state")


def test_official_rgba_png_resized(clevr_sample: Path, tmp_path: Path):
    rgba = np.zeros((320, 480, 4), dtype=np.uint8)
    rgba[..., :3] = (10, 200, 30)  # BGR on disk
    rgba[..., 3] = 255
    cv2.imwrite(str(tmp_path / "CLEVR_new_000000.png"), rgba)
    files = {"questions": clevr_sample / "questions.json", "scenes": clevr_sample / "scenes.json",
             "images": tmp_path}
    ds = ClevrDataset(files, path="pixels", image_size=(32, 48))
    assert int(ds.questions.image_index[0]) == 0
    f = ds[0]["frames"]
    assert f.shape == (1, 3, 32, 48)
    assert torch.allclose(f[0, :, 5, 7], torch.tensor([30, 200, 10]) / 255.0)
    missing = next(i for i in range(len(ds)) if int(ds.questions.image_index[i]) == 1)
    with pytest.raises(InputError, match="CLEVR_new_000001.png: image not found"):
        ds[missing]
