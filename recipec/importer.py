"""`recipec import`: a quantized GGUF (or a rule list run on a model) -> the recipe that writes it.

The recipe is written the way a person would: `base FTYPE`, the FTYPE whose stock mix (what
llama-quantize itself writes, recipec.mixture) is closest to the file, then only the deviations
as `pin` statements, merged by role and by layer ranges, and the MTP block as `mtp keep TYPE`
when its tensors share one type. A recipe without a budget starts every tensor at the stock
type of its `base` (recipec.resolve.settings), so the recipe compiles back to exactly the file's
type for every tensor; `import` checks that on its own statements before it returns.

A file made with an imatrix (its `quantize.imatrix.*` keys) is compared with the stock mixes
computed with an imatrix, since some FTYPEs choose differently with one; compiling the recipe
must then be given an imatrix too, which a comment in the recipe says.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping, Sequence

import gguf

from recipec import ggml
from recipec.compact import Pin, deviations, pin_statements, quantized_tensors, recipe_types
from recipec.diagnostics import Diagnostic, error
from recipec.formatter import format_source
from recipec.gguffile import field_value, open_gguf
from recipec.loaders import load_model, read_gguf_model
from recipec.mixture import QuantizeFailure, QuantizeParams, decide, prune_layers
from recipec.modelinfo import ModelInfo, TensorInfo
from recipec.rulelist import RuleList, parse_rule_list
from recipec.source import SourceFile

# The order that breaks ties between equally close stock mixes after the file's own FTYPE: the
# FTYPEs people publish most first. FTYPEs that disable rules (F16, BF16, F32, COPY) never serve.
FTYPE_ORDER: tuple[str, ...] = (
    "Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0", "IQ4_XS", "Q3_K_M", "Q4_K_S", "Q5_K_S", "Q3_K_L", "Q3_K_S",
    "IQ4_NL", "Q2_K", "Q2_K_S", "IQ3_M", "IQ3_S", "IQ3_XS", "IQ3_XXS", "IQ2_M", "IQ2_S", "IQ2_XS",
    "IQ2_XXS", "IQ1_M", "IQ1_S", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "MXFP4_MOE", "TQ1_0", "TQ2_0",
    "Q1_0", "Q2_0",
)
_SHARD = re.compile(r"-\d{5}-of-\d{5}$")
_SEPARATORS = re.compile(r"[/\\]")  # the imatrix path as recorded: only its file name is shown


@dataclass(frozen=True)
class Imported:
    """The recipe text and what it says."""

    text: str
    arch: str
    base: str
    pins: tuple[Pin, ...]
    mtp_keep: str | None
    imatrix: bool  # the file was made with an imatrix: compile needs one too
    quantized: int  # tensors llama-quantize quantizes
    differing: int  # of those, how many differ from the stock mix of `base`
    drop: bool = False  # `mtp drop`
    diagnostics: tuple[Diagnostic, ...] = ()  # what reading a rule list found
    sources: Mapping[str, SourceFile] = field(default_factory=dict)


@dataclass(frozen=True)
class Mix:
    """A quantized model's types as import reads them, with where they came from."""

    model: ModelInfo  # the model the recipe is compiled against (its tensors, shapes, layout)
    types: Mapping[str, str]  # every tensor's type
    source: str  # the file's base name, for the recipe's comment
    imatrix: bool = False
    imatrix_file: str | None = None
    file_ftype: str | None = None  # general.file_type as an FTYPE name
    drop: bool = False  # the MTP blocks were pruned (a rule list's --prune-layers): `mtp drop`


# --- reading ------------------------------------------------------------------------------------

def ftype_of_file_type(value: object) -> str | None:
    """The FTYPE named by a general.file_type value (None when unknown or not an FTYPE)."""
    try:
        name = gguf.LlamaFileType(int(value) & ~int(gguf.LlamaFileType.GUESSED)).name
    except (TypeError, ValueError):
        return None
    return ggml.canonical_ftype(name.removeprefix("MOSTLY_").removeprefix("ALL_"))


def read_gguf_mix(path: str | os.PathLike) -> Mix:
    """The types of a quantized GGUF (the first shard of a split file finds the others)."""
    model = read_gguf_model(path)
    reader = open_gguf(path, "M101")
    im_file = field_value(reader, "quantize.imatrix.file")
    used = im_file is not None or any(k.startswith("quantize.imatrix.") for k in reader.fields)
    stem = _SHARD.sub("", Path(path).name.removesuffix(".gguf"))
    return Mix(model=model, types={t.name: t.type for t in model.tensors}, source=f"{stem}.gguf",
               imatrix=used, imatrix_file=str(im_file) if im_file is not None else None,
               file_ftype=ftype_of_file_type(model.metadata.get("file_type")))


# --- the closest stock mix ------------------------------------------------------------------------

def stock_mix(model: ModelInfo, ftype: str, imatrix: bool) -> dict[str, str] | None:
    """The FTYPE's stock types, or None when llama-quantize could not write that mix (a type with
    no fallback for a row, or a type that needs an imatrix when none is given)."""
    try:
        outcomes = decide(model, QuantizeParams(ftype, imatrix=imatrix))
    except QuantizeFailure:
        return None
    if any(o.type is None or o.error for o in outcomes):
        return None
    return {o.name: o.type for o in outcomes}


def choose_base(mix: Mix, forced: str | None = None) -> tuple[str, dict[str, str]]:
    """The FTYPE whose stock mix differs from MIX on the fewest tensors, and that mix. Ties go to
    the file's own FTYPE, then FTYPE_ORDER. FORCED (an FTYPE) skips the search."""
    names = [t.name for t in quantized_tensors(mix.model)]
    order = [forced] if forced else [f for f in ([mix.file_ftype] if mix.file_ftype else []) + list(FTYPE_ORDER)
                                     if f not in ggml.RULE_DISABLING_FTYPES and f not in ggml.FTYPE_ALIASES]
    best: tuple[int, str, dict[str, str]] | None = None
    for ftype in dict.fromkeys(order):
        stock = stock_mix(mix.model, ftype, mix.imatrix)
        if stock is None:
            continue
        distance = sum(1 for n in names if stock[n] != mix.types[n])
        if best is None or distance < best[0]:
            best = (distance, ftype, stock)
    if best is None:
        what = f"the stock {forced} mix" if forced else "no FTYPE's stock mix"
        raise error("Q205", f"{mix.source}: {what} can be written for this {mix.model.arch} model"
                    + ("" if mix.imatrix else " without an imatrix"),
                    hint="pass another --ftype" if forced else None)
    return best[1], best[2]


# --- the MTP policy -------------------------------------------------------------------------------

def mtp_keep(quantized: Sequence[TensorInfo], final: Mapping[str, str], stock: Mapping[str, str]) -> str | None:
    """`mtp keep TYPE` when the MTP block differs from the stock mix and its tensors share TYPE."""
    mtp = [t for t in quantized if t.mtp]
    if not mtp or all(final[t.name] == stock[t.name] for t in mtp):
        return None
    kinds = {final[t.name] for t in mtp}
    return kinds.pop() if len(kinds) == 1 else None


# --- the check and the text -----------------------------------------------------------------------

def _comments(mix: Mix, base: str, quantized: int, differing: int) -> list[str]:
    how = (f"pinned where the file differs ({differing} of {quantized} quantized tensors)" if differing
           else f"unchanged ({quantized} quantized tensors)")
    lines = [f"# imported from {mix.source}: llama.cpp's stock {base} mix, {how}"]
    if mix.imatrix:
        what = f" ({_SEPARATORS.split(mix.imatrix_file)[-1]})" if mix.imatrix_file else ""
        lines.append(f"# made with an imatrix{what}: compile with --imatrix, the stock mix depends on it")
    return lines


def _silenced(line: str, typ: str, on_mtp: bool) -> str:
    """LINE with the lint warnings that cannot apply to a type the file already holds silenced: it
    fits every row it is pinned on (L006), and its MTP tensors had imatrix data (L007)."""
    codes = (["L006"] if typ in ggml.NO_FALLBACK_TYPES else []) + (
        ["L007"] if on_mtp and typ in ggml.IMATRIX_TYPES else [])
    return f"{line}  # recipec: ignore[{','.join(codes)}]" if codes else line


def render(name: str, arch: str, base: str, pins: Sequence[Pin], keep: str | None,
           comments: Sequence[str], drop: bool = False) -> str:
    """The recipe text in fmt's canonical layout."""
    safe = re.sub(r'["\x00-\x1f\x7f]', "_", name) or "imported"
    lines = [f'recipe "{safe}"', *(c.replace("\n", " ") for c in comments), f"arch {arch}", f"base {base}"]
    lines += [_silenced(str(p), p.type, any(s.layers is not None and s.layers.kind == "mtp" for s in p.selectors))
              for p in pins]
    if keep or drop:
        lines.append(_silenced(f"mtp keep {keep}", keep, True) if keep else "mtp drop")
    return format_source(SourceFile(f"{safe}.recipe", "\n".join(lines) + "\n"))


def import_mix(mix: Mix, *, name: str | None = None, ftype: str | None = None) -> Imported:
    """The recipe that writes MIX's types: `base`, the deviations as pins, the MTP policy."""
    model = mix.model
    base, stock = choose_base(mix, ftype)
    quantized = quantized_tensors(model)
    final = {t.name: mix.types[t.name] for t in quantized}
    keep = mtp_keep(quantized, final, stock)
    start = {t.name: keep if keep and t.mtp else stock[t.name] for t in quantized}
    pins = pin_statements(deviations(model, final, start), model, final)
    got = recipe_types(model, start, pins)
    wrong = sorted(n for n in final if got[n] != final[n])
    if wrong:
        raise error("X001", f"internal error: the imported recipe would not reproduce {len(wrong)} "
                    f"tensor(s) ({', '.join(wrong[:3])}{' …' if len(wrong) > 3 else ''})",
                    hint="please report this with the file's manifest (`recipec inspect`)")
    differing = sum(1 for n in final if final[n] != stock[n])
    text = render(name or mix.source.removesuffix(".gguf"), model.arch, base, pins, keep,
                  _comments(mix, base, len(quantized), differing), mix.drop)
    return Imported(text, model.arch, base, tuple(pins), keep, mix.imatrix, len(quantized), differing,
                    mix.drop)


def import_gguf(path: str | os.PathLike, *, name: str | None = None, ftype: str | None = None) -> Imported:
    """The recipe of the quantized GGUF at PATH (single file, or the first shard of a split one)."""
    return import_mix(read_gguf_mix(path), name=name, ftype=ftype)


# --- a rule list run on a model -------------------------------------------------------------------

def _compiled_model(model: ModelInfo, rl: RuleList) -> tuple[ModelInfo, bool]:
    """The model the recipe compiles against, and whether it says `mtp drop`: --prune-layers can be
    written in a recipe only when it removes exactly the MTP blocks."""
    if not rl.prune_layers:
        return model, False
    if model.nextn_layers and set(rl.prune_layers) == set(model.mtp_layers):
        return prune_layers(model, model.mtp_layers), True  # as llama-quantize and compile see it
    layers = ",".join(map(str, rl.prune_layers))
    raise error("Q205", f"--prune-layers {layers} removes trunk layers; a recipe can only drop the MTP "
                f"blocks ({', '.join(map(str, model.mtp_layers)) or 'this model has none'}) with `mtp drop`",
                rl.prune_span)


def read_rules_mix(path: str, model_path: str, *, ftype: str | None = None) -> tuple[Mix, RuleList, SourceFile]:
    """The types llama-quantize writes when it runs the rule list (or command line) at PATH on the
    model at MODEL_PATH; FTYPE is the run's FTYPE when given, else the one the list names."""
    try:
        src = SourceFile.read(path)
    except OSError as exc:
        raise error("Q203", f"{path}: cannot read: {exc.strerror or exc}") from None
    rl = parse_rule_list(src)
    run_ftype = ftype or rl.ftype
    if run_ftype is None:
        raise error("U001", f"{path} names no FTYPE, and the types depend on it",
                    hint=f"recipec import {path} --model {model_path} --ftype Q4_K_M")
    model = load_model(model_path)
    compiled, drop = _compiled_model(model, rl)
    params = QuantizeParams(run_ftype, imatrix=rl.imatrix is not None, pure=rl.pure,
                            leave_output=rl.leave_output, token_embedding_type=rl.token_embedding_type,
                            output_tensor_type=rl.output_tensor_type, rules=tuple(rl.rules))
    outcomes = decide(prune_layers(model, rl.prune_layers), params)
    failed = [o for o in outcomes if o.type is None or o.error]
    if failed:
        raise error("Q205", f"llama-quantize fails on this list: {failed[0].name}: {failed[0].error}",
                    hint=f"see `recipec simulate {path} --model {model_path}`")
    mix = Mix(compiled, {o.name: o.type for o in outcomes}, Path(path).name, imatrix=rl.imatrix is not None,
              imatrix_file=rl.imatrix, file_ftype=run_ftype, drop=drop)
    return mix, rl, src


def import_rules(path: str, model_path: str, *, name: str | None = None, ftype: str | None = None) -> Imported:
    """The recipe of what the rule list at PATH makes of the model at MODEL_PATH."""
    mix, rl, src = read_rules_mix(path, model_path, ftype=ftype)
    got = import_mix(mix, name=name or Path(path).stem)
    return replace(got, diagnostics=tuple(rl.diagnostics), sources={src.path: src})
