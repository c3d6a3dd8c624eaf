"""Static checks on the emitted bash scripts: heredocs, unguarded array expansions, bash-4-only syntax.

bash 3.2 (macOS's /bin/bash) cannot be installed here, so what it would reject is found by
scanning the shell text (heredoc bodies are data, not shell, and are left out).
"""

from __future__ import annotations

import re

_HEREDOC = re.compile(r"<<(-?)\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")
# The one safe way to expand a possibly empty array under `set -u` on every bash from 3.2.
_GUARDED = re.compile(r'\$\{(\w+)\[([@*])\]\+"\$\{\1\[\2\]\}"\}')
_ARRAY_ALL = re.compile(r"\$\{(\w+)\[[@*]\][^}]*\}?")

# Syntax and builtins newer than bash 3.2, each with the version that brought it.
BASH4_ONLY = {
    "associative array (4.0)": r"\b(declare|local|typeset|readonly)\s+-[a-zA-Z]*A",
    "nameref (4.3)": r"\b(declare|local|typeset)\s+-[a-zA-Z]*n\b",
    "declare -g (4.2)": r"\b(declare|typeset)\s+-[a-zA-Z]*g",
    "case modification (4.0)": r"\$\{\w+(\[[^]]*\])?(,,?|\^\^?)[^}]*\}",
    "transformation ${x@Q} (4.4)": r"\$\{\w+(\[[^]]*\])?@[QEPAaKkUuL]\}",
    "mapfile/readarray/coproc (4.0)": r"\b(mapfile|readarray|coproc)\b",
    "case fall-through ;& ;;& (4.0)": r"(^|[^;]);&|;;&",
    "&>> or |& (4.0)": r"&>>|\|&",
    "negative subscript (4.3)": r"\$\{\w+\[-\s*[0-9]",
    "wait -n / -f (4.3/5.0)": r"\bwait\s+-[nf]\b",
    "test -v (4.2)": r"(\[\[|\btest|\[)\s+-v\s",
    "printf %(...)T (4.2)": r"%\([^)]*\)T",
    "{fd}> allocation (4.1)": r"(^|\s)\{\w+\}[<>]",
    "bash 4/5 variables": r"\$\{?(EPOCHSECONDS|EPOCHREALTIME|SRANDOM|BASH_ARGV0|READLINE_\w+)\b",
    "bash 4 shopt": r"\bshopt\s+-s\s+(globstar|lastpipe|autocd|direxpand|checkjobs|inherit_errexit|"
                    r"localvar_\w+|compat\w+|assoc_expand_once)",
}


def heredoc_body(script: str, tag: str) -> str:
    """The body of the (first) heredoc ended by TAG in SCRIPT, with its final newline."""
    lines = script.splitlines(keepends=True)
    for i, line in enumerate(lines):
        m = _HEREDOC.search(line)
        if m and m.group(3) == tag:
            end = next(j for j in range(i + 1, len(lines)) if lines[j].rstrip("\n") == tag)
            return "".join(lines[i + 1:end])
    raise LookupError(f"no heredoc {tag}")


def shell_text(script: str) -> str:
    """SCRIPT without its heredoc bodies and `#` comment lines: the text bash parses as commands."""
    out, tag, strip_tabs = [], None, False
    for line in script.splitlines(keepends=True):
        if tag is not None:
            if (line.lstrip("\t") if strip_tabs else line).rstrip("\n") == tag:
                tag = None
            continue
        if line.lstrip().startswith("#"):
            continue
        out.append(line)
        m = _HEREDOC.search(line.replace("<<<", "   "))
        if m:
            strip_tabs, tag = m.group(1) == "-", m.group(3)
    return "".join(out)


def unguarded_arrays(script: str) -> list[str]:
    """Every `${A[@]…}` / `${A[*]…}` in SCRIPT's shell text not written as ${A[@]+"${A[@]}"}."""
    text = _GUARDED.sub("", shell_text(script))
    return [m.group(0) for m in _ARRAY_ALL.finditer(text)]


def bash4_features(script: str) -> list[str]:
    """`WHAT: LINE` for every line of SCRIPT's shell text using something bash 3.2 lacks."""
    found = []
    for line in shell_text(script).splitlines():
        for what, pattern in BASH4_ONLY.items():
            if re.search(pattern, line):
                found.append(f"{what}: {line.strip()}")
    return found
