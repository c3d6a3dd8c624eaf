"""Model readers: GGUF (single file or split shards, headers only) and the manifest JSON, both ways."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

from gguf import GGMLQuantizationType, GGUFReader

from recipec import jsonio
from recipec.diagnostics import error
from recipec.ggml import canonical_type
from recipec.gguffile import MAX_NAME, MAX_TENSORS, array_length, field_value, open_gguf, sniff
from recipec.llamacpp import ADDED_KEYS, SPLIT_KEYS
from recipec.loaders.limits import MAX_DIM, check_layout, check_metadata, read_json
from recipec.modelinfo import ModelInfo, SourceInfo, TensorInfo, make_tensors, split_name

MANIFEST_SCHEMA = "recipec.manifest/1"
SHARD_RE = re.compile(r"^(?P<stem>.+)-(?P<no>\d{5})-of-(?P<count>\d{5})\.gguf$")

# Architecture keys (without the `<arch>.` prefix) copied into ModelInfo.metadata and manifests.
ARCH_KEYS: tuple[str, ...] = (
    "context_length", "embedding_length", "block_count", "feed_forward_length", "vocab_size",
    "nextn_predict_layers", "full_attention_interval", "leading_dense_block_count",
    "expert_count", "expert_used_count", "expert_shared_count", "expert_feed_forward_length",
    "expert_shared_feed_forward_length",
    "attention.head_count", "attention.head_count_kv", "attention.key_length",
    "attention.value_length", "attention.key_length_mla", "attention.value_length_mla",
    "attention.kv_lora_rank", "attention.q_lora_rank", "attention.sliding_window",
    "attention.sliding_window_pattern", "attention.recurrent_layers",
    "rope.dimension_count", "rope.dimension_sections",
    "ssm.conv_kernel", "ssm.state_size", "ssm.group_count", "ssm.inner_size", "ssm.time_step_rank",
)


def load_model(path: str | os.PathLike) -> ModelInfo:
    """ModelInfo from a GGUF (first shard) or a manifest JSON, told apart by the first bytes."""
    kind = sniff(path, "M101")
    if kind == "gguf":
        return read_gguf_model(path)
    if kind == "json":
        return read_manifest(path)
    raise error("M101", f"{path}: neither a GGUF model (wrong magic) nor a manifest JSON",
                hint="pass a .gguf model (first shard) or a recipec manifest")


# --- GGUF ----------------------------------------------------------------------------------------

def _type_name(raw: Any) -> str:
    return raw.name if isinstance(raw, GGMLQuantizationType) else GGMLQuantizationType(int(raw)).name


def _header_sha256(reader: GGUFReader) -> str:
    return hashlib.sha256(memoryview(reader.data[: reader.data_offset])).hexdigest()


def _source(path: Path, reader: GGUFReader) -> SourceInfo:
    return SourceInfo(name=path.name, size=os.path.getsize(path),
                      header_sha256=_header_sha256(reader), data_offset=int(reader.data_offset))


def _split_keys(reader: GGUFReader, path: Path) -> tuple[int | None, int | None, int | None]:
    out = []
    for key in ("split.no", "split.count", "split.tensors.count"):
        v = field_value(reader, key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 1 << 32):
            raise error("M102", f"{path}: {key} = {repr(v)[:60]} is not a shard number or count")
        out.append(v)
    return out[0], out[1], out[2]


def shard_paths(first: Path, count: int) -> list[Path]:
    """The paths of all COUNT shards of a split model, given its first shard."""
    m = SHARD_RE.match(first.name)
    if not m:
        raise error("M102", f"{first}: split.count is {count} but the name is not NAME-00001-of-{count:05d}.gguf",
                    hint="keep the shard names gguf-split wrote")
    if int(m["no"]) != 1:
        raise error("M102", f"{first}: shard {int(m['no'])} given; pass the first shard (-00001-of-…)",
                    hint=f"use {m['stem']}-00001-of-{m['count']}.gguf")
    if int(m["count"]) != count:
        raise error("M102", f"{first}: the name says {int(m['count'])} shards, split.count says {count}")
    return [first.with_name(f"{m['stem']}-{i:05d}-of-{count:05d}.gguf") for i in range(1, count + 1)]


def _single(path: Path, reader: GGUFReader, no: int | None, count: int | None, total: int | None) -> None:
    """A file that says it is not split: its name and split.tensors.count must agree."""
    if no not in (None, 0):
        raise error("M102", f"{path}: split.no is {no} but split.count is {count}")
    m = SHARD_RE.match(path.name)
    if m and int(m["count"]) != 1:
        raise error("M102", f"{path}: the name says shard {int(m['no'])} of {int(m['count'])}, but "
                            f"split.count is {count}: the other shards' tensors would be left out",
                    hint="the split keys are damaged; download the shards again")
    if total is not None and total != len(reader.tensors):
        raise error("M102", f"{path}: split.tensors.count is {total} but the file holds {len(reader.tensors)} "
                            "tensors", hint="the file is a shard of a split model, or damaged")


def _read_shards(path: Path) -> list[tuple[Path, GGUFReader]]:
    first = open_gguf(path, "M101")
    no, count, total = _split_keys(first, path)
    if count is None or count <= 1:
        _single(path, first, no, count, total)
        return [(path, first)]
    if no not in (None, 0):
        raise error("M102", f"{path}: this is shard {int(no) + 1} of {count}; pass the first shard",
                    hint="use the -00001-of- file")
    shards = [(path, first)]
    for i, p in enumerate(shard_paths(path, count)[1:], start=1):
        if not p.exists():
            raise error("M102", f"{p}: shard {i + 1} of {count} is missing",
                        hint="download every shard next to the first one")
        r = open_gguf(p, "M102")
        sno, scount, stotal = _split_keys(r, p)
        if sno != i or scount != count or stotal != total:
            raise error("M102", f"{p}: inconsistent split keys (split.no={sno}, split.count={scount}, "
                                f"split.tensors.count={stotal}; expected {i}, {count}, {total})",
                        hint="the shards come from different splits; download them again")
        shards.append((p, r))
    n = sum(len(r.tensors) for _, r in shards)
    if total is not None and n != total:
        raise error("M102", f"{path}: the shards hold {n} tensors but split.tensors.count is {total}")
    return shards


def _metadata(reader: GGUFReader, arch: str, tensors: list[tuple[str, tuple[int, ...], str]], path: str) -> dict:
    md: dict[str, Any] = {}
    for key in ARCH_KEYS:
        v = field_value(reader, f"{arch}.{key}")
        if v is not None:
            md[key] = v
    if "vocab_size" not in md:
        n = array_length(reader, "tokenizer.ggml.tokens")
        if n is None:
            emb = next((s for name, s, _ in tensors if name == "token_embd.weight"), None)
            n = emb[1] if emb is not None and len(emb) > 1 else None
        if n is not None:
            md["vocab_size"] = int(n)
    ft = field_value(reader, "general.file_type")
    if ft is not None:
        check_metadata({"file_type": ft}, path, "general.")
        md["file_type"] = ft
    md["tied_embeddings"] = not any(name == "output.weight" for name, _, _ in tensors)
    return md


def read_gguf_model(path: str | os.PathLike) -> ModelInfo:
    """ModelInfo of a GGUF model (the first shard of a split model finds the others)."""
    path = Path(path)
    shards = _read_shards(path)
    reader = shards[0][1]
    kind = field_value(reader, "general.type")
    if kind == "imatrix" or (field_value(reader, "imatrix.chunk_count") is not None):
        raise error("M104", f"{path}: this is an imatrix, not a model",
                    hint="pass it with --imatrix, or give the model GGUF")
    arch = field_value(reader, "general.architecture")
    if not isinstance(arch, str) or not arch:
        raise error("M104", f"{path}: no general.architecture: not a llama.cpp model",
                    hint="pass a model GGUF written by convert_hf_to_gguf.py or llama-quantize")
    raw: list[tuple[str, tuple[int, ...], str]] = []
    try:
        for _, r in shards:
            for t in r.tensors:
                raw.append((t.name, tuple(t.shape.tolist()), _type_name(t.tensor_type)))
    except ValueError as exc:
        raise error("M101", f"{path}: bad tensor type: {exc}") from None
    if len({n for n, _, _ in raw}) != len(raw):
        raise error("M101", f"{path}: duplicate tensor names across shards")
    md = _metadata(reader, arch, raw, str(path))
    check_metadata(md, str(path), f"{arch}.")
    roles = [split_name(n) for n, _, _ in raw]
    layers = [layer for _, layer in roles]
    block_count = md.get("block_count")
    if block_count is None:  # infer from the names when the key is absent
        block_count = max((x for x in layers if x is not None), default=-1) + 1
    nextn = md.get("nextn_predict_layers") or 0
    check_layout(block_count, nextn, layers, str(path), f"{arch}.")
    tensors: tuple[TensorInfo, ...] = make_tensors(raw, roles, block_count, nextn)
    alignment = field_value(reader, "general.alignment", 32)
    return ModelInfo(arch=arch, tensors=tensors, block_count=block_count, nextn_layers=nextn,
                     alignment=int(alignment), sources=tuple(_source(p, r) for p, r in shards),
                     metadata=md)


# --- the manifest (schema recipec.manifest/1) -----------------------------------------------------

def manifest_dict(info: ModelInfo) -> dict[str, Any]:
    """The manifest of INFO as plain JSON data (tensors in file order)."""
    return {
        "schema": MANIFEST_SCHEMA,
        "arch": info.arch,
        "alignment": info.alignment,
        "source": {"files": [
            {"name": s.name, "size": s.size, "header_sha256": s.header_sha256,
             "data_offset": s.data_offset} for s in info.sources]},
        "metadata": {k: (list(v) if isinstance(v, tuple) else v) for k, v in info.metadata.items()},
        "tensors": [{"name": t.name, "shape": list(t.shape), "type": t.type} for t in info.tensors],
    }


def dumps_manifest(info: ModelInfo) -> str:
    """The manifest of INFO as deterministic JSON text (lists of numbers on one line)."""
    return jsonio.dumps(manifest_dict(info), inline_numbers=True)


_MANIFEST_HINT = "regenerate it with `recipec inspect MODEL.gguf -o MODEL.manifest.json`"


def _bad(path: str, what: str) -> Exception:
    return error("M103", f"{path}: {what}", hint=_MANIFEST_HINT)


def _int(v: Any, path: str, what: str, lo: int = 0, hi: int = 1 << 62) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise _bad(path, f"{what} must be an integer from {lo} to {hi}, got {repr(v)[:60]}")
    return v


def _manifest_tensors(rows: list, path: str) -> list[tuple[str, list[int], str]]:
    """(name, shape, canonical type) of every tensor row, each field checked."""
    out, seen = [], set()
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or not isinstance(row.get("name"), str):
            raise _bad(path, f"tensors[{i}] needs a name")
        name, shape, tname = row["name"], row.get("shape"), row.get("type")
        if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME:
            raise _bad(path, f"tensors[{i}]: a name of more than {MAX_NAME} bytes (llama.cpp's limit)")
        if name in seen:
            raise _bad(path, f"tensor {name} appears twice")
        seen.add(name)
        if not isinstance(shape, list) or not 1 <= len(shape) <= 4:
            raise _bad(path, f"tensor {name}: shape must be a list of 1 to 4 dimensions")
        for d in shape:
            _int(d, path, f"tensor {name}: a dimension", 1, MAX_DIM)
        canon = canonical_type(tname) if isinstance(tname, str) else None
        if canon is None:
            raise _bad(path, f"tensor {name}: unknown ggml type {repr(tname)[:40]}")
        out.append((name, shape, canon))
    return out


def _manifest_sources(source: Any, path: str) -> tuple[SourceInfo, ...]:
    if source is None:
        return ()
    files = source.get("files", []) if isinstance(source, dict) else None
    if not isinstance(files, list):
        raise _bad(path, "source must be an object whose files are a list")
    sources = []
    for f in files:
        if not isinstance(f, dict) or not isinstance(f.get("name"), str):
            raise _bad(path, "every source file needs a name")
        sha = f.get("header_sha256", "")
        if not isinstance(sha, str):
            raise _bad(path, f"source {f['name']}: header_sha256 must be a string")
        sources.append(SourceInfo(name=f["name"], size=_int(f.get("size", 0), path, "source size"),
                                  header_sha256=sha,
                                  data_offset=_int(f.get("data_offset", 0), path, "data_offset")))
    return tuple(sources)


def manifest_to_info(data: Any, path: str = "<manifest>") -> ModelInfo:
    """ModelInfo from parsed manifest DATA; every field is checked (M103; metadata values M109)."""
    if not isinstance(data, dict):
        raise _bad(path, "not a JSON object")
    if data.get("schema") != MANIFEST_SCHEMA:
        if isinstance(data.get("schema"), str) and data["schema"].startswith("recipec.imatrix"):
            raise error("M104", f"{path}: this is an imatrix summary, not a model manifest",
                        hint="pass it with --imatrix")
        raise _bad(path, f"schema is {repr(data.get('schema'))[:60]}, expected {MANIFEST_SCHEMA!r}")
    arch, md, rows = data.get("arch"), data.get("metadata", {}), data.get("tensors")
    if not isinstance(arch, str) or not arch:
        raise _bad(path, "arch is missing")
    if not isinstance(md, dict) or not isinstance(rows, list):
        raise _bad(path, "metadata must be an object and tensors a list")
    check_metadata(md, path)
    if len(rows) > MAX_TENSORS:
        raise _bad(path, f"{len(rows)} tensors: more than the {MAX_TENSORS} recipec reads")
    raw = _manifest_tensors(rows, path)
    roles = [split_name(n) for n, _, _ in raw]
    layers = [layer for _, layer in roles]
    block_count = md.get("block_count")
    if block_count is None:  # as for a GGUF without the key: from the names
        block_count = max((x for x in layers if x is not None), default=-1) + 1
    nextn = md.get("nextn_predict_layers", 0) or 0
    check_layout(block_count, nextn, layers, path)
    tensors = make_tensors(raw, roles, block_count, nextn)
    return ModelInfo(arch=arch, tensors=tensors, block_count=block_count, nextn_layers=nextn,
                     alignment=_int(data.get("alignment", 32), path, "alignment", 1, 1 << 16),
                     sources=_manifest_sources(data.get("source"), path), metadata=dict(md))


def read_manifest(path: str | os.PathLike) -> ModelInfo:
    """ModelInfo from a manifest JSON file."""
    data = read_json(path, "M103", "a recipec manifest", _MANIFEST_HINT)
    return manifest_to_info(data, str(path))


def output_kv_bytes(path: str | os.PathLike) -> int:
    """Exact bytes of the key/value section llama-quantize writes for the GGUF at PATH (first shard):
    the source's keys less the split keys, plus the keys the run adds."""
    reader = open_gguf(path, "M101")
    total = 0
    keys = set()
    for name, field in reader.fields.items():
        if name.startswith("GGUF.") or name in SPLIT_KEYS:
            continue
        keys.add(name)
        total += sum(int(p.nbytes) for p in field.parts)
    for key in ADDED_KEYS:
        if key not in keys:
            total += 8 + len(key) + 4 + 4
    return total
