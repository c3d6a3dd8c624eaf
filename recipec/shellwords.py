"""The words of a pasted shell command, as the shell hands them to the program, with positions.

POSIX quoting (single quotes literal; double quotes keep a backslash unless it escapes `$`, `` ` ``,
`"`, `\\` or the newline; outside quotes a backslash escapes the next character), `\\` at the end of a
line continues the command, a quoted newline stays in the word, `#` at the start of a word starts a
comment. The command ends at the end of its last line or at `;`, `|`, `&`, `<`, `>` (what follows
is not the program's arguments). Expansions (`$VAR`, `` `…` ``) are not performed: they are
reported. A Windows paste (a line continued by a lone `` ` `` as in PowerShell or `^` as in
cmd.exe, or a `….exe` program) keeps its backslashes: they are path separators there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from recipec.source import Span

_STOP = frozenset(";|&<>")
_DQ_ESCAPES = frozenset('$`"\\')
_EXPANSION = re.compile(r"\$[A-Za-z_{(]|`")


@dataclass(frozen=True)
class Word:
    """One argument: TEXT as the program receives it, RAW as it was written, and where."""

    text: str
    raw: str
    span: Span


@dataclass
class Command:
    """The words of one command, the line after it, and what was left out."""

    words: list[Word] = field(default_factory=list)
    next_line: int = 0  # 0-based index of the first line after the command
    stopped_at: Span | None = None  # where a `;`, `|`, `&`, `<` or `>` ended the arguments
    stopped_text: str = ""
    expansions: list[Word] = field(default_factory=list)  # words holding `$…` or backquotes
    windows: Span | None = None  # a line continued by PowerShell's `` ` `` or cmd.exe's `^`


class _Lexer:
    def __init__(self, path: str, lines: list[str], first: int, windows: bool = False):
        self.path, self.lines, self.i = path, lines, first
        self.out = Command()
        self.cur: list[str] = []
        self.start: tuple[int, int] | None = None  # (1-based line, 0-based column) of the word
        self.quote = ""
        self.windows = windows  # PowerShell/cmd.exe: a backslash is a path separator, not an escape
        self.cont = False  # the current line ends in a continuation

    def run(self) -> Command:
        while self.i < len(self.lines):
            line = self.lines[self.i].rstrip(" \t\r")  # pasted lines often keep trailing blanks
            self.i += 1
            cont = self._line(line, self.i)
            if self.quote and not cont:
                self.cur.append("\n")
            elif not cont:
                break
        if self.start is not None:
            self._end_word(self.i, len(self.lines[self.i - 1]))
        self.out.next_line = self.i
        return self.out

    def _line(self, line: str, lineno: int) -> bool:
        """Read LINE; True when the command continues on the next line (a final backslash)."""
        k, self.cont = 0, False
        while k < len(line):
            c = line[k]
            if self.quote:
                k = self._quoted(line, k)
            elif self.out.stopped_at is not None:
                pass
            elif c in " \t":
                if self.start is not None:
                    self._end_word(lineno, k)
            elif c == "#" and self.start is None:
                return False
            elif c in _STOP:
                if self.start is not None and not "".join(self.cur).isdigit():  # `2>&1`: no argument
                    self._end_word(lineno, k)
                self.cur, self.start = [], None
                self.out.stopped_at = Span(self.path, lineno, k + 1)
                self.out.stopped_text = line[k:].strip()
            elif c == "\\" and k + 1 == len(line):
                return True
            elif c in "`^" and k + 1 == len(line) and self.start is None:
                # PowerShell's backtick or cmd.exe's caret continues a pasted Windows command
                self.out.windows = Span(self.path, lineno, k + 1)
                return True
            else:
                if self.start is None:
                    self.start = (lineno, k)
                if c in "'\"":
                    self.quote = c
                elif c == "\\" and not self.windows:
                    k += 1
                    self.cur.append(line[k])
                else:
                    self.cur.append(c)
            k += 1
        return self.cont

    def _quoted(self, line: str, k: int) -> int:
        """One character inside quotes; returns the index of the last character used."""
        c = line[k]
        if c == self.quote:
            self.quote = ""
        elif self.quote == '"' and c == "\\" and not self.windows and k + 1 < len(line) and line[k + 1] in _DQ_ESCAPES:
            k += 1
            self.cur.append(line[k])
        elif self.quote == '"' and c == "\\" and k + 1 == len(line):  # `\` + newline: nothing
            self.cont = True
        else:
            self.cur.append(c)
        return k

    def _end_word(self, end_line: int, end_k: int) -> None:
        line, k = self.start
        text = self.lines[line - 1]
        raw = text[k:end_k] if end_line == line else text[k:]
        word = Word("".join(self.cur), raw, Span(self.path, line, k + 1, end_line, end_k + 1))
        self.out.words.append(word)
        if _EXPANSION.search(raw) and not raw.startswith("'"):
            self.out.expansions.append(word)
        self.cur, self.start = [], None


def shell_words(path: str, lines: list[str], first: int) -> Command:
    """The command that starts at LINES[FIRST] (0-based) of the file PATH. A Windows paste (its
    first line continued by a lone `` ` `` or `^`, or its program a `….exe`) keeps backslashes."""
    line = lines[first].rstrip()
    words = line.split()
    windows = bool(words) and (line.endswith((" `", " ^", "\t`", "\t^")) or words[0].lower().endswith(".exe"))
    return _Lexer(path, lines, first, windows).run()
