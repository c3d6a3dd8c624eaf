"""The one JSON writer: every JSON file and document recipec writes goes through `dumps`."""

from __future__ import annotations

import json
import math
import re
from json.encoder import encode_basestring  # the C escaper (ensure_ascii=False) when available
from typing import Any

# A list whose items are all numbers, as json.dumps(indent=2) lays it out: one item a line.
# Strings never hold a raw newline, so the pattern cannot match inside one. (The patterns are
# compiled, and cached by `re`, on first use: every command imports this module.)
_NUMBER_LIST = r"\[\n\s+(-?[0-9][-0-9.eE+]*(?:,\n\s+-?[0-9][-0-9.eE+]*)*)\n\s*\]"
_ITEM_BREAK = r",\n\s+"


def dumps(data: Any, *, inline_numbers: bool = False) -> str:
    """Deterministic JSON text: sorted keys, indent 2, UTF-8 as is, a trailing newline.

    NaN and infinities are refused (JSON has no such values) with a ValueError naming where
    they are. INLINE_NUMBERS puts each list of numbers on one line (shapes, per-expert values):
    manifests and imatrix summaries use it to stay small and readable in a diff.
    """
    try:
        text = _encode(data)
    except ValueError:
        where = _non_finite(data, "$")
        if where is None:
            raise
        raise ValueError(f"cannot write JSON: {where[0]} is {where[1]!r}; "
                         "JSON has no NaN or Infinity") from None
    if inline_numbers:
        text = re.sub(_NUMBER_LIST, lambda m: "[" + re.sub(_ITEM_BREAK, ", ", m.group(1)) + "]", text)
    return text + "\n"


class _Other(Exception):
    """A value the fast writer does not handle: json.dumps decides what it becomes."""


# A float json would refuse, where a value can stand (a string cannot hold a raw newline; `": nan,`
# inside a string is a false alarm, which only sends the data the slow way).
_BARE_NON_FINITE = r"(?:^|: |\n *)-?(?:nan|inf)(?=[,\n]|$)"


def _encode(data: Any) -> str:
    """json.dumps(DATA, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False), byte for byte.

    The standard library's encoder is pure Python (a generator per container) as soon as it
    indents; this one looks each scalar's writer up by exact type (C functions: the string
    escaper, int and float repr), sorts and escapes the keys of each kind of dict once (a
    plan's thousands of tensor entries share a few), and builds each container in one join."""
    try:
        text = _Writer().value(data, 0)
    except (_Other, RecursionError):
        text = None
    if text is None or ("nan" in text or "inf" in text) and re.search(_BARE_NON_FINITE, text):
        return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    return text


# The writer of each exact scalar type; subclasses (enums) go the isinstance way, as json does.
_WRITERS: dict[type, Any] = {str: encode_basestring, int: int.__repr__, float: float.__repr__,
                             bool: {True: "true", False: "false"}.__getitem__,
                             type(None): {None: "null"}.__getitem__}


def _scalar(o: Any) -> str | None:
    """The text of a scalar as json writes it (its checks in its order), or None for a container."""
    if isinstance(o, str):
        return encode_basestring(o)
    if o is None or o is True or o is False:
        return _WRITERS[type(o)](o)
    if isinstance(o, int):
        return int.__repr__(o)
    if isinstance(o, float):
        return float.__repr__(o)  # NaN and infinities are caught on the whole text
    return None


def _key(k: Any) -> str:
    """A dict key as json writes it: strings as they are; numbers, booleans and null as text."""
    if isinstance(k, str):
        return encode_basestring(k)
    if isinstance(k, (int, float)) or k is None:
        if isinstance(k, float) and (k != k or k in (math.inf, -math.inf)):
            raise ValueError("Out of range float values are not JSON compliant: " + repr(k))
        return encode_basestring(_scalar(k))
    raise _Other


class _Writer:
    """One encoding: line breaks per level, and per (keys, level) of small string-keyed dicts the
    sorted keys with their written prefixes."""

    def __init__(self) -> None:
        self.breaks = ["\n"]
        self.layouts: dict[tuple, tuple[list, list]] = {}

    def brk(self, level: int) -> str:
        while len(self.breaks) <= level:
            self.breaks.append(self.breaks[-1] + "  ")
        return self.breaks[level]

    def layout(self, keys: tuple, level: int) -> tuple[list, list]:
        """KEYS sorted, and before each its separator, line break, indentation and `"key": `."""
        order = sorted(keys)
        inner = self.brk(level + 1)
        prefixes = [("{" if i == 0 else ",") + inner + encode_basestring(k) + ": " for i, k in enumerate(order)]
        self.layouts[(keys, level)] = found = (order, prefixes)
        return found

    def value(self, o: Any, level: int) -> str:
        write = _WRITERS.get(type(o))
        text = write(o) if write is not None else _scalar(o)
        if text is not None:
            return text
        get, sub = _WRITERS.get, level + 1
        if isinstance(o, dict):
            if not o:
                return "{}"
            keys = tuple(o)
            known = self.layouts.get((keys, level))
            if known is None and len(keys) <= 32 and all(k.__class__ is str for k in keys):
                known = self.layout(keys, level)
            if known is not None:
                order, prefixes = known
                return "".join([p + (w(v) if (w := get(type(v))) else self.value(v, sub))
                                for p, v in zip(prefixes, map(o.__getitem__, order))]) + self.brk(level) + "}"
            inner = self.brk(sub)
            items = [_key(k) + ": " + (w(v) if (w := get(type(v))) else self.value(v, sub))
                     for k, v in sorted(o.items())]
            return "{" + inner + ("," + inner).join(items) + self.brk(level) + "}"
        if not isinstance(o, (list, tuple)):
            raise _Other
        if not o:
            return "[]"
        inner = self.brk(sub)
        items = [w(v) if (w := get(type(v))) else self.value(v, sub) for v in o]
        return "[" + inner + ("," + inner).join(items) + self.brk(level) + "]"


def _non_finite(data: Any, path: str) -> tuple[str, float] | None:
    """(path, value) of the first NaN or infinity in DATA, or None."""
    if isinstance(data, float):
        return None if math.isfinite(data) else (path, data)
    if isinstance(data, dict):
        for k in sorted(data, key=str):
            found = _non_finite(data[k], f"{path}.{k}")
            if found:
                return found
    elif isinstance(data, (list, tuple)):
        for i, v in enumerate(data):
            found = _non_finite(v, f"{path}[{i}]")
            if found:
                return found
    return None
