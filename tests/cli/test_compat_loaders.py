"""Drop-in for the original tools (issue 13): freshly generated vrkit data goes through each original loader's
file discovery and parsing, replayed here. Each contract is written in this file's own code, with a comment
naming the tool and the file it comes from; a test fails if any entry of a split folder is not what the original
expects. docs/compatibility.md lists the tools and how they were checked.
"""

from __future__ import annotations

import glob
import gzip
import json
import os
import re
from pathlib import Path

import pytest

from vrkit.cli import main
from vrkit.errors import InputError
from vrkit.worlds.cog.io import expand_paths

FAMILIES = "GetColor,ExistShape,GoShape,ExistLastColorSameShape"
SUFFIX = "4_3_1"


def _gen_cog(out: Path, split: str, *extra: str) -> None:
    assert main(["generate", "cog", "--families", FAMILIES, "--n-per-family", "4", "--split", split, "--quiet",
                 "--out", str(out), *extra]) == 0


@pytest.fixture(scope="module", params=["whole", "shards"])
def cog_root(request, tmp_path_factory) -> Path:
    """train (2 files), val and test of one --out, written whole or as 2 shards each."""
    out = tmp_path_factory.mktemp(f"cog_{request.param}")
    for split in ("train", "val", "test"):
        extra = ["--train-files", "2"] if split == "train" else []
        if request.param == "whole":
            _gen_cog(out, split, *extra)
        else:
            for i in range(2):
                _gen_cog(out, split, *extra, "--shard", f"{i}/2")
    return out


def _manifest_examples(out: Path, split_dir: str) -> int:
    return sum(json.loads(p.read_text())["examples"] for p in out.glob(f"manifest.{split_dir}*.json"))


# IBM mi-prometheus, miprometheus/problems/seq_to_seq/video_text_to_class/cog/cog.py (COG.__init__): the folder
# is <data_folder>/<set>_<E>_<M>_<D>. train: every entry of os.listdir is gzip-opened, its text split on "\n"
# and each piece json.loads-ed (then filtered by 'family'). val/test: an entry is read the same way when
# name[4:-8] (the Family of cog_<Family>.json.gz) is a selected task, and skipped otherwise.
def mi_prometheus_load(data_folder: Path, split: str, tasks: set[str]) -> list[dict]:
    folder = data_folder / f"{split}_{SUFFIX}"
    loaded: list[dict] = []
    for entry in os.listdir(folder):
        if split != "train" and entry[4:-8] not in tasks:
            continue
        with gzip.open(folder / entry) as fh:
            pieces = fh.read().decode("utf-8").split("\n")
        examples = [json.loads(piece) for piece in pieces]  # an empty piece (trailing newline) raises here
        loaded += [e for e in examples if e["family"] in tasks]
    return loaded


# google/cog, cognitive/train.py (get_ds_from_files; cognitive/test.py the same for 'test'): glob
# <data_dir>/<type>_* must find exactly one entry; every match of <that>/* is a tf.data.TextLineDataset with GZIP
# compression, and each line goes through train_utils.json_to_feeds (json.loads, then 'question', 'family',
# 'epochs', 'objects'). A trailing newline would make an empty record that json.loads rejects.
def google_cog_load(data_dir: Path, data_type: str) -> list[dict]:
    matches = glob.glob(os.path.join(data_dir, data_type + "_*"))
    assert len(matches) == 1, f"expected one {data_type} directory in {data_dir}, got {matches}"
    records: list[dict] = []
    for name in glob.glob(os.path.join(matches[0], "*")):
        with gzip.open(name, "rt", encoding="utf-8") as fh:
            text = fh.read()
        assert not text.endswith("\n"), f"{name}: trailing empty line"
        for line in text.split("\n"):
            e = json.loads(line)
            assert isinstance(e["question"], str) and isinstance(e["family"], str)
            assert len(e["answers"]) == e["epochs"] and isinstance(e["objects"], list)
            records.append(e)
    return records


@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_cog_split_folders_load_in_the_original_loaders(cog_root, split):
    folder = cog_root / f"{split}_{SUFFIX}"
    names = sorted(os.listdir(folder))
    pattern = r"cog_\d+\.json\.gz" if split == "train" else r"cog_[A-Za-z]+\.json\.gz"
    assert names and all(re.fullmatch(pattern, n) for n in names), names  # nothing else in the folder
    expected = _manifest_examples(cog_root, folder.name)
    assert expected == 4 * 4
    families = set(FAMILIES.split(","))
    assert len(mi_prometheus_load(cog_root, split, families)) == expected
    assert len(google_cog_load(cog_root, split)) == expected  # train.py reads train and val, test.py test
    assert not [p for p in cog_root.iterdir() if re.match(r"(train|val|test)_", p.name) and not p.is_dir()]


def test_cog_manifests_sit_beside_the_split_folders(cog_root):
    manifests = sorted(p.name for p in cog_root.glob("manifest.*.json"))
    shards = "shard" in (manifests[0] if manifests else "")
    want = [f"manifest.{s}_{SUFFIX}{f'.shard-{i}-of-2' if shards else ''}.json"
            for s in ("test", "train", "val") for i in (range(2) if shards else [0])]
    assert manifests == want
    assert [p for p in cog_root.iterdir() if p.is_file() and not p.name.startswith("manifest.")] == []
    assert main(["verify", str(cog_root)]) == 0
    assert len(expand_paths([cog_root])) == 2 + 4 + 4  # train files + one per family in val and test


def test_an_older_layout_still_reads_with_one_notice(tmp_path, capsys):
    _gen_cog(tmp_path, "val")
    split = tmp_path / f"val_{SUFFIX}"
    (tmp_path / f"manifest.val_{SUFFIX}.json").rename(split / "manifest.json")  # as vrkit <= 0.x wrote it
    capsys.readouterr()
    assert len(expand_paths([tmp_path])) == 4
    assert len(expand_paths([split])) == 4
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"vrkit: notice: {split / 'manifest.json'}: manifest in the layout")
    assert main(["verify", str(tmp_path)]) == 0
    assert main(["verify", str(split)]) == 0
    (split / "cog_Extra.json.gz").write_bytes((split / "cog_GetColor.json.gz").read_bytes())
    with pytest.raises(InputError, match="not listed in the split's manifest"):
        expand_paths([split])


def test_verify_names_each_missing_and_extra_file(tmp_path, capsys):
    _gen_cog(tmp_path, "train", "--train-files", "2")
    split = tmp_path / f"train_{SUFFIX}"
    (split / "cog_1.json.gz").unlink()
    (split / "notes.txt").write_text("mine")
    (split / ".DS_Store").write_bytes(b"\0")
    capsys.readouterr()
    assert main(["verify", str(tmp_path)]) == 2
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1] == "verified 1 files, 3 problems"
    assert sorted(out[:-1]) == sorted([
        f"{split / '.DS_Store'}: not a COG data file (a split folder holds only cog_*.json.gz)",
        f"{split / 'notes.txt'}: not a COG data file (a split folder holds only cog_*.json.gz)",
        f"{split / 'cog_1.json.gz'}: listed in manifest.train_{SUFFIX}.json but missing"])
    with pytest.raises(InputError, match="not a COG data file") as err:  # readers never skip unknown files
        expand_paths([tmp_path])
    assert err.value.path == str(split / ".DS_Store")


# ---- CLEVR -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def clevr_root(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("clevr")
    for split, extra in (("train", []), ("val", []), ("test", ["--hide-answers"])):
        assert main(["generate", "clevr", "--n-images", "4", "--questions-per-image", "3", "--size", "32",
                     "--split", split, "--seed", "2", "--quiet", "--out", str(out), *extra]) == 0
    return out


# The released CLEVR_v1.0 layout, read by every consumer below by name: questions/CLEVR_<split>_questions.json,
# scenes/CLEVR_<split>_scenes.json, images/<split>/CLEVR_<split>_NNNNNN.png (the test split ships no scenes).
def test_clevr_layout_is_the_released_one(clevr_root):
    assert sorted(p.name for p in clevr_root.iterdir()) == [
        "images", "manifest.test.json", "manifest.train.json", "manifest.val.json", "questions", "scenes"]
    assert sorted(os.listdir(clevr_root / "scenes")) == ["CLEVR_train_scenes.json", "CLEVR_val_scenes.json"]
    assert sorted(os.listdir(clevr_root / "questions")) == [
        f"CLEVR_{s}_questions.json" for s in ("test", "train", "val")]
    for split in ("train", "val", "test"):
        assert sorted(os.listdir(clevr_root / "images" / split)) == [f"CLEVR_{split}_{i:06d}.png" for i in range(4)]
    test_qs = json.loads((clevr_root / "questions" / "CLEVR_test_questions.json").read_text())["questions"]
    assert test_qs and all("answer" not in q and "program" not in q for q in test_qs)
    assert main(["verify", str(clevr_root)]) == 0


# facebookresearch/clevr-iep, scripts/extract_features.py: every *.png of the image folder is taken, its index is
# the number after the last "_", and the indices must be exactly 0..n-1.
def clevr_iep_image_indices(folder: Path) -> list[int]:
    idx = [int(os.path.splitext(fn)[0].split("_")[-1]) for fn in os.listdir(folder) if fn.endswith(".png")]
    assert len(set(idx)) == len(idx) and sorted(idx) == list(range(len(idx)))
    return idx


# facebookresearch/clevr-iep, scripts/preprocess_questions.py + iep/preprocess.py + iep/programs.py: json.load
# (...)["questions"]; per question 'question' (tokenised: ';' and ',' split off, '?' and '.' removed, split on
# spaces), 'image_index', optional 'question_family_index', 'answer' (a key of the answer vocabulary) and
# 'program' (each node's 'function' plus '[v,...]' of its 'value_inputs'; 'inputs' give the tree).
def clevr_iep_tokens(question: str) -> list[str]:
    for p in (";", ","):
        question = question.replace(p, " " + p)
    for p in ("?", "."):
        question = question.replace(p, "")
    return question.split(" ")


def clevr_iep_program_tokens(program: list[dict]) -> list[str]:
    return [n["function"] + (f"[{','.join(n['value_inputs'])}]" if n["value_inputs"] else "") for n in program]


# mesnico/RelationNetworks-CLEVR, clevr_dataset_connector.py + utils.py: questions and scenes by the released
# names; q['image_filename'] under images/<mode>/; q['answer'].lower() must be one of utils.classes (numbers
# 0-10, materials, colours, shapes, sizes, yes/no); scene objects' attribute values index utils.classes, plus
# '3d_coords'.
RN_CLASSES = {"number": [str(i) for i in range(11)], "material": ["rubber", "metal"],
              "color": ["cyan", "blue", "yellow", "purple", "red", "green", "gray", "brown"],
              "shape": ["sphere", "cube", "cylinder"], "size": ["large", "small"], "exist": ["yes", "no"]}

# kexinyi/ns-vqa, reason/utils/utils.py (load_scenes) + reason/executors/clevr_executor.py: scene 'image_index',
# 'directions' 'right'/'front' dotted with each object's '3d_coords', colour/material/shape/size; an answer is one
# of CLEVR_ANSWER_CANDIDATES of the program's last function.
NS_VQA_ANSWERS = {"count": RN_CLASSES["number"], "query_color": RN_CLASSES["color"],
                  "query_material": RN_CLASSES["material"], "query_size": RN_CLASSES["size"],
                  "query_shape": RN_CLASSES["shape"]}


@pytest.mark.parametrize("split", ["train", "val"])
def test_clevr_consumers_read_a_split(clevr_root, split):
    questions = json.loads((clevr_root / "questions" / f"CLEVR_{split}_questions.json").read_text())["questions"]
    scenes = json.loads((clevr_root / "scenes" / f"CLEVR_{split}_scenes.json").read_text())["scenes"]
    assert len(clevr_iep_image_indices(clevr_root / "images" / split)) == len(scenes) == 4
    for q in questions:
        # clevr-iep
        assert all(clevr_iep_tokens(q["question"])) and isinstance(q["image_index"], int)
        assert isinstance(q["question_family_index"], int) and isinstance(q["answer"], str)
        assert all(set(n) >= {"function", "inputs", "value_inputs"} for n in q["program"])
        assert all(re.fullmatch(r"[a-z_]+(\[[a-z]+\])?", t) for t in clevr_iep_program_tokens(q["program"]))
        # mac-network, preprocess.py (readCLEVR): instance["question"], .get("answer"), .get("program"), image_index
        assert {"question", "image_index"} <= set(q)
        # RelationNetworks-CLEVR
        assert (clevr_root / "images" / split / q["image_filename"]).is_file()
        assert any(q["answer"].lower() in v for v in RN_CLASSES.values())
        # ns-vqa
        last = q["program"][-1]["function"]
        assert q["answer"] in NS_VQA_ANSWERS.get(last, ["yes", "no"])
    for s in scenes:
        assert isinstance(s["image_index"], int) and set(s["directions"]) >= {"right", "front"}
        for o in s["objects"]:
            assert len(o["3d_coords"]) == 3
            for attr in ("color", "material", "shape", "size"):
                assert o[attr] in RN_CLASSES[attr]


def test_an_older_clevr_manifest_still_verifies_with_one_notice(tmp_path, capsys):
    assert main(["generate", "clevr", "--n-images", "2", "--questions-per-image", "2", "--size", "32", "--quiet",
                 "--out", str(tmp_path)]) == 0
    (tmp_path / "manifest.train.json").rename(tmp_path / "manifest.json")  # one manifest for all splits, as before
    capsys.readouterr()
    assert main(["verify", str(tmp_path)]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"vrkit: notice: {tmp_path / 'manifest.json'}: manifest in the")
    (tmp_path / "images" / "train" / "notes.txt").write_text("x")
    (tmp_path / "scenes" / "CLEVR_train_scenes.json").unlink()
    assert main(["verify", str(tmp_path)]) == 2
    out = capsys.readouterr().out.strip().splitlines()
    assert f"{tmp_path / 'images' / 'train' / 'notes.txt'}: not a PNG of this split" in out[0]
    assert any(line.startswith(f"{tmp_path / 'scenes' / 'CLEVR_train_scenes.json'}: listed in manifest.json but "
                               "missing") for line in out)


def test_hiding_the_answers_of_an_existing_split_removes_its_scenes(tmp_path, capsys):
    gen = ["generate", "clevr", "--n-images", "2", "--questions-per-image", "2", "--size", "32", "--quiet",
           "--split", "test", "--out", str(tmp_path)]
    assert main(gen) == 0 and (tmp_path / "scenes" / "CLEVR_test_scenes.json").is_file()
    assert main([*gen, "--hide-answers", "--overwrite"]) == 0
    assert sorted(os.listdir(tmp_path / "scenes")) == []  # the released test split ships no scenes
    assert main(["verify", str(tmp_path)]) == 0
