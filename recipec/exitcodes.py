"""The exit-code contract, decided in one place: 0 clean, 1 findings, 2 usage, input or internal error."""

from __future__ import annotations

from typing import Iterable

from recipec.diagnostics import Diagnostic, Kind, Severity

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2

_NOT_FINDINGS = frozenset({Kind.INPUT, Kind.USAGE, Kind.INTERNAL})


def exit_code(diagnostics: Iterable[Diagnostic], *, strict: bool = False, changed: bool = False) -> int:
    """The exit code of a command that reported DIAGNOSTICS.

    Severity decides whether a diagnostic counts (errors always, warnings under STRICT, notes
    never); the kind of a counted one decides 2 (input, usage, internal) over 1 (finding).
    CHANGED is a finding without a diagnostic: `fmt --check`/`--diff` or `compile --check`
    would change something, `verify`/`diff` found differences.
    """
    counted = [d for d in diagnostics
               if d.severity is Severity.ERROR or (strict and d.severity is Severity.WARNING)]
    if any(d.kind in _NOT_FINDINGS for d in counted):
        return EXIT_ERROR
    if counted or changed:
        return EXIT_FINDINGS
    return EXIT_OK
