"""Diagnostic output formats, a registry of small functions: text, json, github, sarif."""

from __future__ import annotations

import os
import re
from typing import Callable, Iterable, Mapping, TextIO

from recipec import jsonio
from recipec.version import __version__
from recipec.diagnostics import CODES, Diagnostic, Severity
from recipec.source import SourceFile

JSON_SCHEMA = "recipec.diagnostics/1"

# Never sent to a terminal or CI log as they are: C0 controls but tab and newline, DEL, the C1
# controls (ESC and CSI start escape sequences) and the bidirectional overrides.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_CONTROLS_AND_NEWLINES = re.compile(_CONTROLS.pattern[:-1] + "\n]")


def shown(text: str, newlines: bool = True) -> str:
    """TEXT as it may reach a terminal: each control character (a terminal escape among them) as
    its Python escape (`\\x1b`, `\\u202e`; an undecodable byte of a file name as `\\udcff`);
    tabs kept, and newlines when NEWLINES."""
    pattern = _CONTROLS if newlines else _CONTROLS_AND_NEWLINES
    return pattern.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def _source_line(d: Diagnostic, sources: Mapping[str, SourceFile]) -> str | None:
    if not d.span or d.span.line < 1:
        return None
    src = sources.get(d.span.file)
    if src is None:
        try:
            if os.path.isfile(d.span.file) and os.path.getsize(d.span.file) < 1 << 20:
                src = SourceFile.read(d.span.file)
        except OSError:
            src = None
    if src is None:
        return None
    return src.line(d.span.line)


def format_text(diags: Iterable[Diagnostic], sources: Mapping[str, SourceFile] | None = None) -> str:
    """`file:line:col: CODE message`, the source line with a caret, the hint and notes; every
    control character in them escaped (`shown`)."""
    sources = sources or {}
    out: list[str] = []
    for d in diags:
        sev = "" if d.severity is Severity.ERROR else f"{d.severity.value}: "
        where = f"{shown(str(d.span), newlines=False)}: " if d.span else ""
        out.append(f"{where}{d.code} {sev}{shown(d.message)}")
        line = _source_line(d, sources)
        if line is not None and d.span:
            out += _quoted_line(line, d)
        if d.hint:
            out.append(f"    hint: {shown(d.hint)}")
        out.extend(f"    note: {shown(n)}" for n in d.notes)
    return "\n".join(out) + ("\n" if out else "")


def _quoted_line(line: str, d: Diagnostic) -> list[str]:
    """The source line (controls escaped) and a caret under the span."""
    text = line.expandtabs(1)
    col = max(1, d.span.col)
    width = 1
    if d.span.end_line == d.span.line and d.span.end_col > col:
        width = d.span.end_col - col
    width = max(1, min(width, max(1, len(text) - col + 1)))
    before = len(shown(text[:col - 1], newlines=False)) + max(0, col - 1 - len(text))
    under = shown(text[col - 1:col - 1 + width], newlines=False)
    return [f"    {shown(text, newlines=False)}", "    " + " " * before + "^" * max(1, len(under))]


def print_text(diags: Iterable[Diagnostic], stream: TextIO, sources: Mapping[str, SourceFile] | None = None) -> None:
    stream.write(format_text(diags, sources))


def format_json(diags: Iterable[Diagnostic], sources=None) -> str:
    return jsonio.dumps({"schema": JSON_SCHEMA, "diagnostics": [d.to_dict() for d in diags]})


def _gh_escape(text: str, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def format_github(diags: Iterable[Diagnostic], sources=None) -> str:
    """GitHub workflow annotations: `::error file=F,line=L,col=C,title=CODE::message`."""
    lines = []
    for d in diags:
        level = {"error": "error", "warning": "warning"}.get(d.severity.value, "notice")
        props = []
        if d.span:
            props += [f"file={_gh_escape(shown(d.span.file), True)}", f"line={d.span.line}", f"col={d.span.col}"]
        props.append(f"title={_gh_escape(d.code + ' ' + d.name, True)}")
        msg = d.message + (f" (hint: {d.hint})" if d.hint else "")
        lines.append(f"::{level} {','.join(props)}::{_gh_escape(shown(msg))}")
    return "\n".join(lines) + ("\n" if lines else "")


def sarif_log(diags: Iterable[Diagnostic]) -> dict:
    """A SARIF 2.1.0 log with one run, the whole code catalogue as rules."""
    diags = list(diags)
    rules = [
        {
            "id": c.code,
            "name": c.name,
            "shortDescription": {"text": c.summary},
            "defaultConfiguration": {"level": _sarif_level(c.severity)},
        }
        for c in CODES.values()
    ]
    index = {c: i for i, c in enumerate(CODES)}
    results = []
    for d in diags:
        r: dict = {
            "ruleId": d.code,
            "ruleIndex": index[d.code],
            "level": _sarif_level(d.severity),
            "message": {"text": d.message + (f" (hint: {d.hint})" if d.hint else "")},
        }
        if d.span:
            region = {"startLine": d.span.line, "startColumn": d.span.col}
            if d.span.end_line >= d.span.line and d.span.end_col:
                region["endLine"] = d.span.end_line
                region["endColumn"] = d.span.end_col
            r["locations"] = [{"physicalLocation": {
                "artifactLocation": {"uri": d.span.file.replace(os.sep, "/")},
                "region": region,
            }}]
        results.append(r)
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "recipec", "version": __version__,
                                "informationUri": "https://github.com/recipec/recipec",
                                "rules": rules}},
            "results": results,
        }],
    }


def _sarif_level(sev: Severity) -> str:
    return {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "note"}[sev]


def format_sarif(diags: Iterable[Diagnostic], sources=None) -> str:
    return jsonio.dumps(sarif_log(diags))


FORMATS: dict[str, Callable[..., str]] = {
    "text": format_text,
    "json": format_json,
    "github": format_github,
    "sarif": format_sarif,
}


def default_format() -> str:
    """`github` inside GitHub Actions, else `text`."""
    return "github" if os.environ.get("GITHUB_ACTIONS") == "true" else "text"
