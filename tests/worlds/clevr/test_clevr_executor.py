"""CLEVR official I/O, program executor and `vrkit clevr check`."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from vrkit.cli import main
from vrkit.errors import InputError
from vrkit.worlds.clevr import io
from vrkit.worlds.clevr.executor import INVALID, SceneIndex, answer, execute


def _node(fn, inputs=(), value=None):
    return {"function": fn, "inputs": list(inputs), "value_inputs": [] if value is None else [value]}


def _obj(size, color, material, shape, x, y):
    return {"size": size, "color": color, "material": material, "shape": shape,
            "3d_coords": [x, y, 0.7 if size == "large" else 0.35], "rotation": 0.0, "pixel_coords": [0, 0, 0.0]}


@pytest.fixture()
def tiny_scene():
    objs = [_obj("large", "red", "metal", "cube", 0, 0), _obj("small", "red", "rubber", "sphere", 2, 0),
            _obj("large", "blue", "rubber", "sphere", -2, 0)]
    # hand-made relationships: object 1 is right of 0, object 2 left of 0 (j in rel[i] <=> j is rel of i)
    rels = {"left": [[2], [0, 2], []], "right": [[1], [], [0, 1]], "behind": [[], [], []], "front": [[], [], []]}
    return {"objects": objs, "relationships": rels, "image_index": 0}


def test_official_sample_all_agree(clevr_sample: Path):
    _, scenes = io.read_scenes(clevr_sample / "scenes.json")
    _, qs = io.read_questions(clevr_sample / "questions.json")
    assert len(scenes) == 60 and len(qs) == 600
    idx = {s["image_index"]: SceneIndex(s) for s in scenes}
    wrong = [q for q in qs if answer(q["program"], idx[q["image_index"]]) != q["answer"]]
    assert wrong == []
    assert {q["answer"] for q in qs} >= {"yes", "no", "0", "1"}


def test_unique_fails_on_zero_or_many(tiny_scene):
    red = [_node("scene"), _node("filter_color", [0], "red"), _node("unique", [1])]
    assert execute(red, SceneIndex(tiny_scene))[-1] is INVALID  # two red objects
    green = [_node("scene"), _node("filter_color", [0], "green"), _node("unique", [1])]
    assert execute(green, SceneIndex(tiny_scene))[-1] is INVALID  # none
    prog = [_node("scene"), _node("filter_color", [0], "blue"), _node("unique", [1]), _node("query_shape", [2])]
    assert answer(prog, tiny_scene) == "sphere"
    assert answer(red + [_node("query_shape", [2])], tiny_scene) is None


def test_same_excludes_self_and_relate(tiny_scene):
    base = [_node("scene"), _node("filter_color", [0], "blue"), _node("unique", [1])]
    assert answer(base + [_node("same_shape", [2]), _node("count", [3])], tiny_scene) == "1"
    assert answer(base + [_node("same_color", [2]), _node("exist", [3])], tiny_scene) == "no"
    cube = [_node("scene"), _node("filter_shape", [0], "cube"), _node("unique", [1])]
    assert answer(cube + [_node("same_color", [2]), _node("filter_shape", [3], "sphere"),
                          _node("unique", [4]), _node("query_size", [5])], tiny_scene) == "small"
    # relate reads the scene's relationships: what is left of the cube is object 2 (blue)
    assert answer(cube + [_node("relate", [2], "left"), _node("unique", [3]), _node("query_color", [4])],
                  tiny_scene) == "blue"
    assert answer(cube + [_node("relate", [2], "behind"), _node("count", [3])], tiny_scene) == "0"


def test_comparisons_and_set_ops(tiny_scene):
    p = [_node("scene"), _node("filter_color", [0], "red"), _node("count", [1]),
         _node("scene"), _node("filter_shape", [3], "sphere"), _node("count", [4])]
    assert answer(p + [_node("equal_integer", [2, 5])], tiny_scene) == "yes"
    assert answer(p + [_node("less_than", [2, 5])], tiny_scene) == "no"
    p2 = [_node("scene"), _node("filter_color", [0], "red"), _node("scene"), _node("filter_size", [2], "large")]
    assert answer(p2 + [_node("union", [1, 3]), _node("count", [4])], tiny_scene) == "3"
    assert answer(p2 + [_node("intersect", [1, 3]), _node("count", [4])], tiny_scene) == "1"


def _run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out.strip().splitlines(), err


def test_cli_check_ok_and_disagree(clevr_sample: Path, tmp_path: Path, capsys):
    s, q = str(clevr_sample / "scenes.json"), str(clevr_sample / "questions.json")
    rc, lines, _ = _run(capsys, "clevr", "check", "--scenes", s, "--questions", q)
    assert rc == 0 and lines[-1] == "checked 600 questions, 0 disagree"
    data = json.loads(Path(q).read_text())
    bad = copy.deepcopy(data)
    for k in (3, 17):
        bad["questions"][k]["answer"] = "no" if bad["questions"][k]["answer"] != "no" else "yes"
    (tmp_path / "q.json").write_text(json.dumps(bad))
    rc, lines, _ = _run(capsys, "clevr", "check", "--scenes", s, "--questions", str(tmp_path / "q.json"))
    assert rc == 1 and lines[-1] == "checked 600 questions, 2 disagree"


def test_nan_rotation_is_bad_input_in_check_and_show(clevr_sample: Path, tmp_path: Path, capsys):
    text = (clevr_sample / "scenes.json").read_text()
    data = json.loads(text)
    data["scenes"][2]["objects"][0]["rotation"] = float("nan")
    bad = tmp_path / "scenes.json"
    bad.write_text(json.dumps(data))  # json writes NaN, and json.loads reads it back
    rc, _, err = _run(capsys, "clevr", "check", "--scenes", str(bad), "--questions",
                      str(clevr_sample / "questions.json"))
    assert rc == 2 and str(bad) in err and "scenes[2].objects[0]" in err and "rotation" in err
    rc, _, err = _run(capsys, "show", "clevr", "--scenes", str(bad), "--index", "2", "--out",
                      str(tmp_path / "x.png"))
    assert rc == 2 and str(bad) in err and not (tmp_path / "x.png").exists()


def test_bad_input_exit_2_names_file(clevr_sample: Path, tmp_path: Path, capsys):
    data = json.loads((clevr_sample / "scenes.json").read_text())
    data["scenes"][12]["objects"][3]["color"] = "pinkish"
    bad = tmp_path / "scenes.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"scenes\[12\]\.objects\[3\]: unknown color 'pinkish'"):
        io.read_scenes(bad)
    rc, _, err = _run(capsys, "clevr", "check", "--scenes", str(bad), "--questions",
                      str(clevr_sample / "questions.json"))
    assert rc == 2 and str(bad) in err and "pinkish" in err
    qdata = json.loads((clevr_sample / "questions.json").read_text())
    qdata["questions"][5]["program"][1]["function"] = "filter_smell"
    qbad = tmp_path / "questions.json"
    qbad.write_text(json.dumps(qdata))
    rc, _, err = _run(capsys, "clevr", "check", "--scenes", str(clevr_sample / "scenes.json"),
                      "--questions", str(qbad))
    assert rc == 2 and "questions[5].program[1]" in err and str(qbad) in err
    (tmp_path / "broken.json").write_text("{not json")
    rc, _, err = _run(capsys, "clevr", "check", "--scenes", str(tmp_path / "broken.json"),
                      "--questions", str(qbad))
    assert rc == 2 and "broken.json" in err


def test_questions_roundtrip_and_test_split(tmp_path: Path):
    prog = [_node("scene"), _node("count", [0])]
    qs = [{"question_index": 0, "image_index": 0, "question": "How many?", "answer": "3", "program": prog},
          {"question_index": 1, "image_index": 0, "question": "How many?"}]
    io.write_questions(tmp_path / "q.json", qs, io.make_info("test"))
    info, back = io.read_questions(tmp_path / "q.json")
    assert back == qs and info["split"] == "test"
    raw = {"questions": [{"image_index": 0, "answer": True,
                          "program": [{"type": "scene", "inputs": [], "side_inputs": []},
                                      {"type": "exist", "inputs": [0]}]}]}
    (tmp_path / "raw.json").write_text(json.dumps(raw))
    _, back = io.read_questions(tmp_path / "raw.json")
    assert back[0]["answer"] == "yes" and back[0]["program"][1] == _node("exist", [0])
    wrong_type = {"questions": [{"image_index": 0, "program": [_node("scene"), _node("relate", [0], "left")]}]}
    (tmp_path / "wt.json").write_text(json.dumps(wrong_type))
    with pytest.raises(InputError, match=r"questions\[0\]\.program\[1\]"):
        io.read_questions(tmp_path / "wt.json")
