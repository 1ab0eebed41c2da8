"""Boolean COG operators: Exist, Same, And, If (docs/world-cog.md, 'Operators and evaluation')."""

from __future__ import annotations

from vrkit.worlds.cog._nodes import INVALID, SKIP, UNSET, Go, Node, Sel, _different, _Getter, _split_domain, hand
from vrkit.worlds.cog._scene import Scene


def _draw_bool(node: Node, rng) -> bool:
    v = node.target
    return rng.random() < 0.5 if v is UNSET else v


class Exist(Node):
    __slots__ = ("sel", "children")

    def __init__(self, sel: Sel) -> None:
        super().__init__()
        self.sel = sel
        self.children = (sel,)

    def text(self) -> str:
        return self.sel.text() + " exist"

    def evaluate(self, scene: Scene, t: int):
        objs = self.sel.evaluate(scene, t)
        return INVALID if objs is INVALID else bool(objs)

    def guess(self, scene: Scene, t: int) -> None:
        if self.target is SKIP:
            self.sel.target = SKIP
            return
        hand(self.sel, [[None, None, None]] if _draw_bool(self, scene.rng) else [])


class Same(Node):
    """A equal B; each side is a constant word or a Color/Shape getter (never both constants)."""

    __slots__ = ("a", "b", "domain", "children")

    def __init__(self, a: str | _Getter, b: str | _Getter) -> None:
        super().__init__()
        self.a, self.b = a, b
        getter = a if isinstance(a, Node) else b
        self.domain = getter.domain
        self.children = tuple(x for x in (a, b) if isinstance(x, Node))

    @staticmethod
    def _side_text(x) -> str:
        return x if isinstance(x, str) else x.text()

    def text(self) -> str:
        return f"{self._side_text(self.a)} equal {self._side_text(self.b)}"

    @staticmethod
    def _value(x, scene: Scene, t: int):
        return x if isinstance(x, str) else x.evaluate(scene, t)

    def evaluate(self, scene: Scene, t: int):
        va = self._value(self.a, scene, t)
        if va is INVALID:
            return INVALID
        vb = self._value(self.b, scene, t)
        if vb is INVALID:
            return INVALID
        return va == vb

    def guess(self, scene: Scene, t: int) -> None:
        if self.target is SKIP:
            self.skip_children()
            return
        rng, domain = scene.rng, self.domain
        equal = _draw_bool(self, rng)
        da = db = domain
        if scene.combos is not None:  # split scenes: values a getter's constant attribute pairs with
            da, db = _split_domain(self.a, scene.combos, domain), _split_domain(self.b, scene.combos, domain)
        va = self._value(self.a, scene, t)
        vb = self._value(self.b, scene, t)
        if va is not INVALID and vb is not INVALID:
            self.skip_children()
        elif va is not INVALID:  # the known side is left alone (SKIP), the other is steered
            if isinstance(self.a, Node):
                hand(self.a, SKIP)
            equal = equal and (db is domain or va in db)
            hand(self.b, va if equal else _different(rng, db, va))
        elif vb is not INVALID:
            if isinstance(self.b, Node):
                hand(self.b, SKIP)
            equal = equal and (da is domain or vb in da)
            hand(self.a, vb if equal else _different(rng, da, vb))
        else:
            both = da if da is db else tuple(v for v in da if v in db)
            equal = equal and bool(both)  # a split can make equality impossible (combos.py)
            r = rng.choice(both if equal else da)
            hand(self.a, r)
            hand(self.b, r if equal else _different(rng, db, r))


class And(Node):
    """P and Q. Quirk (docs/world-cog.md, 'Quirks kept'): P false → false; otherwise (P true or invalid) → Q's value."""

    __slots__ = ("p", "q", "children")

    def __init__(self, p: Node, q: Node) -> None:
        super().__init__()
        self.p, self.q = p, q
        self.children = (p, q)

    def text(self) -> str:
        return f"{self.p.text()} and {self.q.text()}"

    def evaluate(self, scene: Scene, t: int):
        if self.p.evaluate(scene, t) is False:
            return False
        return self.q.evaluate(scene, t)

    def guess(self, scene: Scene, t: int) -> None:
        if self.target is SKIP:
            self.skip_children()
            return
        rng = scene.rng
        if _draw_bool(self, rng):
            p = q = True
        else:
            u = rng.random()
            p, q = (False, True) if u < 0.414 else (True, False) if u < 0.828 else (False, False)
        hand(self.p, p)
        hand(self.q, q)


class If(Node):
    """if P , then A , else B . — only the taken branch is evaluated."""

    __slots__ = ("p", "a", "b", "children")

    def __init__(self, p: Node, a: Node, b: Node) -> None:
        super().__init__()
        self.p, self.a, self.b = p, a, b
        self.children = (p, a, b)

    def text(self) -> str:
        return f"if {self.p.text()} , then {self.a.text()} , else {self.b.text()} ."

    def evaluate(self, scene: Scene, t: int):
        p = self.p.evaluate(scene, t)
        if p is INVALID:
            return INVALID
        return self.a.evaluate(scene, t) if p else self.b.evaluate(scene, t)

    def guess(self, scene: Scene, t: int) -> None:
        if self.target is SKIP:
            self.skip_children()
            return
        hand(self.p, _draw_bool(self, scene.rng))


def guess_order(root: Node) -> list[Node]:
    """Reverse depth-first post-order, children in declared order, shared nodes once."""
    seen: set[int] = set()
    post: list[Node] = []

    def visit(n: Node) -> None:
        if id(n) in seen:
            return
        seen.add(id(n))
        for c in n.children:
            visit(c)
        post.append(n)

    visit(root)
    post.reverse()
    return post


def question_text(root: Node) -> str:
    """The question with its end mark: ' ?' for Color/Shape/Exist/Same/And roots, If ends in ' .'."""
    text = root.text()
    if isinstance(root, If | Go):
        return text
    return text + " ?"
