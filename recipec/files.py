"""Files on disk, whatever they hold: a file's sha256, a text file written atomically, a path's name.

No recipec imports: every stage may use it. Callers turn OSError into their own diagnostic.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile


def file_sha256(path: str | os.PathLike) -> str:
    """The sha256 of the file at PATH, read in pieces (OSError when it cannot be read)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_text_atomically(path: str | os.PathLike, text: str) -> None:
    """TEXT into PATH through a temporary file beside it: readers see the old file or the new one,
    never a part. An existing file keeps its permissions. A symbolic link stays a link: the file it
    points to is written (beside that file, then renamed over it). Raises OSError; nothing is left behind."""
    path = os.fspath(path)
    if os.path.islink(path):
        path = os.path.realpath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".recipec-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        if os.path.exists(path):
            os.chmod(tmp, os.stat(path).st_mode & 0o7777)
        else:
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def base_name(path: str) -> str:
    """The file name of PATH, whichever separator (`/` or `\\`) it was written with."""
    return re.split(r"[\\/]", str(path))[-1]
