"""Stage 1 of resolve: the arch check, and the settings every later stage reads.

Default ladder (a recipe without `ladder`): Q3_K IQ4_XS Q4_K Q5_K Q6_K Q8_0: the K-quant steps
llama.cpp's own mixtures use, plus IQ4_XS (the best 4-bit type per byte), nothing that needs an
imatrix, nothing a CPU or GPU build lacks. Default FTYPE (a recipe without `base`): Q4_K_M.

The stock mix: what llama-quantize itself gives every tensor under the `base` FTYPE (recipec.mixture,
with or without an imatrix as compiled). A recipe without a budget starts from it (`base Q4_K_M`
alone is llama.cpp's Q4_K_M, statements are tweaks on top); with a budget the optimiser decides and
the plan records the stock mix for comparison. Every quantized tensor still gets an explicit rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Mapping, Optional

from recipec import errormodel, ggml, hardware
from recipec.diagnostics import Diagnostic, DiagnosticError
from recipec.errorfile import ErrorFile, tensors_digest
from recipec.llamacpp import tensor_info_bytes
from recipec.mixture import QuantizeFailure, prune_layers, stock_types
from recipec.defaults import DEFAULT_FTYPE, DEFAULT_LADDER
from recipec.modelinfo import ModelInfo
from recipec.recipe import Recipe



def rank(type_name: str) -> float:
    """Floors and ceilings compare storage bits per weight."""
    return ggml.bits_per_weight(type_name)


@dataclass(frozen=True)
class Settings:
    """What the recipe and the model fix before any tensor is looked at."""

    ftype: str
    ladder: tuple[str, ...]
    profile: Optional[hardware.Profile]
    model: ModelInfo  # the input model as read
    out_model: ModelInfo  # the output model (MTP blocks removed when dropped)
    has_mtp: bool
    drop: bool
    stock: Mapping[str, str] = field(default_factory=dict)  # the FTYPE's stock type of every output tensor
    from_stock: bool = False  # no budget: tensors start at their stock type
    errors: Optional[ErrorFile] = None  # measured errors (recipec measure); None: the theoretical model

    def error(self, name: str, requested: str, written: str) -> Optional[float]:
        """The relative error of tensor NAME asked as REQUESTED (written as WRITTEN): measured t²
        when an error file is given (None where it has no measurement), else the theoretical one."""
        if self.errors is None:
            return errormodel.error(written)
        te = self.errors.tensors.get(name)
        return None if te is None else te.t2.get(requested)


def check_arch(recipe: Recipe, model: ModelInfo) -> None:
    """Raise R303 when the recipe names architectures and MODEL is none of them."""
    if recipe.arch and model.arch not in recipe.arch:
        raise DiagnosticError(Diagnostic(
            "R303", f"the model is {model.arch}, the recipe is for {' '.join(recipe.arch)}",
            recipe.spans.get("arch"), hint=f"compile against a {'/'.join(recipe.arch)} model, or add "
                                            f"{model.arch} to the arch statement"))


def settings(recipe: Recipe, model: ModelInfo, *, imatrix: bool = False, errors: ErrorFile | None = None) -> Settings:
    """The FTYPE, ladder, target profile, MTP shape and stock mix of compiling RECIPE against MODEL."""
    has_mtp = model.nextn_layers > 0 and any(t.mtp for t in model.tensors)
    drop = has_mtp and recipe.mtp.policy == "drop"
    ftype = recipe.base or DEFAULT_FTYPE
    out_model = drop_mtp(model) if drop else model
    return Settings(ftype=ftype, ladder=tuple(recipe.ladder or DEFAULT_LADDER),
                    profile=hardware.profile(recipe.target) if recipe.target else None, model=model,
                    out_model=out_model, has_mtp=has_mtp, drop=drop,
                    stock=_stock(model, ftype, imatrix, drop), from_stock=recipe.budget is None,
                    errors=_matching(errors, model, recipe))


def _matching(errors: ErrorFile | None, model: ModelInfo, recipe: Recipe) -> ErrorFile | None:
    """ERRORS when they were measured on MODEL (its tensor table); M106 otherwise."""
    if errors is not None and errors.model.tensors_sha256 != tensors_digest(model.tensors):
        raise DiagnosticError(Diagnostic(
            "M106", f"the error file was measured on another model ({errors.model.arch}, "
                    f"{errors.model.tensor_count} tensors; this one is {model.arch}, {len(model.tensors)} tensors)",
            recipe.spans.get("errors"), hint="measure this model with `recipec measure`"))
    return errors


def _stock(model: ModelInfo, ftype: str, imatrix: bool, drop: bool) -> dict[str, str]:
    """The stock mix of FTYPE as llama-quantize computes it for this run: with `mtp drop` the MTP
    blocks are pruned (`--prune-layers`), which keeps the source's hyper-parameters."""
    try:
        return stock_types(prune_layers(model, model.mtp_layers) if drop else model, ftype, imatrix=imatrix)
    except QuantizeFailure as exc:  # a layout llama-quantize itself refuses (e.g. a layer past block_count)
        raise DiagnosticError(Diagnostic(
            "M109", f"llama-quantize cannot quantize this model: {exc}",
            hint="check the model's metadata against its tensors (`recipec inspect`)")) from None


def drop_mtp(model: ModelInfo) -> ModelInfo:
    """MODEL without its MTP blocks (what `--prune-layers` + nextn_predict_layers=0 writes)."""
    if not model.nextn_layers:
        return model
    gone = [t for t in model.tensors if t.mtp]
    keep = tuple(t for t in model.tensors if not t.mtp)
    md = dict(model.metadata)
    md["nextn_predict_layers"] = 0
    md["block_count"] = model.trunk_layers
    sources = model.sources
    if len(sources) == 1:  # the header loses the dropped tensors' records
        s = sources[0]
        sources = (replace(s, data_offset=max(0, s.data_offset - tensor_info_bytes(gone))),)
    return ModelInfo(arch=model.arch, tensors=keep, block_count=model.trunk_layers, nextn_layers=0,
                     alignment=model.alignment, sources=sources, metadata=md)
