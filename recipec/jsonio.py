"""The one JSON writer: every JSON file and document recipec writes goes through `dumps`."""

from __future__ import annotations

import json
import math
import re
from typing import Any

# A list whose items are all numbers, as json.dumps(indent=2) lays it out: one item a line.
# Strings never hold a raw newline, so the pattern cannot match inside one.
_NUMBER_LIST = re.compile(r"\[\n\s+(-?[0-9][-0-9.eE+]*(?:,\n\s+-?[0-9][-0-9.eE+]*)*)\n\s*\]")
_ITEM_BREAK = re.compile(r",\n\s+")


def dumps(data: Any, *, inline_numbers: bool = False) -> str:
    """Deterministic JSON text: sorted keys, indent 2, UTF-8 as is, a trailing newline.

    NaN and infinities are refused (JSON has no such values) with a ValueError naming where
    they are. INLINE_NUMBERS puts each list of numbers on one line (shapes, per-expert values):
    manifests and imatrix summaries use it to stay small and readable in a diff.
    """
    try:
        text = json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    except ValueError:
        where = _non_finite(data, "$")
        if where is None:
            raise
        raise ValueError(f"cannot write JSON: {where[0]} is {where[1]!r}; "
                         "JSON has no NaN or Infinity") from None
    if inline_numbers:
        text = _NUMBER_LIST.sub(lambda m: "[" + _ITEM_BREAK.sub(", ", m.group(1)) + "]", text)
    return text + "\n"


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
