"""Strict conversion of YAML values to dataclass field types (private helper of :mod:`vrkit.engine.config`).

Supported annotations: ``int``, ``float``, ``bool``, ``str``, ``X | None``, ``Literal[...]``, ``tuple[T, ...]``,
``tuple[A, B]``, ``list[T]``, ``dict[str, Any]``, ``Any`` and nested dataclasses. A mismatch raises
``TypeError`` with a short message; the caller adds the dotted key.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import types
import typing
from typing import Any, Literal, Union

_MISSING = object()


def _name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def coerce(value: Any, tp: Any, key: str) -> Any:
    """``value`` converted to annotation ``tp`` (ints accepted for floats, lists for tuples); else TypeError."""
    if tp is Any:
        return value
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return coerce(value, arg, key)
            except TypeError as err:
                errors.append(str(err))
        raise TypeError(f"{key}: expected {' or '.join(_name(a) for a in args)}, got {value!r}")
    if origin is Literal:
        if value in args:
            return value
        raise TypeError(f"{key}: expected one of {', '.join(map(repr, args))}, got {value!r}")
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            raise TypeError(f"{key}: expected a list, got {value!r}")
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            if len(args) != len(value):
                raise TypeError(f"{key}: expected {len(args)} values, got {value!r}")
            return tuple(coerce(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(args, value)))
        inner = args[0] if args else Any
        out = [coerce(v, inner, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if origin is dict:
        if not isinstance(value, dict):
            raise TypeError(f"{key}: expected a mapping, got {value!r}")
        return dict(value)
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise TypeError(f"{key}: expected a mapping, got {value!r}")
        return build_dataclass(tp, value, key)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise TypeError(f"{key}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise TypeError(f"{key}: expected an integer, got {value!r}")
    if tp is float:
        number = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):  # PyYAML reads "1e-3" (no dot) as a string
            with contextlib.suppress(ValueError):
                number = float(value)
        if number is not None and math.isfinite(number):
            return number
        raise TypeError(f"{key}: expected a {'number' if number is None else 'finite number'}, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise TypeError(f"{key}: expected a string, got {value!r}")
    raise TypeError(f"{key}: unsupported field type {_name(tp)}")


def build_dataclass(cls: type, values: dict[str, Any], prefix: str = "") -> Any:
    """Instance of dataclass ``cls`` from a mapping; unknown keys and wrong types raise TypeError."""
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(values) - known)
    if unknown:
        where = f"{prefix}." if prefix else ""
        raise TypeError(f"unknown key {where}{unknown[0]} (allowed: {', '.join(sorted(known))})")
    kwargs = {}
    for name, value in values.items():
        kwargs[name] = coerce(value, hints[name], f"{prefix}.{name}" if prefix else name)
    return cls(**kwargs)
