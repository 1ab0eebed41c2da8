"""Per-scene search state for question instantiation (docs/world-clevr.md, 'Questions'): the filter-key table,
memoised filter options, and the depth-first instantiation of one template.

Sets are bit masks (see :mod:`vrkit.worlds.clevr.executor`). The search mutates one program/outputs list
in place and undoes on backtrack (no copies); options of each node are shuffled with the Generator, which
gives the same distribution as the original's LIFO stack of shuffled children.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from vrkit.worlds.clevr.constants import ATTRIBUTE_ORDER, ATTRIBUTES, RELATIONS
from vrkit.worlds.clevr.executor import INVALID, SceneIndex, apply
from vrkit.worlds.clevr.templates import FILTER_TYPES, RELATE_FILTER_TYPES, Template

Key = tuple[str | None, str | None, str | None, str | None]
_RANDOM = None  # placeholder option: a random key drawn when reached
_VALUES = {**ATTRIBUTES, "relation": RELATIONS}
_ALL_NULL: Key = (None, None, None, None)


class SceneContext:
    """A scene's index plus memoised filter options; build once per scene, share across templates."""

    def __init__(self, scene: dict) -> None:
        self.index = SceneIndex(scene)
        idx = self.index
        table: dict[Key, int] = {}
        for vals in idx.attrs:
            for bits in range(16):
                key = tuple(v if bits >> k & 1 else None for k, v in enumerate(vals))
                if key not in table:
                    m = idx.all
                    for a, v in zip(ATTRIBUTE_ORDER, key):
                        if v is not None:
                            m &= idx.value_mask[(a, v)]
                    table[key] = m  # type: ignore[index]
        self.keys: list[Key] = sorted(table, key=lambda k: tuple("" if v is None else v for v in k))
        self.key_mask = table
        self._unique: dict[int, list[Key]] = {}
        self._relate: dict[tuple[int, str], tuple[list, list]] = {}
        self.options: dict[tuple, tuple[list, int]] = {}  # memoised NULL-compatible filter options
        self.key_bits = {k: sum(1 << j for j, v in enumerate(k) if v is not None) for k in self.keys}

    def unique_keys(self, inp: int) -> list[Key]:
        """Keys selecting exactly one object of ``inp``."""
        got = self._unique.get(inp)
        if got is None:
            got = [k for k in self.keys if (self.key_mask[k] & inp).bit_count() == 1]
            self._unique[inp] = got
        return got

    def relate_options(self, obj: int, need: str) -> tuple[list, list]:
        """(non-trivial, trivial) lists of (relation, key, mask) for relate_filter* from object ``obj``.

        ``need``: "unique" (|I| = 1), "any" (|I| >= 0) or "some" (|I| >= 1)."""
        ck = (obj, need)
        got = self._relate.get(ck)
        if got is None:
            nontrivial, trivial = [], []
            for r in RELATIONS:
                rm = self.index.rel[r][obj]
                for k in self.keys:
                    km = self.key_mask[k]
                    inter = rm & km
                    c = inter.bit_count()
                    if (need == "unique" and c != 1) or (need == "some" and c == 0):
                        continue
                    (trivial if inter == km else nontrivial).append((r, k, inter))
            got = (nontrivial, trivial)
            self._relate[ck] = got
        return got


def relate_irrelevant(program: list[tuple], outs: list, index: SceneIndex) -> bool:
    """True if replacing some ``relate`` node by ``scene`` leaves the last node's output unchanged
    (the degeneracy test; an INVALID recomputation counts as a change). Only nodes downstream
    of the replaced relate are recomputed."""
    n = len(program)
    for ri in range(n):
        if program[ri][0] != "relate":
            continue
        new = list(outs)
        new[ri] = index.all
        dirty = [False] * n
        dirty[ri] = True
        for k in range(ri + 1, n):
            fn, ins, val = program[k]
            if any(dirty[i] for i in ins):
                dirty[k] = True
                new[k] = apply(index, fn, [new[i] for i in ins], val)
        last = new[-1]
        if last is not INVALID and type(last) is type(outs[-1]) and last == outs[-1]:
            return True
    return False


class Budget(Exception):
    """Raised inside the search when the per-template node budget is exhausted."""


class Search:
    """Instantiate one template on one scene. ``accept(answer_str, program, outs)`` decides at leaves
    (balancing, degeneracy); the first accepted instantiation is kept in ``program``/``bindings``."""

    def __init__(self, ctx: SceneContext, template: Template, rng: np.random.Generator,
                 accept: Callable[[str, list[tuple], list], bool], budget: int,
                 blocked: frozenset[str] = frozenset()) -> None:
        self.ctx, self.t, self.rng, self.accept = ctx, template, rng, accept
        self.program: list[tuple] = []  # (function, inputs, value or None)
        self.outs: list = []
        self.tmap: list[int] = []
        self.bindings: dict[str, tuple[str, str | None]] = {}
        self.budget = budget
        self.null = {p for c, ps in template.constraints if c == "NULL" for p in ps}
        self.answer: str | None = None
        self.blocked = blocked
        self.last = len(template.nodes) - 1
        # OUT_NEQ pairs keyed by the later template node
        self.out_neq: dict[int, list[int]] = {}
        for ctype, ps in template.constraints:
            if ctype == "OUT_NEQ":
                a, b = ps
                self.out_neq.setdefault(max(a, b), []).append(min(a, b))
        self.neq = [ps for ctype, ps in template.constraints if ctype == "NEQ"]
        # Early degeneracy pruning at union/intersect nodes is exact when raw relates feed nothing else.
        relates = {k for k, nd in enumerate(template.nodes) if nd.type == "relate"}
        self.prune_degenerate = bool(relates) and all(
            nd.type in ("union", "intersect") or not relates.intersection(nd.inputs) for nd in template.nodes
        )

    # ----------------------------------------------------------------- helpers
    def _emit(self, fn: str, inputs: tuple, value: str | None, out) -> int:
        self.program.append((fn, inputs, value))
        self.outs.append(out)
        return len(self.program) - 1

    def released_program(self) -> list[dict]:
        """The accepted program in released form."""
        return [{"function": fn, "inputs": list(ins), "value_inputs": [] if v is None else [v]}
                for fn, ins, v in self.program]

    def _undo(self, n_prog: int, names: tuple[str, ...]) -> None:
        del self.program[n_prog:]
        del self.outs[n_prog:]
        for nm in names:
            self.bindings.pop(nm, None)

    def _early_ok(self, t_idx: int, out) -> bool:
        """Checks possible before emitting template node ``t_idx`` with output ``out``: OUT_NEQ and a
        look-ahead at the answer (balancing-blocked answers are never accepted)."""
        for a in self.out_neq.get(t_idx, ()):
            if self.outs[self.tmap[a]] == out:
                return False
        if not self.blocked:
            return True
        if t_idx == self.last:
            ans = out
        elif t_idx + 1 == self.last:
            nd = self.t.nodes[self.last]
            if nd.side or nd.type in self._TEMPLATE_ONLY:
                return True
            args = [out if i == t_idx else self.outs[self.tmap[i]] for i in nd.inputs]
            ans = apply(self.ctx.index, nd.type, args)
            if ans is INVALID:
                return False
        else:
            return True
        ans = ("yes" if ans else "no") if isinstance(ans, bool) else str(ans)
        return ans not in self.blocked

    _TEMPLATE_ONLY = frozenset(FILTER_TYPES) | frozenset(RELATE_FILTER_TYPES)

    def _constraints_ok(self, t_idx: int) -> bool:
        # intended NEQ logic (quirk Q7 inverted it): bound values must differ
        for a, b in self.neq:
            if a in self.bindings and b in self.bindings and self.bindings[a][1] == self.bindings[b][1]:
                return False
        return True

    def _random_key(self) -> Key:
        out = []
        for a in ATTRIBUTE_ORDER:
            vals = ATTRIBUTES[a]
            j = int(self.rng.integers(len(vals) + 1))
            out.append(vals[j] if j < len(vals) else None)
        return tuple(out)  # type: ignore[return-value]

    def _order(self, n: int) -> list[int]:
        return self.rng.permutation(n).tolist() if n > 1 else list(range(n))

    # ----------------------------------------------------------------- search
    def run(self) -> bool:
        try:
            return self._dfs(0)
        except Budget:
            return False

    def _tick(self) -> None:
        self.budget -= 1
        if self.budget < 0:
            raise Budget

    def _dfs(self, t_idx: int) -> bool:
        self._tick()
        nodes = self.t.nodes
        if t_idx == len(nodes):
            out = self.outs[-1]
            ans = ("yes" if out else "no") if isinstance(out, bool) else str(out)
            if self.accept(ans, self.program, self.outs):
                self.answer = ans
                return True
            return False
        nd = nodes[t_idx]
        ins = [self.tmap[i] for i in nd.inputs]
        t = nd.type
        if t in FILTER_TYPES:
            return self._expand_filter(t_idx, nd, ins[0], None)
        if t in RELATE_FILTER_TYPES:
            return self._expand_filter(t_idx, nd, ins[0], nd.relation)
        args = [self.outs[i] for i in ins]
        if not nd.side:
            out = apply(self.ctx.index, t, args)
            if out is INVALID:
                return False
            return self._descend(t_idx, t, ins, None, out, ())
        name = nd.side[0]
        kind = self.t.params[name]
        vals = _VALUES[kind]
        for j in self._order(len(vals)):
            v = vals[j]
            out = apply(self.ctx.index, t, args, v)
            self.bindings[name] = (kind, v)
            if self._descend(t_idx, t, ins, v, out, (name,)):
                return True
        return False

    def _descend(self, t_idx: int, fn: str, ins: list[int], value, out, names: tuple[str, ...]) -> bool:
        n_prog = len(self.program)
        if not self._early_ok(t_idx, out):
            self._undo(n_prog, names)
            return False
        self.tmap.append(self._emit(fn, tuple(ins), value, out))
        ok = self._constraints_ok(t_idx)
        if ok and self.prune_degenerate and fn in ("intersect", "union"):
            # if a relation is already irrelevant here, it stays irrelevant for every completion
            ok = not relate_irrelevant(self.program, self.outs, self.ctx.index)
        ok = ok and self._dfs(t_idx + 1)
        if not ok:
            self.tmap.pop()
            self._undo(n_prog, names)
        return ok

    def _expand_filter(self, t_idx: int, nd, inp_idx: int, rel_param: str | None) -> bool:
        ctx, t = self.ctx, nd.type
        suffix = t.rsplit("_", 1)[-1] if t not in ("filter", "relate_filter") else ""
        group = [nd.group[a] for a in ATTRIBUTE_ORDER]
        need_null = tuple(p in self.null for p in group)
        inp = self.outs[inp_idx]

        null_bits = sum(1 << k for k, nn in enumerate(need_null) if nn)
        bits = ctx.key_bits

        def compatible(key: Key) -> bool:  # NULL constraints would reject any other binding
            b = bits.get(key)
            if b is None:
                b = sum(1 << k for k, v in enumerate(key) if v is not None)
            return not b & null_bits

        if rel_param is None:
            ck = ("f", suffix, inp, need_null)
            cached = ctx.options.get(ck)
            if cached is None:
                if suffix == "unique":
                    base, n_random = ctx.unique_keys(inp), 0
                else:
                    base = [k for k in ctx.keys if k != _ALL_NULL] if suffix == "" else ctx.keys
                    n_random = len(base) if suffix == "exist" else len(ctx.unique_keys(inp))
                cached = ([k for k in base if compatible(k)], n_random)
                ctx.options[ck] = cached
            options: list = cached[0] + [_RANDOM] * cached[1]
        else:
            need = "unique" if suffix == "unique" else "some" if suffix == "" else "any"
            ck = ("r", need, inp, need_null)
            cached = ctx.options.get(ck)
            nontrivial, trivial = ctx.relate_options(inp, need)
            if cached is None:
                cached = ([o for o in nontrivial if compatible(o[1])], 0)
                ctx.options[ck] = cached
            options = list(cached[0])
            n_triv = min(len(trivial), round(len(nontrivial) * 0.1 / 0.9))
            if n_triv:
                options += [o for o in (trivial[j] for j in self._order(len(trivial))[:n_triv]) if compatible(o[1])]
        for j in self._order(len(options)):
            opt = options[j]
            if rel_param is None:
                rel = None
                if opt is _RANDOM:
                    key = self._random_key()
                    if not compatible(key):
                        continue
                else:
                    key = opt
            else:
                rel, key, _ = opt
            if self._try_key(t_idx, key, rel, rel_param, group, inp_idx, suffix):
                return True
        return False

    def _try_key(self, t_idx, key: Key, rel, rel_param, group, inp_idx: int, suffix: str) -> bool:
        self._tick()
        idx = self.ctx.index
        # output of the whole group first (mask arithmetic only), so rejections cost no emission
        m = self.outs[inp_idx]
        if rel_param is not None:
            m = idx.rel[rel][m]
        for a, v in zip(ATTRIBUTE_ORDER, key):
            if v is not None:
                m &= idx.value_mask.get((a, v), 0)
        if suffix == "unique":
            if m == 0 or m & (m - 1):
                return False
            out = m.bit_length() - 1
        elif suffix == "count":
            out = m.bit_count()
        elif suffix == "exist":
            out = m != 0
        else:
            out = m
        if not self._early_ok(t_idx, out):
            return False
        n_prog = len(self.program)
        cur, cur_out = inp_idx, self.outs[inp_idx]
        names: list[str] = []
        if rel_param is not None:
            self.bindings[rel_param] = ("relation", rel)
            names.append(rel_param)
            cur_out = idx.rel[rel][cur_out]
            cur = self._emit("relate", (cur,), rel, cur_out)
        for a, p, v in zip(ATTRIBUTE_ORDER, group, key):
            self.bindings[p] = (a, v)
            names.append(p)
            if v is not None:
                cur_out = cur_out & idx.value_mask.get((a, v), 0)
                cur = self._emit(f"filter_{a}", (cur,), v, cur_out)
        if suffix:
            cur = self._emit(suffix, (cur,), None, out)
        self.tmap.append(cur)
        ok = self._constraints_ok(t_idx) and self._dfs(t_idx + 1)
        if not ok:
            self.tmap.pop()
            self._undo(n_prog, tuple(names))
        return ok
