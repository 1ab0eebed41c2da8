"""Builder of vrkit's own CLEVR question templates (the JSON files under ``templates/``).

The 90 templates have the family structures of the original engine's ``CLEVR_1.0_templates`` (same programs,
parameters and constraints, same order within each file) with vrkit's own wording, in the words the released CLEVR
questions can contain. Run
``python -m vrkit.worlds.clevr._template_defs`` to rewrite the JSON files; a test checks they are in sync.

Text notation: ``g(k)`` is attribute group k rendered as ``<Zk> <Ck> <Mk> <Sk>``, ``gs(k)`` its plural.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TEMPLATE_DIR = Path(__file__).with_name("templates")
_ATTRS = ("size", "color", "material", "shape")
_LETTER = {"size": "Z", "color": "C", "material": "M", "shape": "S"}
_TYPE = {"Z": "Size", "C": "Color", "M": "Material", "S": "Shape", "R": "Relation"}


def _sfx(k: int) -> str:
    return "" if k == 1 else str(k)


def grp(k: int) -> list[str]:
    return [f"<{c}{_sfx(k)}>" for c in "ZCMS"]


def g(k: int = 1) -> str:
    return " ".join(grp(k))


def gs(k: int = 1) -> str:
    return g(k) + "s"


def rel(k: int = 1) -> str:
    return f"<R{_sfx(k)}>"


def slot(attr: str, k: int) -> str:
    return f"<{_LETTER[attr]}{_sfx(k)}>"


def params(*spec: str) -> list[dict]:
    """``params("G", "R", "G2", "Z3")`` -> param list (G = a whole group)."""
    out = []
    for s in spec:
        if s[0] == "G":
            k = int(s[1:] or 1)
            out += [{"type": _TYPE[c], "name": f"<{c}{_sfx(k)}>"} for c in "ZCMS"]
        else:
            out.append({"type": _TYPE[s[0]], "name": f"<{s}>"})
    return out


def n(type_: str, inputs: list[int] | None = None, side: list[str] | None = None) -> dict:
    d: dict[str, Any] = {"type": type_, "inputs": [] if inputs is None else inputs}
    if side:
        d["side_inputs"] = side
    return d


def S() -> dict:
    return n("scene")


def F(kind: str, k: int, i: int) -> dict:  # filter / filter_unique / filter_count / filter_exist
    return n(kind, [i], grp(k))


def RF(kind: str, r: int, k: int, i: int) -> dict:  # relate_filter[_unique|_count|_exist]
    return n(kind, [i], [rel(r)] + grp(k))


def NULL(*names: str) -> dict:
    return {"type": "NULL", "params": list(names)}


def NEQ_OUT(a: int, b: int) -> dict:
    return {"type": "OUT_NEQ", "params": [a, b]}


def T(text: list[str], nodes: list[dict], prm: list[dict], cons: list[dict] | None = None) -> dict:
    return {"text": text, "nodes": nodes, "params": prm, "constraints": cons or []}


# ------------------------------------------------------------------ wording helpers
_ASK = {  # what <attr> ... (question head for a described object X)
    "size": ("What size is {X}?", "How big is {X}?", "{Xc} is what size?"),
    "color": ("What color is {X}?", "What color does {X} have?", "{Xc} has what color?"),
    "material": ("What material is {X} [made of]?", "What is {X} made of?", "What is the material of {X}?"),
    "shape": ("What shape is {X}?", "What is the shape of {X}?", "{Xc} has what shape?"),
}
_ASK_IT = {
    "size": ("what size is it?", "how big is it?"),
    "color": ("what color is it?", "what is its color?"),
    "material": ("what is it made of?", "what material is it [made of]?"),
    "shape": ("what shape is it?", "what is its shape?"),
}


def ask(attr: str, x: str, there: str) -> list[str]:
    """Query texts about the object described by ``x`` ("the ...") / ``there`` ("a ..." clause)."""
    forms = [f.replace("{Xc}", x[0].upper() + x[1:]).replace("{X}", x) for f in _ASK[attr]]
    return forms + [f"There is {there}; {f}" for f in _ASK_IT[attr]]


_SAME = {"size": "the same size as", "color": "the same color as",
         "material": "made of the same material as", "shape": "the same shape as"}


def compare_texts(attr: str, a: str, b: str, a_clause: str) -> list[str]:
    """Texts asking whether objects ``a`` and ``b`` ("the ...") share ``attr``."""
    return [
        f"Does {a} have the same {attr} as {b}?",
        f"Do {a} and {b} have the same {attr}?",
        f"Is {a} {_SAME[attr]} {b}?",
        f"There is {a_clause}; is it {_SAME[attr]} {b}?",
    ]


# ------------------------------------------------------------------ the nine files
def zero_hop() -> list[dict]:
    G = params("G")
    out = [
        T([f"How many {gs()} are there?", f"What number of {gs()} are visible?",
           f"How many {gs()} are visible?"], [S(), F("filter_count", 1, 0)], G),
        T([f"Is there a {g()}?", f"Are there any {gs()}?", f"Are any {gs()} visible?"],
          [S(), F("filter_exist", 1, 0)], G),
    ]
    for attr in ("shape", "material", "color", "size"):
        out.append(T(ask(attr, f"the {g()}", f"a {g()}"),
                     [S(), F("filter_unique", 1, 0), n(f"query_{attr}", [1])], G, [NULL(slot(attr, 1))]))
    return out


def _hop_chain(depth: int) -> tuple[list[dict], str, str]:
    """Nodes S, FU(G), RFU(R,G2), ... up to group ``depth`` (the last hop is left to the caller), the
    description of the last anchor ("the G_depth [that is] R_{depth-1} the ...") and its "a ..." form."""
    nodes = [S(), F("filter_unique", 1, 0)]
    desc = f"the {g(1)}"
    for k in range(2, depth + 1):
        nodes.append(RF("relate_filter_unique", k - 1, k, len(nodes) - 1))
        desc = f"the {g(k)} [that is] {rel(k - 1)} {desc}"
    return nodes, desc, "a" + desc[3:]


def hop_file(hops: int, query_order: tuple[str, ...]) -> list[dict]:
    """one_hop (1), two_hop (2), three_hop (3): count, exist, then four queries in ``query_order``."""
    t = hops + 1  # target group
    prm_spec = ["G"]
    for k in range(2, t + 1):
        prm_spec += [f"R{_sfx(k - 1)}" if k > 2 else "R", f"G{k}"]
    prm = params(*prm_spec)
    base, anchor, anchor_a = _hop_chain(hops)
    last = len(base) - 1
    r = rel(hops)
    out = [
        T([f"How many {gs(t)} are {r} {anchor}?", f"What number of {gs(t)} are {r} {anchor}?",
           f"There is {anchor_a}; how many {gs(t)} are {r} it?"],
          base + [RF("relate_filter_count", hops, t, last)], prm),
        T([f"Are there any {gs(t)} {r} {anchor}?", f"Is there a {g(t)} {r} {anchor}?",
           f"There is {anchor_a}; is there a {g(t)} {r} it?"],
          base + [RF("relate_filter_exist", hops, t, last)], prm),
    ]
    target = f"the {g(t)} [that is] {r} {anchor}"
    for attr in query_order:
        nodes = base + [RF("relate_filter_unique", hops, t, last), n(f"query_{attr}", [last + 1])]
        out.append(T(ask(attr, target, "a" + target[3:]), nodes, prm, [NULL(slot(attr, t))]))
    return out


def single_and() -> list[dict]:
    prm = params("G", "R", "G2", "R2", "G3")
    head = [S(), F("filter_unique", 1, 0), n("relate", [1], ["<R>"]), S(), F("filter_unique", 2, 3),
            n("relate", [4], ["<R2>"]), n("intersect", [2, 5])]
    both = f"[both] {rel(2)} the {g(2)} and {rel(1)} the {g(1)}"
    out = [T([f"How many {gs(3)} are {both}?", f"What number of {gs(3)} are {both}?",
              f"How many {gs(3)} are there that are {both}?"],
             head + [F("filter_count", 3, 6)], prm)]
    for attr in _ATTRS:
        x = f"the {g(3)} that is {both}"
        out.append(T(ask(attr, x, "a" + x[3:]), head + [F("filter_unique", 3, 6), n(f"query_{attr}", [7])],
                     prm, [NEQ_OUT(2, 5), NULL(slot(attr, 3))]))
    return out


def single_or() -> list[dict]:
    many = ("How many objects are [either] {A} or {B}?", "What number of things are [either] {A} or {B}?")

    def texts(a: str, b: str, forms: tuple[str, ...] = many) -> list[str]:
        return [f.format(A=a, B=b) for f in forms]

    union2 = [S(), F("filter", 1, 0), S(), F("filter", 2, 2), n("union", [1, 3])]
    out = [T(texts(gs(1), gs(2)), union2 + [n("count", [4])], params("G", "G2"), [NEQ_OUT(1, 3)])]
    extra = {"size": "<Z3> objects", "color": "<C3> things", "material": "<M3> objects"}
    for attr in ("size", "color"):
        forms = (f"How many {extra[attr]} are [either] {{A}} or {{B}}?",
                 f"What number of {extra[attr]} are [either] {{A}} or {{B}}?")
        out.append(T(texts(gs(1), gs(2), forms),
                     union2 + [n(f"filter_{attr}", [4], [slot(attr, 3)]), n("count", [5])],
                     params("G", "G2", _LETTER[attr] + "3"),
                     [NEQ_OUT(1, 3), NULL(slot(attr, 1)), NULL(slot(attr, 2))]))
    out.append(T(texts(f"{gs(2)} [that are] {rel(1)} the {g(1)}", f"{gs(4)} [that are] {rel(2)} the {g(3)}"),
                 [S(), F("filter_unique", 1, 0), RF("relate_filter", 1, 2, 1), S(), F("filter_unique", 3, 3),
                  RF("relate_filter", 2, 4, 4), n("union", [2, 5]), n("count", [6])],
                 params("G", "R", "G2", "G3", "R2", "G4")))
    forms = ("How many <M3> objects are [either] {A} or {B}?",
             "What number of <M3> things are [either] {A} or {B}?")
    out.append(T(texts(gs(1), gs(2), forms), union2 + [n("filter_material", [4], ["<M3>"]), n("count", [5])],
                 params("G", "G2", "M3"), [NEQ_OUT(1, 3), NULL("<M>"), NULL("<M2>")]))
    forms = ("How many <S3>s are [either] {A} or {B}?", "What number of <S3>s are [either] {A} or {B}?")
    out.append(T(texts(gs(1), gs(2), forms),
                 [S(), S(), F("filter", 1, 0), F("filter", 2, 1), n("union", [2, 3]),
                  n("filter_shape", [4], ["<S3>"]), n("count", [5])],
                 params("G", "G2", "S3"), [NEQ_OUT(2, 3), NULL("<S>"), NULL("<S2>")]))
    out.append(T(texts(f"{gs(2)} {rel(1)} the {g(1)}", gs(3)),
                 [S(), F("filter_unique", 1, 0), RF("relate_filter", 1, 2, 1), S(), F("filter", 3, 3),
                  n("union", [2, 4]), n("count", [5])], params("G", "R", "G2", "G3")))
    out.append(T(texts(gs(1), f"{gs(3)} {rel(1)} the {g(2)}"),
                 [S(), F("filter", 1, 0), S(), F("filter_unique", 2, 2), RF("relate_filter", 1, 3, 3),
                  n("union", [1, 4]), n("count", [5])], params("G", "G2", "R", "G3")))
    return out


_CMP_FORMS = {
    "equal_integer": ("Are there the same number of {A} and {B}?",
                      "Is the number of {A} equal to the number of {B}?",
                      "Is the number of {A} the same as the number of {B}?"),
    "less_than": ("Are there fewer {A} than {B}?", "Is the number of {A} less than the number of {B}?"),
    "greater_than": ("Are there more {A} than {B}?", "Is the number of {A} greater than the number of {B}?"),
}
_CMP_OPS = ("equal_integer", "less_than", "greater_than")


def compare_integer() -> list[dict]:
    out = []
    # 0-2. The original constrains the two *counts* to differ, so its "equal" template can only say "no"
    # and starves (quirk Q6). vrkit filters then counts (same released programs) and requires the two
    # filtered *sets* to differ instead, so equal counts are possible.
    for op in _CMP_OPS:
        out.append(T([f.format(A=gs(1), B=gs(2)) for f in _CMP_FORMS[op]],
                     [S(), F("filter", 1, 0), n("count", [1]), S(), F("filter", 2, 3), n("count", [4]),
                      n(op, [2, 5])],
                     params("G", "G2"), [NEQ_OUT(1, 4)]))
    a = f"{gs(2)} [that are] {rel(1)} the {g(1)}"
    for op in _CMP_OPS:
        out.append(T([f.format(A=a, B=gs(3)) for f in _CMP_FORMS[op][:2]],
                     [S(), F("filter_unique", 1, 0), RF("relate_filter_count", 1, 2, 1), S(),
                      F("filter_count", 3, 3), n(op, [2, 4])], params("G", "R", "G2", "G3")))
    b = f"{gs(4)} [that are] {rel(2)} the {g(3)}"
    for op in _CMP_OPS:
        out.append(T([f.format(A=a, B=b) for f in _CMP_FORMS[op][:2]],
                     [S(), F("filter_unique", 1, 0), RF("relate_filter_count", 1, 2, 1), S(),
                      F("filter_unique", 3, 3), RF("relate_filter_count", 2, 4, 4), n(op, [2, 5])],
                     params("G", "R", "G2", "G3", "R2", "G4"), [NEQ_OUT(1, 4)]))
    return out


def comparison() -> list[dict]:
    out = []
    # 0-3: two plain objects
    for attr in _ATTRS:
        q, e = f"query_{attr}", f"equal_{attr}"
        if attr in ("size", "color"):
            nodes = [S(), F("filter_unique", 1, 0), S(), F("filter_unique", 2, 2), n(q, [1]), n(q, [3]),
                     n(e, [4, 5])]
            cons = [NULL(slot(attr, 1)), NULL(slot(attr, 2)), NEQ_OUT(1, 3)]
        else:
            nodes = [S(), F("filter_unique", 1, 0), n(q, [1]), S(), F("filter_unique", 2, 3), n(q, [4]),
                     n(e, [2, 5])]
            cons = [NULL(slot(attr, 1)), NULL(slot(attr, 2)), NEQ_OUT(1, 4)]
        out.append(T(compare_texts(attr, f"the {g(1)}", f"the {g(2)}", f"a {g(1)}")[:3], nodes,
                     params("G", "G2"), cons))
    # 4-15: per attribute (size, color, material, shape): hop vs plain, plain vs hop, hop vs hop
    for attr in _ATTRS:
        q, e = f"query_{attr}", f"equal_{attr}"
        hop1 = f"the {g(2)} [that is] {rel(1)} the {g(1)}"
        out.append(T(compare_texts(attr, hop1, f"the {g(3)}", "a" + hop1[3:]),
                     [S(), F("filter_unique", 1, 0), RF("relate_filter_unique", 1, 2, 1), n(q, [2]), S(),
                      F("filter_unique", 3, 4), n(q, [5]), n(e, [3, 6])],
                     params("G", "R", "G2", "G3"), [NEQ_OUT(2, 5), NULL(slot(attr, 2)), NULL(slot(attr, 3))]))
        hop2 = f"the {g(3)} [that is] {rel(1)} the {g(2)}"
        out.append(T(compare_texts(attr, f"the {g(1)}", hop2, f"a {g(1)}"),
                     [S(), F("filter_unique", 1, 0), n(q, [1]), S(), F("filter_unique", 2, 3),
                      RF("relate_filter_unique", 1, 3, 4), n(q, [5]), n(e, [2, 6])],
                     params("G", "G2", "R", "G3"), [NEQ_OUT(1, 5), NULL(slot(attr, 1)), NULL(slot(attr, 3))]))
        hop3 = f"the {g(4)} [that is] {rel(2)} the {g(3)}"
        out.append(T(compare_texts(attr, hop1, hop3, "a" + hop1[3:]),
                     [S(), F("filter_unique", 1, 0), RF("relate_filter_unique", 1, 2, 1), n(q, [2]), S(),
                      F("filter_unique", 3, 4), RF("relate_filter_unique", 2, 4, 5), n(q, [6]), n(e, [3, 7])],
                     params("G", "R", "G2", "G3", "R2", "G4"),
                     [NEQ_OUT(2, 6), NULL(slot(attr, 2)), NULL(slot(attr, 4))]))
    return out


def same_relate() -> list[dict]:
    out = []
    share = {a: f"the same {a} as" for a in _ATTRS}
    for attr in _ATTRS:  # 0-3 exist
        out.append(T([f"Is there anything else {_SAME[attr]} the {g()}?",
                      f"Are there any other things that have the same {attr} as the {g()}?",
                      f"Does any other object have the same {attr} as the {g()}?"],
                     [S(), F("filter_unique", 1, 0), n(f"same_{attr}", [1]), n("exist", [2])],
                     params("G"), [NULL(slot(attr, 1))]))
    for attr in _ATTRS:  # 4-7 count
        out.append(T([f"How many other things are {_SAME[attr]} the {g()}?",
                      f"What number of other objects have the same {attr} as the {g()}?",
                      f"How many other objects have the same {attr} as the {g()}?"],
                     [S(), F("filter_unique", 1, 0), n(f"same_{attr}", [1]), n("count", [2])],
                     params("G"), [NULL(slot(attr, 1))]))
    for attr in _ATTRS:  # 8-11 exist with a second group
        out.append(T([f"Is there another {g(2)} that has {share[attr]} the {g()}?",
                      f"Are there any other {gs(2)} that have {share[attr]} the {g()}?",
                      f"Does any other {g(2)} have the same {attr} as the {g()}?"],
                     [S(), F("filter_unique", 1, 0), n(f"same_{attr}", [1]), F("filter_exist", 2, 2)],
                     params("G", "G2"), [NULL(slot(attr, 1)), NULL(slot(attr, 2))]))
    for attr in _ATTRS:  # 12-15 count with a second group
        out.append(T([f"How many other {gs(2)} have {share[attr]} the {g()}?",
                      f"What number of other {gs(2)} have the same {attr} as the {g()}?"],
                     [S(), F("filter_unique", 1, 0), n(f"same_{attr}", [1]), F("filter_count", 2, 2)],
                     params("G", "G2"), [NULL(slot(attr, 1)), NULL(slot(attr, 2))]))
    for attr in _ATTRS:  # 16-27 query
        for qa in _ATTRS:
            if qa == attr:
                continue
            x = f"the other {g(2)} that has {share[attr]} the {g()}"
            texts = ask(qa, x, f"another {g(2)} that has {share[attr]} the {g()}")
            nodes = [S(), F("filter_unique", 1, 0), n(f"same_{attr}", [1]), F("filter_unique", 2, 2),
                     n(f"query_{qa}", [3])]
            out.append(T(texts, nodes,
                         params("G", "G2"), [NULL(slot(attr, 1)), NULL(slot(attr, 2)), NULL(slot(qa, 2))]))
    return out


def build_all() -> dict[str, list[dict]]:
    """File stem -> templates (in the global family order of the released questions, ``constants.TEMPLATE_FILES``)."""
    return {
        "compare_integer": compare_integer(),
        "comparison": comparison(),
        "three_hop": hop_file(3, ("size", "shape", "color", "material")),
        "single_and": single_and(),
        "same_relate": same_relate(),
        "single_or": single_or(),
        "one_hop": hop_file(1, ("size", "color", "material", "shape")),
        "two_hop": hop_file(2, ("size", "color", "material", "shape")),
        "zero_hop": zero_hop(),
    }


def dump(stem_templates: dict[str, list[dict]]) -> dict[str, str]:
    return {stem: json.dumps(ts, indent=1) + "\n" for stem, ts in stem_templates.items()}


if __name__ == "__main__":  # pragma: no cover
    TEMPLATE_DIR.mkdir(exist_ok=True)
    for stem, text in dump(build_all()).items():
        (TEMPLATE_DIR / f"{stem}.json").write_text(text)
