"""The independent COG answer checker: parser, evaluator rules, agreement with the official sample, CLI."""

from __future__ import annotations

import copy
import gzip
from pathlib import Path

import pytest

from vrkit.cli import main
from vrkit.worlds.cog import io
from vrkit.worlds.cog.checker import (
    And,
    Exist,
    GetColor,
    GetShape,
    Go,
    If,
    QuestionSyntaxError,
    Rel,
    Same,
    Sel,
    check_example,
    diff_example,
    evaluate,
    family_lookback,
    parse_question,
    template_problem,
    to_text,
)
from vrkit.worlds.cog.constants import COLORS, FAMILIES, FIXED_SCENE_FAMILIES

VARIANTS = {"val_4_3_1": 3, "val_8_7_10": 7}


@pytest.fixture(scope="module")
def sample(cog_sample: Path) -> dict[str, list[dict]]:
    return {v: [ex for f in io.expand_paths([cog_sample / v]) for ex in io.iter_file(f)] for v in VARIANTS}


def obj(color: str, shape: str, x: float, y: float, epochs, distractor: bool = False) -> dict:
    return {"color": color, "epochs": epochs, "is_distractor": distractor, "location": [x, y], "shape": shape}


def answers(question: str, objects: list[dict], epochs: int = 4, lookback: int = 3) -> list:
    return evaluate(parse_question(question), objects, epochs, lookback)


# -- the official sample ---------------------------------------------------------------------------
#: One case per sample folder and family, so a failure names its family.
PER_FAMILY = pytest.mark.parametrize(("variant", "family"), [(v, f) for v in sorted(VARIANTS) for f in FAMILIES])


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_official_sample_holds_every_family(sample, variant):
    examples = sample[variant]
    assert len(examples) == 44 * 50 and {ex["family"] for ex in examples} == set(FAMILIES)


@PER_FAMILY
def test_official_sample_agrees_on_every_frame(sample, variant, family):
    m = VARIANTS[variant]
    for ex in (ex for ex in sample[variant] if ex["family"] == family):
        assert diff_example(ex, family_lookback(ex["family"], m)) == [], ex["question"]
        assert check_example(ex) == [], ex["question"]  # default look-back epochs - 1 == M


@PER_FAMILY
def test_round_trip_and_templates_on_sample(sample, variant, family):
    for ex in (ex for ex in sample[variant] if ex["family"] == family):
        q = ex["question"]
        assert to_text(parse_question(q)) == q
        assert template_problem(q, ex["family"]) is None
        other = "Go" if ex["family"] != "Go" else "GoShape"
        assert template_problem(q, other) is not None


def test_fixed_scene_lookback_makes_no_difference(sample):
    for variant, examples in sample.items():
        fixed = [ex for ex in examples if ex["family"] in FIXED_SCENE_FAMILIES]
        assert len(fixed) == 5 * 50
        for ex in fixed:
            results = {
                str(evaluate(parse_question(ex["question"]), ex["objects"], ex["epochs"], m))
                for m in (3, 4, 7)
            }
            assert len(results) == 1, (variant, ex["question"])


def test_sample_detects_a_shorter_lookback(sample):
    for variant, m in VARIANTS.items():
        bad = sum(
            1
            for ex in sample[variant]
            if ex["family"] not in FIXED_SCENE_FAMILIES and check_example(ex, m - 1)
        )
        assert bad > 0, variant


# -- mutations of sample examples ------------------------------------------------------------------
def test_flipped_answer_is_reported(sample):
    ex = copy.deepcopy(next(e for e in sample["val_4_3_1"] if e["family"] == "ExistColor"))
    ex["answers"][2] = "false" if ex["answers"][2] == "true" else "true"
    assert check_example(ex) == [2]
    pt = copy.deepcopy(next(e for e in sample["val_8_7_10"] if e["family"] == "GoShape"))
    t = next(i for i, a in enumerate(pt["answers"]) if isinstance(a, list))
    pt["answers"][t] = [pt["answers"][t][0] + 1e-6, pt["answers"][t][1]]
    assert check_example(pt) == [t]


def test_unknown_question_word_is_bad_input_not_a_disagreement(sample, tmp_path, capsys):
    import json

    ex = copy.deepcopy(next(e for e in sample["val_4_3_1"] if e["family"] == "ExistColor"))
    ex["question"] = ex["question"].replace("exist", "exists", 1)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(ex) + "\n")
    assert main(["cog", "check", str(bad)]) == 2  # as eval and training: exit 2, one line with file and line
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{bad}:1:" in err and "'exists'" in err


def test_recoloured_relevant_object_is_reported(sample):
    ex = copy.deepcopy(next(e for e in sample["val_4_3_1"] if e["family"] == "GoColor"))
    t = next(i for i, a in enumerate(ex["answers"]) if isinstance(a, list))
    target = next(o for o in ex["objects"] if o["location"] == ex["answers"][t] and not o["is_distractor"])
    target["color"] = next(c for c in COLORS if c not in ex["question"].split())
    assert t in check_example(ex)


# -- hand-made examples, one rule each --------------------------------------------------------------
def test_and_quirk_invalid_first_conjunct_takes_second_value():
    q = "color of now n equal color of last1 s and color of now p equal color of now f ?"
    objs = [
        obj("red", "n", 0.2, 0.2, 0),
        obj("red", "s", 0.4, 0.4, 0),
        obj("blue", "p", 0.6, 0.6, [0, 1, 2, 3]),
        obj("blue", "f", 0.8, 0.8, [0, 1, 2, 3]),
        obj("green", "n", 0.2, 0.2, 1),
        obj("green", "n", 0.3, 0.3, 2),
        obj("blue", "n", 0.7, 0.3, 2),
    ]
    # frame 0: P invalid (last1) -> Q true; frame 1: P green==red false -> false;
    # frame 2: P invalid (two n) -> Q.
    assert answers(q, objs)[:3] == ["true", "false", "true"]
    # P false short-circuits an invalid Q; P true passes an invalid Q through.
    q2 = "color of now n equal red and color of now q equal blue ?"
    assert answers(q2, [obj("green", "n", 0.5, 0.5, 0), obj("red", "n", 0.5, 0.5, 1)], epochs=2) == [
        "false",
        "invalid",
    ]


def test_last1_at_frame_zero_is_invalid_and_lookback_edge():
    objs = [obj("red", "circle", 0.5, 0.5, 0)]
    assert (
        answers("color of last1 circle ?", objs, epochs=8, lookback=3)
        == ["invalid"] + ["red"] * 4 + ["invalid"] * 3
    )
    assert answers("color of latest circle ?", objs, epochs=8, lookback=3) == ["red"] * 4 + ["invalid"] * 4
    assert answers("color of now circle ?", objs, epochs=8, lookback=3) == ["red"] + ["invalid"] * 7
    # no time word searches like latest
    assert answers("point red object", objs, epochs=8, lookback=3) == [[0.5, 0.5]] * 4 + ["invalid"] * 4


@pytest.mark.parametrize(
    "space, x, y, inside",
    [
        ("left", 0.3, 0.5, True),
        ("left", 0.5, 0.5, False),
        ("left", 0.05, 0.5, False),
        ("left", 0.3, 0.95, False),
        ("right", 0.7, 0.5, True),
        ("right", 0.95, 0.5, False),
        ("right", 0.5, 0.5, False),
        ("right", 0.7, 0.05, False),
        ("top", 0.5, 0.3, True),
        ("top", 0.5, 0.5, False),
        ("top", 0.5, 0.05, False),
        ("top", 0.95, 0.3, False),
        ("bottom", 0.5, 0.7, True),
        ("bottom", 0.5, 0.95, False),
        ("bottom", 0.05, 0.7, False),
        ("bottom", 0.5, 0.5, False),
    ],
)
def test_region_inequalities_are_strict_and_clipped(space, x, y, inside):
    objs = [obj("red", "circle", 0.5, 0.5, 0), obj("blue", "square", x, y, 0)]
    got = answers(f"now square on {space} of now circle exist ?", objs, epochs=1)
    assert got == ["true" if inside else "false"]


def test_getters_need_exactly_one_object():
    one, two = (
        [obj("red", "circle", 0.2, 0.2, 0)],
        [obj("red", "circle", 0.2, 0.2, 0), obj("red", "circle", 0.7, 0.7, 0)],
    )
    assert answers("color of now circle ?", [], epochs=1) == ["invalid"]
    assert answers("color of now circle ?", one, epochs=1) == ["red"]
    assert answers("color of now circle ?", two, epochs=1) == ["invalid"]
    assert answers("now circle exist ?", two, epochs=1) == ["true"]
    # a relation reference must be unique too; an empty selection is not invalid but an invalid reference is
    q = "now square on left of now circle exist ?"
    assert answers(q, [obj("red", "circle", 0.2, 0.2, 0)], epochs=1) == ["false"]
    assert answers(q, two, epochs=1) == ["invalid"]


def test_first_non_empty_frame_only():
    objs = [
        obj("red", "circle", 0.2, 0.2, 0),
        obj("blue", "circle", 0.7, 0.7, 0),
        obj("green", "circle", 0.5, 0.5, 1),
    ]
    assert answers("color of latest circle ?", objs, epochs=2) == ["invalid", "green"]


def test_distractors_are_invisible():
    objs = [
        obj("red", "circle", 0.2, 0.2, 0),
        obj("red", "circle", 0.7, 0.7, 0, distractor=True),
        obj("blue", "square", 0.5, 0.5, 1, distractor=True),
    ]
    assert answers("point now red circle", objs, epochs=2) == [[0.2, 0.2], "invalid"]
    assert answers("now blue square exist ?", objs, epochs=2) == ["false", "false"]


def test_invalid_operator_attribute_makes_selection_invalid():
    objs = [obj("red", "p", 0.5, 0.5, 0)]
    assert answers("now p with color of now square exist ?", objs, epochs=1) == ["invalid"]
    objs.append(obj("red", "square", 0.2, 0.2, 0))
    assert answers("now p with color of now square exist ?", objs, epochs=1) == ["true"]


def test_if_takes_only_the_chosen_branch():
    q = "if now red object exist , then point blue object , else point last1 green object ."
    objs = [obj("red", "a", 0.1, 0.2, 1), obj("blue", "b", 0.3, 0.4, [0, 1]), obj("green", "c", 0.5, 0.6, 0)]
    assert answers(q, objs, epochs=3) == ["invalid", [0.3, 0.4], [0.5, 0.6]]
    q2 = "if color of now a equal red , then point blue object , else point green object ."
    assert answers(q2, objs, epochs=2) == ["invalid", [0.3, 0.4]]


# -- the parser ------------------------------------------------------------------------------------
def test_parser_builds_the_expected_trees():
    x = parse_question("last1 object with color of now object and with shape of now object exist ?")
    now = Sel(when="now")
    assert x == Exist(Sel(GetColor(now), GetShape(now), "last1"))
    q = parse_question(
        "if now pink object exist and now mint object exist , then point now pink object , "
        "else point latest teal object ."
    )
    pink = Sel("pink", None, "now")
    assert q == If(
        And(Exist(pink), Exist(Sel("mint", None, "now"))), Go(pink), Go(Sel("teal", None, "latest"))
    )
    r = parse_question("color of latest square on bottom of last1 i ?")
    assert r == GetColor(Sel(None, "square", "latest", Rel("bottom", Sel(None, "i", "last1"))))
    assert parse_question("purple equal color of last1 circle ?") == Same(
        "purple", GetColor(Sel(None, "circle", "last1"))
    )


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("point now red foo", "unknown word 'foo'"),
        ("point now  red object", "double space"),
        ("now red object exist", "expected '?'"),
        ("now red object exist .", "expected '?'"),
        ("color of now circle ? ", "empty token"),
        ("point now red object ?", "end of question"),
        ("now red object with color of now circle exist ?", "after a colour word"),
        ("red equal blue ?", "two constants"),
        ("color of now circle equal square ?", "colour with a shape"),
        ("color of now circle and now red object exist ?", "'equal' or '?'"),
        ("if now red object exist , then point now red object .", "','"),
        ("", "empty question"),
    ],
)
def test_parser_rejects_malformed_text(text, fragment):
    with pytest.raises(QuestionSyntaxError, match=fragment.replace("?", r"\?")):
        parse_question(text)
    assert issubclass(QuestionSyntaxError, ValueError)


# -- the CLI ---------------------------------------------------------------------------------------
def _write(path: Path, examples: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    io.write_examples(path, examples)
    return path


def test_cli_agrees_on_sample(cog_sample, capsys):
    assert main(["cog", "check", str(cog_sample)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "checked 4400 examples, 0 disagree"


def test_cli_reports_disagreements(sample, tmp_path, capsys):
    exs = copy.deepcopy([e for e in sample["val_4_3_1"] if e["family"] == "GetColor"][:5])
    exs[1]["answers"][3] = "invalid" if exs[1]["answers"][3] != "invalid" else "red"
    exs[3]["question"] = exs[3]["question"].replace("color of", "of color", 1)  # COG words, no COG grammar
    exs[4]["family"] = "GetShape"
    f = _write(tmp_path / "val_4_3_1" / "cog_GetColor.json.gz", exs)
    assert main(["cog", "check", str(tmp_path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "checked 5 examples, 3 disagree"
    assert lines[0].startswith(f"{f}:2: GetColor: frame 3: stored ")
    assert lines[1].startswith(f"{f}:4: GetColor: cannot parse question") and "of color" in lines[1]
    assert lines[2].startswith(f"{f}:5: GetShape: question does not fit the GetShape template")
    assert main(["cog", "check", str(f), "--max-report", "1"]) == 1
    assert len(capsys.readouterr().out.splitlines()) == 2


def test_cli_memory_option_and_directory_inference(sample, tmp_path, capsys):
    exs = [e for e in sample["val_4_3_1"] if e["family"] == "GetColorSpace"]
    plain = _write(tmp_path / "flat" / "cog_GetColorSpace.json", exs)
    assert main(["cog", "check", str(plain)]) == 0  # epochs - 1 = 3
    bad = sum(1 for e in exs if check_example(e, 1))
    assert bad > 0
    assert main(["cog", "check", str(plain), "--memory", "1"]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == f"checked {len(exs)} examples, {bad} disagree"
    # the directory name wins over epochs - 1: a fake "M = 1" variant directory
    # reproduces the --memory 1 result
    named = _write(tmp_path / "test_4_1_1" / "cog_GetColorSpace.json.gz", exs)
    assert main(["cog", "check", str(named)]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == f"checked {len(exs)} examples, {bad} disagree"


def test_cli_bad_input_exits_2(tmp_path, capsys):
    trunc = tmp_path / "cog_Go.json.gz"
    trunc.write_bytes(gzip.compress(b'{"answers": []}' * 50)[:30])
    assert main(["cog", "check", str(trunc)]) == 2
    err = capsys.readouterr().err
    assert str(trunc) in err and len(err.strip().splitlines()) == 1
    unknown = tmp_path / "cog_X.json"
    unknown.write_text('{"answers": ["true"], "epochs": 1, "family": "Nope", "objects": [], "question": "x"}')
    assert main(["cog", "check", str(unknown)]) == 2
    assert f"{unknown}:1" in capsys.readouterr().err


@pytest.mark.parametrize(
    "family, question, fragment",
    [
        ("GoColorOf", "point now a with color of latest b", None),
        ("GoColorOf", "point now a with color of latest a", "must differ"),
        ("GoColorOf", "point latest a with color of latest b", "'latest' does not fit 'now'"),
        ("SimpleExistGo", "if now red a exist , then point now red a , else point now red b .", None),
        (
            "SimpleExistGo",
            "if now red a exist , then point now red b , else point now blue c .",
            "holds both",
        ),
        (
            "SimpleExistGo",
            "if now red a exist , then point now red a , else point now red a .",
            "must differ",
        ),
        ("AndSimpleCompareColor", "color of now a equal red and color of now b equal red ?", None),
        ("AndSimpleCompareColor", "red equal color of now a and color of now b equal red ?", "does not fit"),
        (
            "AndSimpleExistGo",
            "if now red a exist and now blue b exist , then point now red a , else point now green c .",
            "tokens, template has",
        ),
        ("ExistSpace", "now red a on left of now red b exist ?", None),
    ],
)
def test_template_slots_encode_sharing_and_distinctness(family, question, fragment):
    problem = template_problem(question, family)
    if fragment is None:
        assert problem is None
    else:
        assert problem is not None and fragment in problem
