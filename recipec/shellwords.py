"""The words of a pasted shell command, as the shell hands them to the program, with positions.

POSIX quoting (single quotes literal; double quotes keep a backslash unless it escapes `$`, `` ` ``,
`"`, `\\` or the newline; outside quotes a backslash escapes the next character), `\\` at the end of a
line continues the command, a quoted newline stays in the word, `#` at the start of a word starts a
comment. The command ends at the end of its last line or at `;`, `|`, `&`, `<`, `>` (what follows is
not the program's arguments). Expansions (`$VAR`, `` `…` ``) are not performed: they are reported.
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


class _Lexer:
    def __init__(self, path: str, lines: list[str], first: int):
        self.path, self.lines, self.i = path, lines, first
        self.out = Command()
        self.cur: list[str] = []
        self.start: tuple[int, int] | None = None  # (1-based line, 0-based column) of the word
        self.quote = ""
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
            else:
                if self.start is None:
                    self.start = (lineno, k)
                if c in "'\"":
                    self.quote = c
                elif c == "\\":
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
        elif self.quote == '"' and c == "\\" and k + 1 < len(line) and line[k + 1] in _DQ_ESCAPES:
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
    """The command that starts at LINES[FIRST] (0-based) of the file PATH."""
    return _Lexer(path, lines, first).run()
