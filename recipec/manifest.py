"""The model manifest (schema recipec.manifest/1): ModelInfo <-> deterministic JSON; load_model."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from recipec.diagnostics import error
from recipec.ggml import canonical_type
from recipec.gguffile import sniff
from recipec.modelinfo import ModelInfo, SourceInfo, make_tensor

SCHEMA = "recipec.manifest/1"


def manifest_dict(info: ModelInfo) -> dict[str, Any]:
    """The manifest of INFO as plain JSON data (tensors in file order)."""
    return {
        "schema": SCHEMA,
        "arch": info.arch,
        "alignment": info.alignment,
        "source": {"files": [
            {"name": s.name, "size": s.size, "header_sha256": s.header_sha256,
             "data_offset": s.data_offset} for s in info.sources]},
        "metadata": {k: (list(v) if isinstance(v, tuple) else v) for k, v in info.metadata.items()},
        "tensors": [{"name": t.name, "shape": list(t.shape), "type": t.type} for t in info.tensors],
    }


_NUMBER_LIST = re.compile(r"\[\n\s+(-?[0-9][-0-9.eE+]*(?:,\n\s+-?[0-9][-0-9.eE+]*)*)\n\s*\]")


def dumps_json(data: Any) -> str:
    """Deterministic JSON text: sorted keys, indent 2, lists of numbers on one line, trailing newline."""
    text = json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    return _NUMBER_LIST.sub(lambda m: "[" + re.sub(r",\n\s+", ", ", m.group(1)) + "]", text) + "\n"


def dumps_manifest(info: ModelInfo) -> str:
    """The manifest of INFO as deterministic JSON text."""
    return dumps_json(manifest_dict(info))


def _bad(path: str, what: str) -> Exception:
    return error("M103", f"{path}: {what}",
                 hint="regenerate it with `recipec inspect MODEL.gguf -o MODEL.manifest.json`")


def _int(v: Any, path: str, what: str, lo: int = 0) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise _bad(path, f"{what} must be an integer >= {lo}, got {v!r}")
    return v


def manifest_to_info(data: Any, path: str = "<manifest>") -> ModelInfo:
    """ModelInfo from parsed manifest DATA; every field is checked (errors are M103)."""
    if not isinstance(data, dict):
        raise _bad(path, "not a JSON object")
    if data.get("schema") != SCHEMA:
        if isinstance(data.get("schema"), str) and data["schema"].startswith("recipec.imatrix"):
            raise error("M104", f"{path}: this is an imatrix summary, not a model manifest",
                        hint="pass it with --imatrix")
        raise _bad(path, f"schema is {data.get('schema')!r}, expected {SCHEMA!r}")
    arch, md, rows = data.get("arch"), data.get("metadata", {}), data.get("tensors")
    if not isinstance(arch, str) or not arch:
        raise _bad(path, "arch is missing")
    if not isinstance(md, dict) or not isinstance(rows, list):
        raise _bad(path, "metadata must be an object and tensors a list")
    block_count = _int(md.get("block_count", 0), path, "metadata.block_count")
    nextn = _int(md.get("nextn_predict_layers", 0) or 0, path, "metadata.nextn_predict_layers")
    if nextn > block_count:
        raise _bad(path, f"nextn_predict_layers {nextn} exceeds block_count {block_count}")
    tensors, seen = [], set()
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or not isinstance(row.get("name"), str):
            raise _bad(path, f"tensors[{i}] needs a name")
        name, shape, tname = row["name"], row.get("shape"), row.get("type")
        if name in seen:
            raise _bad(path, f"tensor {name} appears twice")
        seen.add(name)
        if not isinstance(shape, list) or not 1 <= len(shape) <= 4:
            raise _bad(path, f"tensor {name}: shape must be a list of 1 to 4 dimensions")
        for d in shape:
            _int(d, path, f"tensor {name}: a dimension", 1)
        canon = canonical_type(tname) if isinstance(tname, str) else None
        if canon is None:
            raise _bad(path, f"tensor {name}: unknown ggml type {tname!r}")
        tensors.append(make_tensor(name, shape, canon, block_count, nextn))
    files = (data.get("source") or {}).get("files", [])
    if not isinstance(files, list):
        raise _bad(path, "source.files must be a list")
    sources = []
    for f in files:
        if not isinstance(f, dict) or not isinstance(f.get("name"), str):
            raise _bad(path, "every source file needs a name")
        sources.append(SourceInfo(name=f["name"], size=_int(f.get("size", 0), path, "source size"),
                                  header_sha256=str(f.get("header_sha256", "")),
                                  data_offset=_int(f.get("data_offset", 0), path, "data_offset")))
    return ModelInfo(arch=arch, tensors=tuple(tensors), block_count=block_count, nextn_layers=nextn,
                     alignment=_int(data.get("alignment", 32), path, "alignment", 1),
                     sources=tuple(sources), metadata=dict(md))


def read_manifest(path: str | os.PathLike) -> ModelInfo:
    """ModelInfo from a manifest JSON file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        data = json.loads(text)
    except OSError as exc:
        raise error("M103", f"{path}: cannot read: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise _bad(str(path), f"not valid JSON: {exc}") from None
    return manifest_to_info(data, str(path))


def load_model(path: str | os.PathLike) -> ModelInfo:
    """ModelInfo from a GGUF (first shard) or a manifest JSON, told apart by the first bytes."""
    from recipec.modelfile import read_gguf_model

    kind = sniff(path, "M101")
    if kind == "gguf":
        return read_gguf_model(path)
    if kind == "json":
        return read_manifest(path)
    raise error("M101", f"{path}: neither a GGUF model (wrong magic) nor a manifest JSON",
                hint="pass a .gguf model (first shard) or a recipec manifest")
