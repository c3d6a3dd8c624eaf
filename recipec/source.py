"""Source files and spans: every position prints as file:line:col, 1-based."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

# The largest recipe recipec reads: a real recipe is a page of text; 4 MiB still holds 100,000
# statements (which lint checks in seconds), and keeps /dev/zero-like input out.
MAX_RECIPE_BYTES = 4 << 20


class NotARecipeFile(OSError):
    """The path names something that is not a regular file of a recipe's size (a device, a FIFO,
    a directory, or a file past MAX_RECIPE_BYTES); its message says which."""


@dataclass(frozen=True)
class SourceFile:
    """A text file as read, with the name it is reported under."""

    path: str
    text: str
    _lines: list = field(default_factory=list, init=False, repr=False, compare=False, hash=False)

    @classmethod
    def read(cls, path: str | Path, limit: int | None = None) -> "SourceFile":
        """Read PATH as UTF-8 (invalid bytes are replaced, never fatal).

        With LIMIT, only a regular file of at most LIMIT bytes is read: anything else (a directory,
        a FIFO, a device such as /dev/zero, a larger file) raises NotARecipeFile without blocking
        and without reading past LIMIT + 1 bytes."""
        if limit is None:
            raw = Path(path).read_bytes()
        else:
            raw = _read_regular(os.fspath(path), limit)
        return cls(str(path), raw.decode("utf-8", errors="replace"))

    def line(self, lineno: int) -> str:
        """The text of 1-based line LINENO without its newline ('' when out of range)."""
        if not self._lines:  # split once: diagnostics quote lines of large files one by one
            self._lines.append(self.text.splitlines())
        lines = self._lines[0]
        if 1 <= lineno <= len(lines):
            return lines[lineno - 1]
        return ""


def _read_regular(path: str, limit: int) -> bytes:
    """The bytes of the regular file PATH, refused past LIMIT bytes (NotARecipeFile)."""
    try:  # plans, scripts and JSON record the path as text, which cannot carry undecodable bytes
        path.encode("utf-8")
    except UnicodeError:
        raise NotARecipeFile("its name is not valid UTF-8: rename the file (or link it) to a UTF-8 name") from None
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO opens without waiting
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            what = "a directory" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) \
                else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file"
            raise NotARecipeFile(f"{what}, not a recipe file" if not what.startswith("not") else what)
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 16, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise NotARecipeFile(f"larger than {limit:,} bytes, the limit for a recipe")
        return b"".join(chunks)
    finally:
        os.close(fd)


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
