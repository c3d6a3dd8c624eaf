"""Diagnostics: the one finding type of every stage, and the code catalogue."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Iterable

from recipec.source import Span


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True)
class Code:
    """A stable diagnostic code: letter + digits, a kebab name, a default severity."""

    code: str
    name: str
    severity: Severity
    summary: str


# The catalogue. Letters: P parse, L lint (model-free checks), M model input, I imatrix input,
# Q llama-quantize semantics and rules, S `simulate` hazards, R resolve/optimiser,
# E emit/outputs, V verify/diff, U usage, X internal. Codes are never renumbered.
_CATALOGUE: list[Code] = [
    # --- parse ------------------------------------------------------------------------------
    Code("P001", "syntax-error", Severity.ERROR, "the text is not a recipe statement"),
    Code("P002", "unknown-keyword", Severity.ERROR, "a statement starts with an unknown word"),
    Code("P003", "unknown-type", Severity.ERROR, "not a ggml type name"),
    Code("P004", "unknown-ftype", Severity.ERROR, "not a llama-quantize FTYPE name"),
    Code("P005", "invalid-value", Severity.ERROR, "a number, range or size is out of range"),
    Code("P006", "missing-recipe-name", Severity.ERROR, "the first statement must be `recipe \"NAME\"`"),
    Code("P007", "extends-cycle", Severity.ERROR, "recipes extend each other in a cycle"),
    Code("P008", "extends-unreadable", Severity.ERROR, "the recipe named by extends cannot be read"),
    Code("P009", "unreadable-recipe", Severity.ERROR, "the recipe file cannot be read"),
    Code("P010", "bad-unit", Severity.ERROR, "a budget that is not a size, bpw or fit"),
    # --- lint (model-free checks) -----------------------------------------------------------
    Code("L001", "floor-above-ceiling", Severity.ERROR, "a floor is above a ceiling on the same tensors"),
    Code("L002", "conflicting-pins", Severity.ERROR, "two pins give the same tensors different types"),
    Code("L003", "duplicate-statement", Severity.WARNING, "a statement repeats or overrides an earlier one"),
    Code("L004", "base-disables-rules", Severity.ERROR, "the base FTYPE makes llama-quantize ignore every rule"),
    Code("L005", "untargetable-type", Severity.ERROR, "llama-quantize cannot write this type"),
    Code("L006", "no-shape-fallback", Severity.WARNING, "a type without shape fallback on tensors whose rows may not fit its block"),
    Code("L007", "imatrix-type-on-mtp", Severity.WARNING, "a type that needs an imatrix may reach MTP tensors without data"),
    Code("L008", "tie-auto-without-imatrix", Severity.WARNING, "`tie auto` needs imatrix data to find ties"),
    Code("L009", "ladder-unsatisfiable", Severity.ERROR, "no ladder type satisfies a floor or ceiling"),
    Code("L010", "unsupported-on-target", Severity.ERROR, "the target hardware does not run this type natively"),
    Code("L011", "unknown-role", Severity.WARNING, "no known architecture has a tensor of this role"),
    Code("L012", "unknown-target", Severity.ERROR, "no hardware profile of this name"),
    Code("L013", "unknown-ignore-code", Severity.WARNING, "an ignore comment names a code that does not exist"),
    Code("L014", "mtp-selector-without-mtp", Severity.WARNING, "an @mtp selector while the MTP policy drops the blocks"),
    # --- model input (M1xx) and imatrix input (I1xx) --------------------------------------------
    Code("M101", "unreadable-model", Severity.ERROR, "the model file cannot be read as GGUF"),
    Code("M102", "split-shard", Severity.ERROR, "a shard of a split model is missing or inconsistent"),
    Code("M103", "bad-manifest", Severity.ERROR, "the manifest JSON is not a recipec manifest"),
    Code("M104", "not-a-model", Severity.ERROR, "the file is not a model (an imatrix?)"),
    Code("I101", "unreadable-imatrix", Severity.ERROR, "the imatrix file cannot be read"),
    Code("I102", "not-an-imatrix", Severity.ERROR, "the file is not an imatrix (a model?)"),
    Code("I103", "imatrix-inconsistent", Severity.ERROR, "in_sum2 and counts disagree"),
    Code("I104", "imatrix-coverage", Severity.WARNING, "imatrix entries and model tensors do not match"),
    Code("I105", "imatrix-merge-conflict", Severity.ERROR, "imatrices to merge disagree on a tensor's shape"),
    Code("I106", "bad-imatrix-summary", Severity.ERROR, "the imatrix summary JSON is not a recipec imatrix summary"),
    # --- llama-quantize semantics and rules (Q2xx), simulate hazards (S2xx) -----------------------
    Code("Q201", "rules-self-check", Severity.ERROR, "the emitted rules do not reproduce the plan"),
    Code("Q202", "no-fallback-possible", Severity.ERROR, "a planned type cannot be written for this tensor shape"),
    Code("Q203", "unreadable-rules", Severity.ERROR, "the rules file cannot be read"),
    Code("Q204", "unmatchable-tensor-name", Severity.ERROR, "a tensor name has characters lower-cased patterns cannot match"),
    Code("S201", "unanchored-capture", Severity.WARNING, "a rule captures tensors of another role through an unanchored substring"),
    Code("S202", "shadowed-rule", Severity.WARNING, "a rule never decides a tensor because an earlier rule wins"),
    Code("S203", "rule-matches-nothing", Severity.WARNING, "a rule matches no tensor of the model"),
    Code("S204", "lowercase-changes-rule", Severity.WARNING, "lower-casing changes what the pattern means"),
    Code("S205", "ftype-disables-rules", Severity.WARNING, "the FTYPE makes llama-quantize ignore every rule"),
    Code("S206", "type-falls-back", Severity.WARNING, "the requested type falls back for this tensor's shape"),
    Code("S207", "type-crashes", Severity.WARNING, "the requested type makes llama-quantize fail"),
    Code("S208", "bad-rule", Severity.ERROR, "a rule is not PATTERN=TYPE or its regex is invalid"),
    Code("S209", "imatrix-required", Severity.WARNING, "a rule asks for a type that needs an imatrix, and none is given"),
    # --- resolve / optimiser (R3xx) ----------------------------------------------------------------
    Code("R301", "selector-matches-nothing", Severity.ERROR, "a selector matches no tensor of the model"),
    Code("R302", "never-quantized", Severity.WARNING, "a statement about tensors llama-quantize never quantizes"),
    Code("R303", "arch-mismatch", Severity.ERROR, "the model's architecture is not one the recipe is for"),
    Code("R304", "budget-infeasible", Severity.ERROR, "the budget cannot be met"),
    Code("R305", "no-candidate", Severity.ERROR, "a tensor has no candidate type left"),
    Code("R306", "mtp-without-imatrix-data", Severity.NOTE, "MTP tensors have no imatrix data: imatrix-only types removed"),
    Code("R307", "floor-above-ceiling-resolved", Severity.ERROR, "a floor is above a ceiling on the same tensor"),
    Code("R308", "tensor-not-found", Severity.ERROR, "no tensor of that name in the model"),
    # --- emit / outputs (E4xx), verify and diff (V4xx) -------------------------------------------
    Code("E401", "output-unwritable", Severity.ERROR, "the output directory cannot be written"),
    Code("E402", "check-differs", Severity.ERROR, "the files on disk are not what compile would write"),
    Code("E403", "serve-mtp-dropped", Severity.ERROR, "MTP drafting asked for a model whose MTP blocks are dropped"),
    Code("E404", "unscriptable-tensor-name", Severity.ERROR, "a tensor name cannot be carried in the generated scripts"),
    Code("V401", "verify-mismatch", Severity.ERROR, "the file differs from the plan"),
    Code("V402", "bad-plan", Severity.ERROR, "the plan file is not a recipec plan"),
    Code("V403", "unreadable-gguf", Severity.ERROR, "a file given to verify is not a readable GGUF"),
    # --- usage and internal ------------------------------------------------------------------------
    Code("U001", "usage", Severity.ERROR, "the command line is not valid"),
    Code("U002", "unreadable-input", Severity.ERROR, "an input file cannot be read"),
    Code("X001", "internal-error", Severity.ERROR, "recipec failed: this is a bug"),
]

CODES: dict[str, Code] = {c.code: c for c in _CATALOGUE}
assert len(CODES) == len(_CATALOGUE), "duplicate diagnostic code"


@dataclass(frozen=True)
class Diagnostic:
    """One finding: a code, a message, where (if anywhere), and a one-line fix hint."""

    code: str
    message: str
    span: Span | None = None
    hint: str | None = None
    notes: tuple[str, ...] = ()
    severity: Severity | None = None  # None: the code's default

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise KeyError(f"unknown diagnostic code {self.code}")
        if self.severity is None:
            object.__setattr__(self, "severity", CODES[self.code].severity)

    @property
    def name(self) -> str:
        return CODES[self.code].name

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def with_severity(self, severity: Severity) -> "Diagnostic":
        return replace(self, severity=severity)

    def headline(self) -> str:
        """`file:line:col: CODE message` (or `CODE message` without a span)."""
        where = f"{self.span}: " if self.span else ""
        return f"{where}{self.code} {self.message}"

    def sort_key(self) -> tuple:
        s = self.span
        return (s.file, s.line, s.col) if s else ("", 0, 0), self.code, self.message

    def to_dict(self) -> dict:
        return {
            "code": self.code,
            "name": self.name,
            "severity": self.severity.value,
            "message": self.message,
            "span": self.span.to_dict() if self.span else None,
            "hint": self.hint,
            "notes": list(self.notes),
        }


class DiagnosticError(Exception):
    """Raised at a boundary to stop a stage; carries the diagnostics that explain why."""

    def __init__(self, diagnostics: Diagnostic | Iterable[Diagnostic]):
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics: list[Diagnostic] = list(diagnostics)
        super().__init__("; ".join(d.headline() for d in self.diagnostics))


def error(code: str, message: str, span: Span | None = None, hint: str | None = None,
          notes: Iterable[str] = ()) -> DiagnosticError:
    """A DiagnosticError holding one diagnostic (for `raise error(...)`)."""
    return DiagnosticError(Diagnostic(code, message, span, hint, tuple(notes)))


def did_you_mean(word: str, choices: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The closest of CHOICES to WORD (case-insensitive), or None."""
    import difflib

    pool = {c.lower(): c for c in choices}
    hit = difflib.get_close_matches(word.lower(), list(pool), n=1, cutoff=cutoff)
    return pool[hit[0]] if hit else None


@dataclass
class Collector:
    """Accumulates diagnostics in order."""

    items: list[Diagnostic] = field(default_factory=list)

    def add(self, d: Diagnostic) -> None:
        self.items.append(d)

    def extend(self, ds: Iterable[Diagnostic]) -> None:
        self.items.extend(ds)

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.items)
