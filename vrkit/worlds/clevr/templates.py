"""Question templates in the original engine's JSON format (docs/world-clevr.md, 'Questions').

A template directory holds ``<stem>.json`` files, each a list of templates
``{"text": [...], "params": [{"type", "name"}], "nodes": [{"type", "inputs", "side_inputs"?}],
"constraints": [{"type", "params"}]}``. vrkit ships its own wording in ``templates/``; original-format
files from any directory load the same way. Files named like the nine original files get the global
family ids (docs/world-clevr.md, 'Family numbering'; offset + index in file); other files follow, sorted by name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from vrkit.errors import InputError
from vrkit.worlds.clevr.constants import ATTRIBUTES, RELATIONS, TEMPLATE_FILES

DEFAULT_TEMPLATE_DIR = Path(__file__).with_name("templates")
PARAM_TYPES = {
    "Size": "size", "Color": "color", "Material": "material", "Shape": "shape", "Relation": "relation"
}
#: template-only node types (expanded into released functions)
FILTER_TYPES = ("filter", "filter_unique", "filter_count", "filter_exist")
RELATE_FILTER_TYPES = ("relate_filter", "relate_filter_unique", "relate_filter_count", "relate_filter_exist")
_RELEASED = {"scene", "unique", "relate", "union", "intersect", "count", "exist", "equal_integer",
             "less_than", "greater_than", "equal_object"}
for _a in ATTRIBUTES:
    _RELEASED |= {f"filter_{_a}", f"same_{_a}", f"query_{_a}", f"equal_{_a}"}


@dataclass
class TNode:
    type: str
    inputs: list[int]
    side: list[str]  # param names
    # for filter groups: attribute -> param name (absent attributes are not part of the group)
    group: dict[str, str] = field(default_factory=dict)
    relation: str | None = None  # param name of the relation (relate_filter*, relate)


@dataclass
class Template:
    """One compiled template; ``family`` is the global family id, ``index`` its position in ``file``."""

    file: str
    index: int
    family: int
    text: list[str]
    params: dict[str, str]  # name -> kind (size/color/material/shape/relation)
    nodes: list[TNode]
    constraints: list[tuple[str, list]]
    has_raw_relate: bool
    answer_kind: str  # bool / int / size / color / material / shape

    @property
    def name(self) -> str:
        return f"{self.file}[{self.index}]"


def _answer_kind(t: str) -> str:
    if t in ("exist", "filter_exist", "relate_filter_exist", "equal_integer", "less_than", "greater_than",
             "equal_object") or t.startswith("equal_"):
        return "bool"
    if t in ("count", "filter_count", "relate_filter_count"):
        return "int"
    if t.startswith("query_"):
        return t[6:]
    raise ValueError(f"template cannot end with {t!r}")


def compile_template(raw: dict, file: str, index: int, family: int, where: str) -> Template:
    """Validate and compile one raw template dict (InputError without a path on failure)."""
    if not isinstance(raw, dict) or not all(k in raw for k in ("text", "nodes", "params")):
        raise InputError(f"{where}: a template needs 'text', 'nodes' and 'params'")
    params = {}
    for p in raw["params"]:
        if p.get("type") not in PARAM_TYPES or not isinstance(p.get("name"), str):
            raise InputError(f"{where}: bad param {p!r}")
        params[p["name"]] = PARAM_TYPES[p["type"]]
    nodes = []
    for k, nd in enumerate(raw["nodes"]):
        t = nd.get("type", nd.get("function"))
        side = list(nd.get("side_inputs", nd.get("value_inputs", [])) or [])
        inputs = list(nd.get("inputs", []))
        if t not in _RELEASED and t not in FILTER_TYPES and t not in RELATE_FILTER_TYPES:
            raise InputError(f"{where}.nodes[{k}]: unknown node type {t!r}")
        if any(not isinstance(i, int) or not 0 <= i < k for i in inputs):
            raise InputError(f"{where}.nodes[{k}]: bad inputs {inputs!r}")
        for s in side:
            if s not in params:
                raise InputError(f"{where}.nodes[{k}]: unknown param {s!r}")
        node = TNode(t, inputs, side)
        if t in FILTER_TYPES or t in RELATE_FILTER_TYPES:
            for s in side:
                if params[s] == "relation":
                    node.relation = s
                else:
                    node.group[params[s]] = s
            if len(node.group) != 4:
                raise InputError(f"{where}.nodes[{k}]: {t} needs one size, color, material and shape param")
            if (t in RELATE_FILTER_TYPES) != (node.relation is not None):
                raise InputError(f"{where}.nodes[{k}]: {t} relation parameter mismatch")
        elif side:
            kind = "relation" if t == "relate" else t[7:] if t.startswith("filter_") else None
            if len(side) != 1 or params[side[0]] != kind:
                raise InputError(f"{where}.nodes[{k}]: {t} takes one {kind} parameter")
        nodes.append(node)
    if not nodes:
        raise InputError(f"{where}: no nodes")
    cons = []
    for c in raw.get("constraints", []):
        ctype, cparams = c.get("type"), c.get("params", [])
        if ctype not in ("NULL", "OUT_NEQ", "NEQ"):
            raise InputError(f"{where}: unknown constraint {ctype!r}")
        cons.append((ctype, list(cparams)))
    texts = raw["text"]
    if not texts or not all(isinstance(x, str) for x in texts):
        raise InputError(f"{where}: 'text' must be a non-empty list of strings")
    try:
        kind = _answer_kind(nodes[-1].type)
    except ValueError as err:
        raise InputError(f"{where}: {err}") from None
    return Template(file, index, family, list(texts), params, nodes, cons,
                    any(nd.type == "relate" for nd in nodes), kind)


def load_templates(directory: str | Path | None = None) -> list[Template]:
    """All templates of a directory in global family order (the round-robin order of generation)."""
    directory = DEFAULT_TEMPLATE_DIR if directory is None else Path(directory)
    if not directory.is_dir():
        raise InputError("template directory not found", directory)
    files = sorted(directory.glob("*.json"))
    if not files:
        raise InputError("no *.json template files", directory)
    known = sorted((f for f in files if f.stem in TEMPLATE_FILES), key=lambda f: TEMPLATE_FILES[f.stem][0])
    other = [f for f in files if f.stem not in TEMPLATE_FILES]
    out: list[Template] = []
    next_free = 90
    for f in known + other:
        try:
            raw = json.loads(f.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise InputError(f"invalid JSON: {err.msg}", f, err.lineno) from None
        if not isinstance(raw, list):
            raise InputError("a template file must hold a JSON list", f)
        if f.stem in TEMPLATE_FILES:
            offset = TEMPLATE_FILES[f.stem][0]
        else:
            offset, next_free = next_free, next_free + len(raw)
        for i, t in enumerate(raw):
            try:
                out.append(compile_template(t, f.stem, i, offset + i, f"[{i}]"))
            except InputError as err:
                raise err.at(f) from None
    return out


_FILTER_ORDER = {f"filter_{a}": k for k, a in enumerate(ATTRIBUTES)}


def match_program(template: Template, program: list[dict]) -> bool:
    """Whether a released program has the structure of ``template`` (each filter group = 0-4 filter
    nodes in size, color, material, shape order; raw param nodes any value)."""
    pos = 0
    tmap: list[int] = []

    def take(fn: str, inputs: list[int]) -> bool:
        nonlocal pos
        if pos >= len(program) or program[pos]["function"] != fn or program[pos]["inputs"] != inputs:
            return False
        pos += 1
        return True

    def take_filters(inp: int) -> int:
        nonlocal pos
        last = -1
        while pos < len(program) and _FILTER_ORDER.get(program[pos]["function"], -1) > last:
            if program[pos]["inputs"] != [inp]:
                break
            last = _FILTER_ORDER[program[pos]["function"]]
            inp = pos
            pos += 1
        return inp

    for nd in template.nodes:
        ins = [tmap[i] for i in nd.inputs]
        t = nd.type
        if t in FILTER_TYPES or t in RELATE_FILTER_TYPES:
            cur = ins[0]
            if t in RELATE_FILTER_TYPES:
                if not take("relate", [cur]):
                    return False
                cur = pos - 1
            cur = take_filters(cur)
            suffix = t.rsplit("_", 1)[-1]
            if suffix in ("unique", "count", "exist"):
                if not take(suffix, [cur]):
                    return False
                cur = pos - 1
            tmap.append(cur)
        else:
            if not take(t, ins):
                return False
            tmap.append(pos - 1)
    return pos == len(program)


def identify_family(program: list[dict], templates: list[Template]) -> list[int]:
    """Global family ids whose structure matches a released program (usually one; same_relate #0-7 and
    #8-15 coincide when the second group is empty)."""
    return [t.family for t in templates if match_program(t, program)]


RELATION_KIND_VALUES = {**ATTRIBUTES, "relation": RELATIONS}
