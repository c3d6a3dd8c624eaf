"""Diagnostics: the one finding type of every stage, and the code catalogue."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Iterable

from recipec.source import Span


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


class Kind(str, Enum):
    """What a code is about; recipec.exitcodes turns it into 1 (a finding) or 2 (anything else)."""

    FINDING = "finding"    # about the recipe, plan, rules or file under check: the user fixes that
    INPUT = "input"        # an input cannot be read, or is not what it claims to be
    USAGE = "usage"        # the command line is not valid
    INTERNAL = "internal"  # recipec failed: a bug


@dataclass(frozen=True)
class Code:
    """A stable diagnostic code: letter + digits, a kebab name, a default severity, a kind."""

    code: str
    name: str
    severity: Severity
    kind: Kind
    summary: str


# The catalogue. Letters: P parse, L lint (model-free checks), M model input, I imatrix input,
# Q llama-quantize semantics and rules, S `simulate` hazards, R resolve/optimiser,
# E emit/outputs, V verify/diff, U usage, X internal. Codes are never renumbered.
# Kinds decided on purpose where the letter does not say it:
# - P008 is a finding: the `extends` path is written in the recipe under check, the diagnostic
#   points at that line and the fix is an edit there (a renamed parent is what a PR check must
#   catch); P009, the recipe given on the command line, is an input.
# - S208 is an input: it is raised only when the rules file handed to `simulate` cannot be read
#   as rules, and then nothing is simulated; hazards of rules that parse are the S2xx findings.
# - I104 is a finding: both files were read, it describes how well the imatrix covers the model.
# - I107 is an input: `compile` refuses an imatrix made for another model (the numbers I104
#   lists, past a threshold); the fix is another file, not an edit of the recipe.
# - V404 is an input: two plans of different models cannot be compared tensor by tensor, and
#   nothing in either plan is wrong; the user gave the wrong pair (like M106). Exit 2 also keeps it
#   apart from exit 1, which for diff means "tensors changed".
# - E401 (the output cannot be written) fails like an unreadable input: there is nothing in the
#   recipe to fix. A kit template that fails to render is X002, a recipec bug, not E401.
_CATALOGUE: list[Code] = [
    # --- parse ------------------------------------------------------------------------------
    Code("P001", "syntax-error", Severity.ERROR, Kind.FINDING, "the text is not a recipe statement"),
    Code("P002", "unknown-keyword", Severity.ERROR, Kind.FINDING, "a statement starts with an unknown word"),
    Code("P003", "unknown-type", Severity.ERROR, Kind.FINDING, "not a ggml type name"),
    Code("P004", "unknown-ftype", Severity.ERROR, Kind.FINDING, "not a llama-quantize FTYPE name"),
    Code("P005", "invalid-value", Severity.ERROR, Kind.FINDING, "a number, range or size is out of range"),
    Code("P006", "missing-recipe-name", Severity.ERROR, Kind.FINDING, "the first statement must be `recipe \"NAME\"`"),
    Code("P007", "extends-cycle", Severity.ERROR, Kind.FINDING, "recipes extend each other in a cycle"),
    Code("P008", "extends-unreadable", Severity.ERROR, Kind.FINDING, "the recipe named by extends cannot be read"),
    Code("P009", "unreadable-recipe", Severity.ERROR, Kind.INPUT, "the recipe file cannot be read"),
    Code("P010", "bad-unit", Severity.ERROR, Kind.FINDING, "a budget that is not a size, bpw or fit"),
    # --- lint (model-free checks) -----------------------------------------------------------
    Code("L001", "floor-above-ceiling", Severity.ERROR, Kind.FINDING, "a floor is above a ceiling on the same tensors"),
    Code("L002", "conflicting-pins", Severity.ERROR, Kind.FINDING, "two pins give the same tensors different types"),
    Code("L003", "duplicate-statement", Severity.WARNING, Kind.FINDING,
         "a statement repeats or overrides an earlier one"),
    Code("L004", "base-disables-rules", Severity.ERROR, Kind.FINDING,
         "the base FTYPE makes llama-quantize ignore every rule"),
    Code("L005", "untargetable-type", Severity.ERROR, Kind.FINDING, "llama-quantize cannot write this type"),
    Code("L006", "no-shape-fallback", Severity.WARNING, Kind.FINDING,
         "a type without shape fallback on tensors whose rows may not fit its block"),
    Code("L007", "imatrix-type-on-mtp", Severity.WARNING, Kind.FINDING,
         "a type that needs an imatrix may reach MTP tensors without data"),
    Code("L008", "tie-auto-without-imatrix", Severity.WARNING, Kind.FINDING,
         "`tie auto` needs imatrix data to find ties"),
    Code("L009", "ladder-unsatisfiable", Severity.ERROR, Kind.FINDING, "no ladder type satisfies a floor or ceiling"),
    Code("L010", "unsupported-on-target", Severity.ERROR, Kind.FINDING,
         "the target hardware does not run this type natively"),
    Code("L011", "unknown-role", Severity.WARNING, Kind.FINDING, "no known architecture has a tensor of this role"),
    Code("L012", "unknown-target", Severity.ERROR, Kind.FINDING, "no hardware profile of this name"),
    Code("L013", "unknown-ignore-code", Severity.WARNING, Kind.FINDING,
         "an ignore comment names a code that does not exist"),
    Code("L014", "mtp-selector-without-mtp", Severity.WARNING, Kind.FINDING,
         "an @mtp selector while the MTP policy drops the blocks"),
    Code("L015", "layer-filter-on-last-selector", Severity.ERROR, Kind.FINDING,
         "a layer filter written after the last of several selectors binds to that selector only"),
    # --- model input (M1xx) and imatrix input (I1xx) --------------------------------------------
    Code("M101", "unreadable-model", Severity.ERROR, Kind.INPUT, "the model file cannot be read as GGUF"),
    Code("M102", "split-shard", Severity.ERROR, Kind.INPUT, "a shard of a split model is missing or inconsistent"),
    Code("M103", "bad-manifest", Severity.ERROR, Kind.INPUT, "the manifest JSON is not a recipec manifest"),
    Code("M104", "not-a-model", Severity.ERROR, Kind.INPUT, "the file is not a model (an imatrix?)"),
    Code("M105", "bad-error-file", Severity.ERROR, Kind.INPUT,
         "the error file is not a recipec error file (recipec measure)"),
    Code("M106", "error-file-mismatch", Severity.ERROR, Kind.INPUT,
         "the error file was measured on another model"),
    Code("M107", "probe-fit-poor", Severity.WARNING, Kind.FINDING,
         "the KLD probes' fit predicts the probes it was not fitted on poorly (leave-one-out)"),
    Code("M108", "probe-without-signal", Severity.NOTE, Kind.FINDING,
         "a KLD probe gave no usable α (no error at the probe type, or ΔKLD below the resolution)"),
    Code("M109", "bad-model-metadata", Severity.ERROR, Kind.INPUT,
         "a metadata value of the model has the wrong type, is out of range, or disagrees with its tensors"),
    Code("I101", "unreadable-imatrix", Severity.ERROR, Kind.INPUT, "the imatrix file cannot be read"),
    Code("I102", "not-an-imatrix", Severity.ERROR, Kind.INPUT, "the file is not an imatrix (a model?)"),
    Code("I103", "imatrix-inconsistent", Severity.ERROR, Kind.INPUT, "in_sum2 and counts disagree"),
    Code("I104", "imatrix-coverage", Severity.WARNING, Kind.FINDING, "imatrix entries and model tensors do not match"),
    Code("I105", "imatrix-merge-conflict", Severity.ERROR, Kind.INPUT,
         "imatrices to merge disagree on a tensor's shape"),
    Code("I106", "bad-imatrix-summary", Severity.ERROR, Kind.INPUT,
         "the imatrix summary JSON is not a recipec imatrix summary"),
    Code("I107", "imatrix-mismatch", Severity.ERROR, Kind.INPUT,
         "the imatrix was not made for this model (names, shapes or coverage)"),
    # --- llama-quantize semantics and rules (Q2xx), simulate hazards (S2xx) -----------------------
    Code("Q201", "rules-self-check", Severity.ERROR, Kind.FINDING, "the emitted rules do not reproduce the plan"),
    Code("Q202", "no-fallback-possible", Severity.ERROR, Kind.FINDING,
         "a planned type cannot be written for this tensor shape"),
    Code("Q203", "unreadable-rules", Severity.ERROR, Kind.INPUT, "the rules file cannot be read"),
    Code("Q204", "unmatchable-tensor-name", Severity.ERROR, Kind.FINDING,
         "a tensor name has characters lower-cased patterns cannot match"),
    Code("Q205", "import-inexpressible", Severity.ERROR, Kind.FINDING,
         "`recipec import`: the file's mix cannot be written as a recipe"),
    Code("S201", "unanchored-capture", Severity.WARNING, Kind.FINDING,
         "a rule captures tensors of another role through an unanchored substring"),
    Code("S202", "shadowed-rule", Severity.WARNING, Kind.FINDING,
         "a rule never decides a tensor because an earlier rule wins"),
    Code("S203", "rule-matches-nothing", Severity.WARNING, Kind.FINDING, "a rule matches no tensor of the model"),
    Code("S204", "lowercase-changes-rule", Severity.WARNING, Kind.FINDING,
         "lower-casing changes what the pattern means"),
    Code("S205", "ftype-disables-rules", Severity.WARNING, Kind.FINDING,
         "the FTYPE makes llama-quantize ignore every rule"),
    Code("S206", "type-falls-back", Severity.WARNING, Kind.FINDING,
         "the requested type falls back for this tensor's shape"),
    Code("S207", "type-crashes", Severity.WARNING, Kind.FINDING, "the requested type makes llama-quantize fail"),
    Code("S208", "bad-rule", Severity.ERROR, Kind.INPUT, "a rule is not PATTERN=TYPE or its regex is invalid"),
    Code("S209", "imatrix-required", Severity.WARNING, Kind.FINDING,
         "a rule asks for a type that needs an imatrix, and none is given"),
    Code("S210", "regex-dialect", Severity.WARNING, Kind.FINDING,
         "the pattern reads differently in llama-quantize's std::regex than in Python or PCRE"),
    Code("S211", "not-modelled", Severity.WARNING, Kind.FINDING,
         "recipec cannot reproduce exactly what llama-quantize does here; the rows are inexact"),
    Code("S212", "option-not-simulated", Severity.NOTE, Kind.FINDING,
         "a part of the pasted command that changes no tensor type, or is read with a caveat"),
    Code("S213", "command-rejected", Severity.ERROR, Kind.FINDING,
         "llama-quantize would refuse this command line (unknown option, bad argument, misplaced word)"),
    Code("S214", "fork-only-type", Severity.ERROR, Kind.FINDING,
         "a type or FTYPE only a fork (ik_llama.cpp) knows; mainline llama-quantize rejects it"),
    # --- resolve / optimiser (R3xx) ----------------------------------------------------------------
    Code("R301", "selector-matches-nothing", Severity.ERROR, Kind.FINDING, "a selector matches no tensor of the model"),
    Code("R302", "never-quantized", Severity.WARNING, Kind.FINDING,
         "a statement about tensors llama-quantize never quantizes"),
    Code("R303", "arch-mismatch", Severity.ERROR, Kind.FINDING,
         "the model's architecture is not one the recipe is for"),
    Code("R304", "budget-infeasible", Severity.ERROR, Kind.FINDING, "the budget cannot be met"),
    Code("R305", "no-candidate", Severity.ERROR, Kind.FINDING, "a tensor has no candidate type left"),
    Code("R306", "mtp-without-imatrix-data", Severity.NOTE, Kind.FINDING,
         "MTP tensors have no imatrix data: imatrix-only types removed"),
    Code("R307", "floor-above-ceiling-resolved", Severity.ERROR, Kind.FINDING,
         "a floor is above a ceiling on the same tensor"),
    Code("R308", "tensor-not-found", Severity.ERROR, Kind.FINDING, "no tensor of that name in the model"),
    Code("R309", "overridden-statement", Severity.WARNING, Kind.FINDING,
         "a statement does not decide some tensors it selects: another statement wins there"),
    Code("R310", "layers-not-in-model", Severity.WARNING, Kind.FINDING,
         "a layer filter names layers the model's trunk does not have (they select nothing)"),
    Code("R311", "theoretical-error-model", Severity.NOTE, Kind.FINDING,
         "a budget was optimised with the theoretical error model: measure one for this model"),
    # --- emit / outputs (E4xx), verify and diff (V4xx) -------------------------------------------
    Code("E401", "output-unwritable", Severity.ERROR, Kind.INPUT, "the output directory cannot be written"),
    Code("E402", "check-differs", Severity.ERROR, Kind.FINDING, "the files on disk are not what compile would write"),
    Code("E403", "serve-mtp-dropped", Severity.ERROR, Kind.FINDING,
         "MTP drafting asked for a model whose MTP blocks are dropped"),
    Code("E404", "unscriptable-tensor-name", Severity.ERROR, Kind.FINDING,
         "a tensor name cannot be carried in the generated scripts"),
    Code("V401", "verify-mismatch", Severity.ERROR, Kind.FINDING, "the file differs from the plan"),
    Code("V402", "bad-plan", Severity.ERROR, Kind.INPUT, "the plan file is not a recipec plan"),
    Code("V403", "unreadable-gguf", Severity.ERROR, Kind.INPUT, "a file given to verify is not a readable GGUF"),
    Code("V404", "plans-of-different-models", Severity.ERROR, Kind.INPUT,
         "the plans given to diff were compiled for different models"),
    # --- usage and internal ------------------------------------------------------------------------
    Code("U001", "usage", Severity.ERROR, Kind.USAGE, "the command line is not valid"),
    Code("U002", "unreadable-input", Severity.ERROR, Kind.INPUT, "an input file cannot be read"),
    Code("U003", "missing-dependency", Severity.ERROR, Kind.INPUT,
         "a Python package the command needs is not installed"),
    Code("U004", "duplicate-variant", Severity.ERROR, Kind.USAGE,
         "two recipes of a release have the same variant name (file name without .recipe)"),
    Code("U005", "not-a-release", Severity.ERROR, Kind.INPUT,
         "the directory is not a release written by `recipec compile` with several recipes"),
    Code("U006", "bad-release-file", Severity.ERROR, Kind.USAGE,
         "a release file names an unknown key, a missing file or a value it cannot take"),
    Code("X001", "internal-error", Severity.ERROR, Kind.INTERNAL, "recipec failed: this is a bug"),
    Code("X002", "template-error", Severity.ERROR, Kind.INTERNAL,
         "a kit template failed to render: this is a bug"),
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
    def kind(self) -> Kind:
        return CODES[self.code].kind

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

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

