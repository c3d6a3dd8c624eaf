"""The release file: a few lines kept in git that name a release's variants, model and imatrix.

    # qwen35moe.release
    model    qwen3.5-35b-a3b.manifest.json
    imatrix  qwen3.5-35b-a3b.imatrix.json
    variant  qwen35moe-iq4xs-mtp.recipe qwen35moe-optimal-19.4gib.recipe
    stock    Q4_K_M

One statement a line: a key and its values, `#` to the end of the line a comment, a value with
spaces in double quotes (`\\"` and `\\\\` inside). `variant` (recipe paths) and `stock` (FTYPEs: the
stock mix llama-quantize makes, measured as a reference) may repeat; `model` is given once,
`imatrix` once per file (several are merged, like repeated `--imatrix`). Paths are relative to the
release file's directory. `recipec compile FILE.release -o REL` is then exactly `recipec compile
VARIANT… --stock FTYPE… --model M --imatrix I -o REL` with those paths: variants in the order
given, then the stock mixes.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from recipec import ggml
from recipec.diagnostics import Diagnostic, DiagnosticError
from recipec.files import base_name
from recipec.source import MAX_RECIPE_BYTES, NotARecipeFile, SourceFile, Span

SUFFIX = ".release"
KEYS = ("model", "imatrix", "variant", "stock")
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[^\s"#]+|"')


@dataclass(frozen=True)
class ReleaseFile:
    """A release file as read: paths resolved against its directory, each with where it was written."""

    path: str
    model: tuple[str, Span] | None
    imatrix: tuple[tuple[str, Span], ...]
    variants: tuple[tuple[str, Span], ...]
    stock: tuple[tuple[str, Span], ...]
    source: SourceFile


def variant_name(recipe_path: str) -> str:
    """The variant a recipe makes: its file name without `.recipe`."""
    name = base_name(recipe_path)
    return name[: -len(".recipe")] if name.endswith(".recipe") and len(name) > len(".recipe") else name


def missing_inputs(rf: ReleaseFile, model: bool, imatrix: bool) -> list[Diagnostic]:
    """U006 for the release file's model (if MODEL: the command line gave none) and imatrix files
    (if IMATRIX) that are not there: a file's inputs on another machine are given on the command line."""
    named = [("model", *rf.model)] if model and rf.model else []
    named += [("imatrix", path, span) for path, span in rf.imatrix] if imatrix else []
    return [d for what, path, span in named for d in _check_file(path, span, what)]


def is_release_file(path: str) -> bool:
    """Whether compile should read PATH as a release file (by its name)."""
    return str(path).endswith(SUFFIX)


def source_of(path: str) -> dict[str, SourceFile]:
    """{PATH: the release file} for quoting its lines under diagnostics ({} when unreadable)."""
    try:
        return {path: SourceFile.read(path, limit=MAX_RECIPE_BYTES)}
    except (OSError, NotARecipeFile):
        return {}


def _bad(span: Span, message: str, hint: str) -> Diagnostic:
    return Diagnostic("U006", message, span=span, hint=hint)


def _tokens(line: str, path: str, lineno: int) -> tuple[list[tuple[str, Span]], list[Diagnostic]]:
    """The words of LINE (a line without its comment; quotes removed) with their spans; U006 for
    an unclosed quote."""
    words = []
    for m in _TOKEN.finditer(line):
        span = Span(path, lineno, m.start() + 1, lineno, m.end() + 1)
        text = m.group()
        if text == '"':
            return words, [_bad(span, "a quoted value is not closed", 'end it with `"`')]
        if text.startswith('"'):
            text = re.sub(r"\\(.)", r"\1", text[1:-1])
        words.append((text, span))
    return words, []


def _split_comment(line: str) -> str:
    """LINE without its comment (a `#` outside double quotes and what follows)."""
    quoted, i = False, 0
    while i < len(line):
        if quoted and line[i] == "\\":
            i += 2  # an escaped character, `\"` or `\\`
            continue
        if line[i] == '"':
            quoted = not quoted
        elif line[i] == "#" and not quoted:
            return line[:i]
        i += 1
    return line


def _resolve(base: str, value: str) -> str:
    """VALUE relative to the release file's directory BASE (an absolute path as it is)."""
    return value if os.path.isabs(value) or not base else os.path.join(base, value)


def _check_file(path: str, span: Span, what: str) -> list[Diagnostic]:
    if os.path.isfile(path):
        return []
    why = "is a directory" if os.path.isdir(path) else "not found"
    return [_bad(span, f"{what} {path}: {why}",
                 "a path in a release file is relative to the file's directory")]


def _statement(key: str, values: list[tuple[str, Span]], base: str, acc: dict) -> list[Diagnostic]:
    """Add one statement's values to ACC; the diagnostics of its bad values."""
    diags: list[Diagnostic] = []
    if key == "stock":
        for value, span in values:
            ftype = ggml.canonical_ftype(value)
            if ftype is None:
                diags.append(_bad(span, f"{value!r} is not a llama-quantize FTYPE", "e.g. Q4_K_M, Q6_K, Q8_0"))
            else:
                acc["stock"].append((ftype, span))
        return diags
    for value, span in values:
        path = _resolve(base, value)
        if key == "variant":  # the model and imatrix are checked when used (see missing_inputs)
            diags += _check_file(path, span, "recipe")
        acc[key].append((path, span))
    return diags


def _statements(src: SourceFile) -> tuple[dict, list[Diagnostic]]:
    """Every statement of SRC, checked: key -> [(value, span)]."""
    base = os.path.dirname(src.path)
    acc: dict[str, list] = {k: [] for k in KEYS}
    diags: list[Diagnostic] = []
    for lineno, line in enumerate(src.text.splitlines(), 1):
        words, bad = _tokens(_split_comment(line), src.path, lineno)
        diags += bad
        if bad or not words:
            continue
        (key, span), values = words[0], words[1:]
        if key not in KEYS:
            diags.append(_bad(span, f"unknown key {key!r}", f"a release file's keys: {', '.join(KEYS)}"))
        elif not values:
            diags.append(_bad(span, f"`{key}` needs a value", f"e.g. `{key} {_EXAMPLE[key]}`"))
        elif key == "model" and (acc["model"] or len(values) > 1):
            diags.append(_bad(values[-1][1] if len(values) > 1 else span, "a release has one model",
                              "keep one `model` line with one path"))
        else:
            diags += _statement(key, values, base, acc)
    return acc, diags


_EXAMPLE = {"model": "model.gguf", "imatrix": "imatrix.gguf", "variant": "q4km.recipe", "stock": "Q4_K_M"}


def read_release_file(path: str) -> ReleaseFile:
    """The release file at PATH, checked (U002 when unreadable, U006 or U004 at the bad line)."""
    try:
        src = SourceFile.read(path, limit=MAX_RECIPE_BYTES)
    except (OSError, NotARecipeFile) as exc:
        raise DiagnosticError(Diagnostic("U002", f"cannot read {path}: {exc.strerror or exc}",
                                         hint="check the path of the release file")) from None
    acc, diags = _statements(src)
    seen: dict[str, Span] = {}
    named = [(variant_name(p), s) for p, s in acc["variant"]] + [(f, s) for f, s in acc["stock"]]
    for name, span in named:
        if name in seen:
            diags.append(Diagnostic("U004", f"variant {name!r} is named twice (first at line {seen[name].line})",
                                    span=span, hint="a variant is named after its recipe file or its FTYPE"))
        seen.setdefault(name, span)
    if not named and not diags:
        diags.append(_bad(Span.of_file(path), "the release file names no variant",
                          "add `variant RECIPE` or `stock FTYPE` lines"))
    if diags:
        raise DiagnosticError(sorted(diags, key=Diagnostic.sort_key))
    model = acc["model"][0] if acc["model"] else None
    return ReleaseFile(path, model, tuple(acc["imatrix"]), tuple(acc["variant"]),
                       tuple(acc["stock"]), src)
