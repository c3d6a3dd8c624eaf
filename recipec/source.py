"""Source files and spans: every position prints as file:line:col, 1-based."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SourceFile:
    """A text file as read, with the name it is reported under."""

    path: str
    text: str

    @classmethod
    def read(cls, path: str | Path) -> "SourceFile":
        """Read PATH as UTF-8 (invalid bytes are replaced, never fatal)."""
        raw = Path(path).read_bytes()
        return cls(str(path), raw.decode("utf-8", errors="replace"))

    def line(self, lineno: int) -> str:
        """The text of 1-based line LINENO without its newline ('' when out of range)."""
        lines = self.text.splitlines()
        if 1 <= lineno <= len(lines):
            return lines[lineno - 1]
        return ""


@dataclass(frozen=True, order=True)
class Span:
    """A region of a source file: 1-based line and column of its start and end."""

    file: str
    line: int
    col: int
    end_line: int = 0
    end_col: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"

    @classmethod
    def of_file(cls, file: str) -> "Span":
        """A span naming a whole file (line 1, col 1)."""
        return cls(file, 1, 1, 1, 1)

    def to_dict(self) -> dict:
        return {
            "file": self.file,
            "line": self.line,
            "col": self.col,
            "end_line": self.end_line or self.line,
            "end_col": self.end_col or self.col,
        }
