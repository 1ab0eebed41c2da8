"""COG question text ⇄ operator tree (docs/world-cog.md, 'Operators and evaluation'), for the independent
answer checker.

Grammar (tokens separated by single spaces; ``C`` colour word, ``S`` shape word, ``W`` time word,
``SP`` spatial word)::

    question := "if" cond "," "then" go "," "else" go "."     (If root)
              | go                                           (Go root, no end mark)
              | getter "?" | cond "?"                        (Color/Shape, Exist, Same, And roots)
    cond     := atom [ "and" atom ]
    atom     := side "equal" side                            (Same; never two constants)
              | sel "exist"                                  (Exist)
    side     := C | S | getter
    getter   := "color of" sel | "shape of" sel
    go       := "point" sel
    sel      := [W] [C] (S | "object") ["with color of" sel] [["and"] "with shape of" sel] ["on" SP "of" sel]

In a selection, ``and with shape of`` is only possible after ``with color of``, so an ``and``
that is not followed by ``with`` — or that follows a selection without a colour operator — is the And
operator. Phrases nested inside a selection attach to the innermost selection that can take them
(greedy); no COG family nests selections in a way where this matters.
"""

from __future__ import annotations

from dataclasses import dataclass

from vrkit.worlds.cog.constants import COLOR_INDEX, SHAPE_INDEX, SPACES, TIME_WORDS


class QuestionSyntaxError(ValueError):
    """A question that is not in the COG grammar (unknown word, misplaced token, type mismatch)."""


@dataclass(frozen=True)
class Sel:
    """A selection: colour/shape are None, a constant name, or a getter; ``when`` a time word or None."""

    color: str | GetColor | None = None
    shape: str | GetShape | None = None
    when: str | None = None
    rel: Rel | None = None


@dataclass(frozen=True)
class Rel:
    """``on <space> of <ref>``: the selection must lie in that region of the unique object of ``ref``."""

    space: str
    ref: Sel


@dataclass(frozen=True)
class _OnSel:
    """An operator on the objects of one selection."""

    sel: Sel


@dataclass(frozen=True)
class GetColor(_OnSel):
    """``color of <sel>``."""


@dataclass(frozen=True)
class GetShape(_OnSel):
    """``shape of <sel>``."""


@dataclass(frozen=True)
class Go(_OnSel):
    """``point <sel>``."""


@dataclass(frozen=True)
class Exist(_OnSel):
    """``<sel> exist``."""


@dataclass(frozen=True)
class Same:
    """Equality of two sides; a side is a constant colour/shape name or a getter."""

    a: str | GetColor | GetShape
    b: str | GetColor | GetShape


@dataclass(frozen=True)
class And:
    p: Exist | Same
    q: Exist | Same


@dataclass(frozen=True)
class If:
    cond: Exist | Same | And
    then: Go
    other: Go


Node = Sel | GetColor | GetShape | Go | Exist | Same | And | If
_KEYWORDS = frozenset(
    {".", ",", "?", "object", "color", "shape", "on", "if", "then", "else", "exist", "equal", "and", "of", "with",
     "point"}
)
_KNOWN = _KEYWORDS | set(SPACES) | set(TIME_WORDS) | set(COLOR_INDEX) | set(SHAPE_INDEX)


def tokenize(text: str) -> list[str]:
    """Split on single spaces; raise :class:`QuestionSyntaxError` for empty or unknown tokens."""
    if not isinstance(text, str) or not text:
        raise QuestionSyntaxError("empty question")
    tokens = text.split(" ")
    for i, tok in enumerate(tokens):
        if not tok:
            raise QuestionSyntaxError(f"empty token at position {i} (leading, trailing or double space)")
        if tok not in _KNOWN:
            raise QuestionSyntaxError(f"unknown word {tok!r} at token {i}")
    return tokens


def _side_kind(side: str | GetColor | GetShape) -> str:
    if isinstance(side, GetColor) or (isinstance(side, str) and side in COLOR_INDEX):
        return "color"
    return "shape"


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.toks = tokens
        self.i = 0

    # -- token helpers -------------------------------------------------------------------------------------
    def peek(self, k: int = 0) -> str | None:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    def fail(self, expected: str) -> QuestionSyntaxError:
        got = "end of question" if self.peek() is None else repr(self.peek())
        return QuestionSyntaxError(f"at token {self.i}: expected {expected}, got {got}")

    def expect(self, *words: str) -> None:
        for w in words:
            if self.peek() != w:
                raise self.fail(repr(w))
            self.i += 1

    # -- grammar -------------------------------------------------------------------------------------------
    def question(self) -> Node:
        if self.peek() == "if":
            self.i += 1
            cond = self.cond()
            self.expect(",", "then")
            then = self.go()
            self.expect(",", "else")
            other = self.go()
            self.expect(".")
            node: Node = If(cond, then, other)
        elif self.peek() == "point":
            node = self.go()
        else:
            node = self.cond(allow_getter=True)
            self.expect("?")
        if self.peek() is not None:
            raise self.fail("end of question")
        return node

    def go(self) -> Go:
        self.expect("point")
        return Go(self.sel())

    def cond(self, allow_getter: bool = False) -> Node:
        first = self.atom(allow_getter)
        if self.peek() != "and":
            return first
        if not isinstance(first, Exist | Same):
            raise self.fail("'equal' or '?' after a getter")
        self.i += 1
        second = self.atom(False)
        return And(first, second)

    def _is_getter_start(self) -> bool:
        return self.peek() in ("color", "shape") and self.peek(1) == "of"

    def _is_constant_side(self) -> bool:
        tok = self.peek()
        return (tok in COLOR_INDEX or tok in SHAPE_INDEX) and self.peek(1) == "equal"

    def getter(self) -> GetColor | GetShape:
        kind = self.peek()
        self.expect(kind, "of")  # type: ignore[arg-type]
        sel = self.sel()
        return GetColor(sel) if kind == "color" else GetShape(sel)

    def side(self) -> str | GetColor | GetShape:
        if self._is_getter_start():
            return self.getter()
        tok = self.peek()
        if tok in COLOR_INDEX or tok in SHAPE_INDEX:
            self.i += 1
            return tok  # type: ignore[return-value]
        raise self.fail("a colour word, a shape word, 'color of' or 'shape of'")

    def atom(self, allow_getter: bool) -> Node:
        start = self.i
        if self._is_getter_start() or self._is_constant_side():
            a = self.side()
            if self.peek() != "equal":
                if allow_getter and not isinstance(a, str):
                    return a
                raise self.fail("'equal'")
            self.i += 1
            b = self.side()
            if isinstance(a, str) and isinstance(b, str):
                raise QuestionSyntaxError(f"at token {start}: 'equal' between two constants")
            if _side_kind(a) != _side_kind(b):
                raise QuestionSyntaxError(f"at token {start}: 'equal' compares a colour with a shape")
            return Same(a, b)
        sel = self.sel()
        self.expect("exist")
        return Exist(sel)

    def sel(self) -> Sel:
        when = color = shape = None
        if self.peek() in TIME_WORDS:
            when = self.peek()
            self.i += 1
        if self.peek() in COLOR_INDEX:
            color = self.peek()
            self.i += 1
        tok = self.peek()
        if tok in SHAPE_INDEX:
            shape = tok
        elif tok != "object":
            raise self.fail(
                "a shape word or 'object'" if color else "a time word, a colour, a shape or 'object'"
            )
        self.i += 1
        color_op = shape_op = None
        if self.peek() == "with" and self.peek(1) == "color":
            if color is not None:
                raise QuestionSyntaxError(f"at token {self.i}: 'with color of' after a colour word")
            self.expect("with", "color", "of")
            color_op = GetColor(self.sel())
        and_with = self.peek() == "and" and self.peek(1) == "with"
        if (color_op is not None and and_with) or (color_op is None and self.peek() == "with"):
            if shape is not None:
                raise QuestionSyntaxError(f"at token {self.i}: 'with shape of' after a shape word")
            if and_with:
                self.i += 1
            self.expect("with", "shape", "of")
            shape_op = GetShape(self.sel())
        rel = None
        if self.peek() == "on":
            self.i += 1
            space = self.peek()
            if space not in SPACES:
                raise self.fail("a spatial word (left, right, top, bottom)")
            self.i += 1
            self.expect("of")
            rel = Rel(space, self.sel())  # type: ignore[arg-type]
        return Sel(color_op or color, shape_op or shape, when, rel)


def parse_question(text: str) -> Node:
    """Parse a COG question into its operator tree; raise :class:`QuestionSyntaxError` (a ValueError)."""
    return _Parser(tokenize(text)).question()


# -- rendering ----------------------------------------------------------------------------------------------
def _sel_text(s: Sel) -> list[str]:
    out = [s.when] if s.when else []
    if isinstance(s.color, str):
        out.append(s.color)
    out.append(s.shape if isinstance(s.shape, str) else "object")
    if isinstance(s.color, GetColor):
        out += ["with", *_text(s.color)]
    if isinstance(s.shape, GetShape):
        out += (["and"] if isinstance(s.color, GetColor) else []) + ["with", *_text(s.shape)]
    if s.rel is not None:
        out += ["on", s.rel.space, "of", *_sel_text(s.rel.ref)]
    return out


def _text(node: Node | str) -> list[str]:
    match node:
        case str():
            return [node]
        case Sel():
            return _sel_text(node)
        case GetColor(sel):
            return ["color", "of", *_sel_text(sel)]
        case GetShape(sel):
            return ["shape", "of", *_sel_text(sel)]
        case Go(sel):
            return ["point", *_sel_text(sel)]
        case Exist(sel):
            return [*_sel_text(sel), "exist"]
        case Same(a, b):
            return [*_text(a), "equal", *_text(b)]
        case And(p, q):
            return [*_text(p), "and", *_text(q)]
        case If(cond, then, other):
            return ["if", *_text(cond), ",", "then", *_text(then), ",", "else", *_text(other), "."]
    raise TypeError(f"not a COG node: {node!r}")


def to_text(node: Node) -> str:
    """Render a tree as question text, end mark included (`` ?`` for Color/Shape/Exist/Same/And roots)."""
    tokens = _text(node)
    if isinstance(node, GetColor | GetShape | Exist | Same | And):
        tokens.append("?")
    return " ".join(tokens)
