"""Rule synthesis on a model and a name -> type assignment, through the plan's tensor entries.

The library synthesises rules from a plan; these tests start from generated models, so they
build the entries a plan would hold: every tensor, the quantizable ones with their assigned type.
"""

from __future__ import annotations

from recipec import ggml, rules
from recipec.llamacpp import is_quantizable
from recipec.modelinfo import ModelInfo
from recipec.plan import TensorEntry


def quantized_names(model: ModelInfo) -> list[str]:
    """Names of the tensors llama-quantize quantizes, in file order."""
    return [t.name for t in model.tensors if is_quantizable(t, arch=model.arch)]


def entries(model: ModelInfo, assignment: dict[str, str]) -> list[TensorEntry]:
    """Plan entries for MODEL: quantizable tensors at their ASSIGNMENT type, the rest not quantized."""
    out = []
    for t in model.tensors:
        q = is_quantizable(t, arch=model.arch)
        typ = assignment.get(t.name, t.type) if q else t.type
        out.append(TensorEntry(name=t.name, role=t.role, layer=t.layer, mtp=t.mtp, shape=t.shape,
                               source_type=t.type, type=typ, bytes=ggml.tensor_bytes(t.type, t.shape),
                               reason="test" if q else "not-quantized"))
    return out


def synthesize(model: ModelInfo, assignment: dict[str, str]):
    return rules.synthesize(entries(model, assignment))


def self_check(found, model: ModelInfo, assignment: dict[str, str], ftype: str) -> None:
    rules.self_check(found, entries(model, assignment), arch=model.arch, ftype=ftype)
