"""Limits on what a model's metadata and the JSON inputs may claim, checked once for every reader.

A header or manifest is a few bytes that can claim anything: a block count of 2^32 makes every
per-layer table the compiler builds that large. Each key is therefore checked for its type and
range, and the block layout against the tensors that are actually present (the README's "Limits"
section lists the numbers). Errors are M109 (model metadata); JSON files too large, too deep or
holding NaN/Infinity are the reader's own code (M103 manifest, I106 imatrix summary).
"""

from __future__ import annotations

import json
import math
import os
from typing import Any, Iterable, Mapping

from recipec.diagnostics import error
from recipec.gguffile import check_path, check_regular

MAX_BLOCKS = 65_535  # blocks (layers) of a model, MTP blocks included
MAX_JSON_BYTES = 32 << 20  # a manifest or imatrix summary (200,000 tensors take about 20 MB)
MAX_LIST = MAX_BLOCKS + 1  # items of a per-layer metadata array
MAX_DIM = 1 << 40  # elements along one dimension of a tensor
_BIG = 1 << 24  # widths: embedding, feed-forward, vocabulary, ssm sizes
_HEADS = 1 << 16  # heads, experts
_CTX = 1 << 30  # tokens of context or of a sliding window

# key (without the `<arch>.` prefix) -> the largest value accepted; every value is an integer >= 0
# (or a bool), alone or as one per layer.
INT_LIMITS: dict[str, int] = {
    "block_count": MAX_BLOCKS, "nextn_predict_layers": MAX_BLOCKS,
    "leading_dense_block_count": MAX_BLOCKS, "full_attention_interval": MAX_BLOCKS,
    "context_length": _CTX, "attention.sliding_window": _CTX, "attention.sliding_window_pattern": MAX_BLOCKS,
    "embedding_length": _BIG, "feed_forward_length": _BIG, "vocab_size": _BIG,
    "expert_feed_forward_length": _BIG, "expert_shared_feed_forward_length": _BIG,
    "expert_count": _HEADS, "expert_used_count": _HEADS, "expert_shared_count": _HEADS,
    "attention.head_count": _HEADS, "attention.head_count_kv": _HEADS,
    "attention.key_length": _BIG, "attention.value_length": _BIG, "attention.key_length_mla": _BIG,
    "attention.value_length_mla": _BIG, "attention.kv_lora_rank": _BIG, "attention.q_lora_rank": _BIG,
    "attention.recurrent_layers": 1, "rope.dimension_count": _BIG, "rope.dimension_sections": _BIG,
    "ssm.conv_kernel": _BIG, "ssm.state_size": _BIG, "ssm.group_count": _BIG, "ssm.inner_size": _BIG,
    "ssm.time_step_rank": _BIG, "wkv.head_size": _BIG, "token_shift_count": _BIG, "file_type": 1 << 16,
}
# Keys that may hold one value per layer (a list); the other INT_LIMITS keys are single integers.
PER_LAYER = frozenset({"attention.head_count", "attention.head_count_kv", "feed_forward_length",
                       "expert_used_count", "expert_feed_forward_length", "attention.sliding_window_pattern",
                       "attention.recurrent_layers", "rope.dimension_sections"})
# Keys whose values may also be true/false (one flag per layer).
BOOL_KEYS = frozenset({"attention.recurrent_layers", "attention.sliding_window_pattern"})


def _bad(path: str, key: str, value: Any, why: str) -> Exception:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return error("M109", f"{path}: metadata {key} = {shown}: {why}",
                 hint="the file's metadata is damaged or was edited; regenerate it from the model")


def _check_int(path: str, key: str, name: str, value: Any, hi: int, shown: Any) -> None:
    if isinstance(value, bool) and key in BOOL_KEYS:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        lists = " (or a list of them, one per layer)" if key in PER_LAYER and shown is value else ""
        raise _bad(path, name, shown, f"must be an integer{lists}")
    if not 0 <= value <= hi:
        raise _bad(path, name, shown, f"out of range (0 to {hi})")


def check_metadata(md: Mapping[str, Any], path: str, prefix: str = "") -> None:
    """Every known key an integer (or per-layer list of integers) within INT_LIMITS; other keys
    plain scalars or flat lists of them, numbers finite. Raises M109 naming the key (PREFIX + key)
    and the value."""
    for key, value in md.items():
        name, hi = prefix + key, INT_LIMITS.get(key)
        if isinstance(value, list):
            if hi is not None and key not in PER_LAYER:
                raise _bad(path, name, value, "must be a single integer, not a list")
            if len(value) > MAX_LIST:
                raise _bad(path, name, f"<a list of {len(value)} items>", f"more than {MAX_LIST} items")
            for item in value:
                _check_item(path, key, name, item, hi, value)
        elif key == "tied_embeddings":
            if not isinstance(value, bool):
                raise _bad(path, name, value, "must be true or false")
        else:
            _check_item(path, key, name, value, hi, value)


def _check_item(path: str, key: str, name: str, item: Any, hi: int | None, whole: Any) -> None:
    if hi is not None:
        _check_int(path, key, name, item, hi, whole)
    elif isinstance(item, float) and not math.isfinite(item):
        raise _bad(path, name, whole, "not a finite number")
    elif item is not None and not isinstance(item, (bool, int, float, str)):
        raise _bad(path, name, whole, "must be a number, a string or a flat list of them")


def check_layout(block_count: int, nextn: int, layers: Iterable[int | None], path: str,
                 key_prefix: str = "") -> None:
    """Block count and MTP blocks consistent with the tensors present: no tensor past the last
    block, and no more blocks than the tensors hold (MTP blocks may have been stripped)."""
    top = max((x for x in layers if x is not None), default=-1)
    bc, nx = f"{key_prefix}block_count", f"{key_prefix}nextn_predict_layers"
    if block_count > MAX_BLOCKS:  # inferred from the names when the key is absent
        raise _bad(path, bc, block_count, f"out of range (0 to {MAX_BLOCKS}): a tensor of block {top}")
    if nextn and nextn >= block_count:
        raise _bad(path, nx, nextn, f"leaves no trunk block ({bc} = {block_count})")
    if top >= block_count:
        raise _bad(path, bc, block_count, f"a tensor of block {top} lies past the last block")
    if top >= 0 and block_count > top + 1 + nextn:  # no blk.N names at all: another layout (enc./dec.)
        raise _bad(path, bc, block_count, f"the file has tensors for blocks 0 to {top} only ({nx} = {nextn})")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


def read_json(path: str | os.PathLike, code: str, what: str, hint: str) -> Any:
    """Parsed JSON of PATH: at most MAX_JSON_BYTES, UTF-8, finite numbers, nesting within Python's
    limit; every failure is a diagnostic CODE naming the file."""
    check_path(path, code)
    check_regular(path, code)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_JSON_BYTES + 1)
    except OSError as exc:
        raise error(code, f"{path}: cannot read: {exc.strerror or exc}",
                    hint="check the path and permissions") from None
    if len(raw) > MAX_JSON_BYTES:
        raise error(code, f"{path}: larger than {MAX_JSON_BYTES >> 20} MiB: too large for {what}", hint=hint)
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant, parse_float=_finite)
    except RecursionError:
        raise error(code, f"{path}: not {what}: JSON nested too deeply", hint=hint) from None
    except MemoryError:
        raise error(code, f"{path}: not {what}: too many values to hold in memory", hint=hint) from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise error(code, f"{path}: not valid JSON: {exc}", hint=hint) from None
