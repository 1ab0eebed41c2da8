"""Official CLEVR scenes and questions JSON, both ways (the released CLEVR_v1.0 files).

Readers validate everything the executor and generators rely on and raise
:class:`vrkit.errors.InputError` naming the file and the JSON position, e.g.
``scenes.json: scenes[12].objects[3]: unknown color 'pinkish'``. Writers are atomic and produce the
released layout (``function``/``inputs``/``value_inputs`` nodes, string answers).

Answer types: in the released form an ``answer`` is a string (``"7"``, ``"yes"``, ``"cube"``); an integer or a
boolean there is a type error naming the file and the question, never silently converted (and so never counted
as a disagreement by ``vrkit clevr check``). Only the raw output of the original engine's
``generate_questions.py`` (program nodes spelled ``type``/``side_inputs``) holds the engine's native values,
booleans and integers, which are converted to the released strings.
"""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from vrkit.errors import InputError
from vrkit.utils.atomic import atomic_write_text
from vrkit.utils.files import read_json
from vrkit.worlds.clevr.constants import ATTRIBUTES, DEFAULT_LICENSE, RELATIONS, TEMPLATE_FILES

Scene = dict[str, Any]
Question = dict[str, Any]

#: function name -> (number of inputs, value-input kind or None). ``equal_object`` is declared but unused.
FUNCTIONS: dict[str, tuple[int, str | None]] = {
    "scene": (0, None),
    "unique": (1, None),
    "relate": (1, "relation"),
    "union": (2, None),
    "intersect": (2, None),
    "count": (1, None),
    "exist": (1, None),
    "equal_integer": (2, None),
    "less_than": (2, None),
    "greater_than": (2, None),
    "equal_object": (2, None),
}
for _a in ATTRIBUTES:
    FUNCTIONS[f"filter_{_a}"] = (1, _a)
    FUNCTIONS[f"same_{_a}"] = (1, None)
    FUNCTIONS[f"query_{_a}"] = (1, None)
    FUNCTIONS[f"equal_{_a}"] = (2, None)

_KIND_VALUES: dict[str, tuple[str, ...]] = {**ATTRIBUTES, "relation": RELATIONS}


def _signature(fn: str) -> tuple[tuple[str, ...], str]:
    """(input types, output type) of a function; types: set, object, int, bool, or an attribute name."""
    if fn == "scene":
        return (), "set"
    if fn.startswith("filter_") or fn in ("union", "intersect"):
        return ("set",) * FUNCTIONS[fn][0], "set"
    if fn == "unique":
        return ("set",), "object"
    if fn == "relate" or fn.startswith("same_"):
        return ("object",), "set"
    if fn == "count":
        return ("set",), "int"
    if fn == "exist":
        return ("set",), "bool"
    if fn.startswith("query_"):
        return ("object",), fn[6:]
    if fn in ("equal_integer", "less_than", "greater_than"):
        return ("int", "int"), "bool"
    if fn == "equal_object":
        return ("object", "object"), "bool"
    return (fn[6:], fn[6:]), "bool"  # equal_<attr>


def make_info(
    split: str, version: str = "1.0", date: str | None = None, license: str = DEFAULT_LICENSE
) -> dict:
    """The INFO header of both file kinds (date defaults to today as MM/DD/YYYY)."""
    if date is None:
        date = datetime.date.today().strftime("%m/%d/%Y")
    return {"split": split, "version": version, "date": date, "license": license}


def _is_num(v: Any) -> bool:
    """A finite JSON number (json.loads accepts NaN and Infinity, which no scene may hold)."""
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_object(obj: Any) -> str | None:
    if not isinstance(obj, dict):
        return f"expected an object, got {type(obj).__name__}"
    for attr, values in ATTRIBUTES.items():
        if attr not in obj:
            return f"missing key {attr!r}"
        if obj[attr] not in values:
            return f"unknown {attr} {obj[attr]!r}"
    c = obj.get("3d_coords")
    if not (isinstance(c, list) and len(c) == 3 and all(map(_is_num, c))):
        return f"'3d_coords' must be 3 numbers, got {c!r}"
    if "rotation" in obj and not _is_num(obj["rotation"]):
        return f"'rotation' must be a number, got {obj['rotation']!r}"
    p = obj.get("pixel_coords")
    if p is not None and not (isinstance(p, list) and len(p) == 3 and all(map(_is_num, p))):
        return f"'pixel_coords' must be 3 numbers, got {p!r}"
    return None


def validate_scene(scene: Any, where: str) -> None:
    """Raise InputError (without a path) if ``scene`` is not a valid official scene; ``where`` prefixes the
    message (e.g. ``scenes[3]``)."""
    if not isinstance(scene, dict):
        raise InputError(f"{where}: expected an object, got {type(scene).__name__}")
    objs = scene.get("objects")
    if not isinstance(objs, list):
        raise InputError(f"{where}: missing or bad 'objects' list")
    for j, obj in enumerate(objs):
        msg = _check_object(obj)
        if msg:
            raise InputError(f"{where}.objects[{j}]: {msg}")
    if "image_index" in scene and not _is_int(scene["image_index"]):
        raise InputError(f"{where}: 'image_index' must be an integer")
    rels = scene.get("relationships")
    if not isinstance(rels, dict):
        raise InputError(f"{where}: missing or bad 'relationships'")
    n = len(objs)
    for rel in RELATIONS:
        lists = rels.get(rel)
        if not (isinstance(lists, list) and len(lists) == n):
            raise InputError(f"{where}.relationships: {rel!r} must be a list of {n} lists")
        for i, ids in enumerate(lists):
            if not (isinstance(ids, list) and all(_is_int(j) and 0 <= j < n and j != i for j in ids)):
                raise InputError(f"{where}.relationships.{rel}[{i}]: bad object ids {ids!r}")
    dirs = scene.get("directions")
    if dirs is not None:
        if not isinstance(dirs, dict):
            raise InputError(f"{where}: 'directions' must be an object")
        for k, v in dirs.items():
            if not (isinstance(v, list) and len(v) == 3 and all(map(_is_num, v))):
                raise InputError(f"{where}.directions.{k}: must be 3 numbers")


def read_scenes(path: str | Path) -> tuple[dict, list[Scene]]:
    """Read an official scenes file: returns ``(info, scenes)`` (scenes in file order)."""
    path = Path(path)
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("scenes"), list):
        raise InputError("top level must be an object with a 'scenes' list", path)
    info = data.get("info", {})
    if not isinstance(info, dict):
        raise InputError("'info' must be an object", path)
    for i, scene in enumerate(data["scenes"]):
        try:
            validate_scene(scene, f"scenes[{i}]")
        except InputError as err:
            raise err.at(path) from None
    return info, data["scenes"]


def write_scenes(path: str | Path, scenes: Iterable[Scene], info: dict) -> None:
    """Write scenes atomically as ``{"info": info, "scenes": [...]}``."""
    atomic_write_text(path, json.dumps({"info": info, "scenes": list(scenes)}))


def is_raw_engine(q: dict) -> bool:
    """Whether question ``q`` is in the original engine's raw output form (not the released form)."""
    program = q.get("program")
    first = program[0] if isinstance(program, list) and program else None
    return isinstance(first, dict) and "type" in first and "function" not in first


def answer_text(q: dict, where: str) -> str:
    """The answer of question ``q`` as a released string (module docstring: types); InputError at ``where``."""
    a = q["answer"]
    if isinstance(a, str):
        return a
    if is_raw_engine(q) and (isinstance(a, bool) or _is_int(a)):
        return ("yes" if a else "no") if isinstance(a, bool) else str(a)
    raise InputError(f"{where}: 'answer' must be a string as in the released files (e.g. \"7\", \"yes\"), "
                     f"got {type(a).__name__} {a!r}")


def normalise_program(program: Any, where: str) -> list[dict]:
    """Validate a program and return it in released form (``function``/``inputs``/``value_inputs``).

    Also accepts the raw engine spelling (``type``, ``side_inputs``, extra ``_output``)."""
    if not isinstance(program, list) or not program:
        raise InputError(f"{where}: 'program' must be a non-empty list")
    out: list[dict] = []
    types: list[str] = []
    for k, node in enumerate(program):
        w = f"{where}.program[{k}]"
        if not isinstance(node, dict):
            raise InputError(f"{w}: expected an object")
        fn = node.get("function", node.get("type"))
        if fn not in FUNCTIONS:
            raise InputError(f"{w}: unknown function {fn!r}")
        n_in, kind = FUNCTIONS[fn]
        inputs = node.get("inputs", [])
        ok = isinstance(inputs, list) and len(inputs) == n_in
        if not (ok and all(_is_int(i) and 0 <= i < k for i in inputs)):
            raise InputError(f"{w}: {fn} needs {n_in} input(s) referring to earlier nodes, got {inputs!r}")
        vals = node.get("value_inputs", node.get("side_inputs", []))
        if not isinstance(vals, list):
            raise InputError(f"{w}: 'value_inputs' must be a list")
        if kind is None:
            if vals:
                raise InputError(f"{w}: {fn} takes no value inputs, got {vals!r}")
        elif len(vals) != 1 or vals[0] not in _KIND_VALUES[kind]:
            raise InputError(f"{w}: {fn} needs one {kind} value, got {vals!r}")
        want, give = _signature(fn)
        got = tuple(types[i] for i in inputs)
        if got != want:
            raise InputError(f"{w}: {fn} expects inputs of type {want}, got {got}")
        types.append(give)
        out.append({"function": fn, "inputs": list(inputs), "value_inputs": list(vals)})
    return out


def validate_question(q: Any, where: str) -> Question:
    """Validate one question; return a normalised copy (released node keys, string answer)."""
    if not isinstance(q, dict):
        raise InputError(f"{where}: expected an object, got {type(q).__name__}")
    if not _is_int(q.get("image_index")):
        raise InputError(f"{where}: missing or bad 'image_index'")
    if "question" in q and not isinstance(q["question"], str):
        raise InputError(f"{where}: 'question' must be a string")
    out = dict(q)
    if "answer" in q:
        out["answer"] = answer_text(q, where)
    if "program" in q:
        out["program"] = normalise_program(q["program"], where)
    fam = q.get("question_family_index")
    if fam is not None and not _is_int(fam):
        raise InputError(f"{where}: 'question_family_index' must be an integer")
    return out


def read_questions(path: str | Path) -> tuple[dict, list[Question]]:
    """Read an official (or raw-engine) questions file: returns ``(info, questions)`` normalised.

    Test-split questions may lack ``answer`` and ``program``."""
    path = Path(path)
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("questions"), list):
        raise InputError("top level must be an object with a 'questions' list", path)
    info = data.get("info", {})
    qs = []
    for i, q in enumerate(data["questions"]):
        try:
            qs.append(validate_question(q, f"questions[{i}]"))
        except InputError as err:
            raise err.at(path) from None
    return info, qs


def write_questions(path: str | Path, questions: Iterable[Question], info: dict) -> None:
    """Write questions atomically as ``{"info": info, "questions": [...]}``."""
    atomic_write_text(path, json.dumps({"info": info, "questions": list(questions)}))


def for_test_split(question: Question) -> Question:
    """The released test-split form of a question: no ``answer`` and no ``program``."""
    return {k: v for k, v in question.items() if k not in ("answer", "program")}


def to_released(question: Question) -> Question:
    """Convert a (normalised) raw-engine question to the released form: the family index becomes the
    global id (offset of ``template_filename`` + index in file); ``image`` and ``template_filename`` go."""
    q = dict(question)
    fname = q.pop("template_filename", None)
    q.pop("image", None)
    if fname is not None:
        stem = Path(fname).stem
        if stem not in TEMPLATE_FILES:
            raise InputError(f"unknown template file {fname!r}")
        q["question_family_index"] = TEMPLATE_FILES[stem][0] + q.get("question_family_index", 0)
    return q
