"""The exit-code contract: severity decides whether a diagnostic counts, kind decides 1 or 2."""

import pytest

from recipec.diagnostics import CODES, Diagnostic, Kind, Severity
from recipec.exitcodes import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK, exit_code

FINDING_ERROR = Diagnostic("L004", "base F16 disables every rule")
FINDING_WARNING = Diagnostic("L011", "no architecture has role attn_qq")
FINDING_NOTE = Diagnostic("R306", "MTP tensors have no imatrix data")
INPUT = Diagnostic("M101", "model.gguf: not a GGUF file")
USAGE = Diagnostic("U001", "the following arguments are required: --model")
INTERNAL = Diagnostic("X001", "internal error: KeyError")


def test_contract_values():
    assert (EXIT_OK, EXIT_FINDINGS, EXIT_ERROR) == (0, 1, 2)


@pytest.mark.parametrize("diags,kwargs,expected", [
    ([], {}, 0),
    ([], {"strict": True}, 0),
    ([FINDING_NOTE], {"strict": True}, 0),            # notes never count
    ([FINDING_WARNING], {}, 0),                       # warnings count only under --strict
    ([FINDING_WARNING], {"strict": True}, 1),
    ([FINDING_ERROR], {}, 1),
    ([FINDING_ERROR, FINDING_WARNING], {}, 1),
    ([], {"changed": True}, 1),                       # fmt --check, compile --check, verify, diff
    ([FINDING_WARNING], {"changed": True}, 1),
    ([INPUT], {}, 2),
    ([USAGE], {}, 2),
    ([INTERNAL], {}, 2),
    ([FINDING_ERROR, INPUT], {}, 2),                  # an unreadable input beats the findings
    ([INPUT], {"changed": True}, 2),
    ([FINDING_WARNING, INTERNAL], {"strict": True, "changed": True}, 2),
])
def test_exit_code(diags, kwargs, expected):
    assert exit_code(diags, **kwargs) == expected


def test_severity_counts_before_kind():
    # a diagnostic of an input code lowered to a warning is not fatal unless --strict
    softened = Diagnostic("I101", "optional imatrix skipped", severity=Severity.WARNING)
    assert exit_code([softened]) == 0
    assert exit_code([softened], strict=True) == 2


def test_accepts_any_iterable():
    assert exit_code(iter([FINDING_ERROR])) == 1
    assert exit_code(d for d in [INPUT]) == 2


def test_every_code_has_a_kind():
    for code in CODES.values():
        assert isinstance(code.kind, Kind), code.code


@pytest.mark.parametrize("code,kind", [
    ("P001", Kind.FINDING), ("P008", Kind.FINDING), ("P009", Kind.INPUT), ("L001", Kind.FINDING),
    ("M101", Kind.INPUT), ("I101", Kind.INPUT), ("I104", Kind.FINDING), ("Q201", Kind.FINDING),
    ("Q203", Kind.INPUT), ("S201", Kind.FINDING), ("S208", Kind.INPUT), ("R301", Kind.FINDING),
    ("E401", Kind.INPUT), ("E402", Kind.FINDING), ("E403", Kind.FINDING), ("V401", Kind.FINDING),
    ("V402", Kind.INPUT), ("V403", Kind.INPUT), ("U001", Kind.USAGE), ("U002", Kind.INPUT),
    ("X001", Kind.INTERNAL), ("X002", Kind.INTERNAL),
])
def test_kinds_decided(code, kind):
    assert CODES[code].kind is kind
    assert Diagnostic(code, "m").kind is kind


def test_only_errors_are_not_findings():
    # every input, usage or internal code stops the command, so none defaults to a warning or note
    for code in CODES.values():
        if code.kind is not Kind.FINDING:
            assert code.severity is Severity.ERROR, code.code
