"""Writing a kit: all files or none, and comparing a kit on disk with what would be written."""

from __future__ import annotations

import os
import shutil
import tempfile

from recipec.diagnostics import Diagnostic, DiagnosticError


def _unwritable(out_dir: str, exc: OSError) -> DiagnosticError:
    return DiagnosticError(Diagnostic("E401", f"cannot write {out_dir}: {exc.strerror or exc}",
                                      hint="check the directory's permissions"))


def write_atomically(out_dir: str, files: dict[str, str]) -> None:
    """Write FILES into OUT_DIR: all into a temporary directory beside it, then moved in."""
    parent = os.path.dirname(os.path.abspath(out_dir)) or "."
    try:
        os.makedirs(parent, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=".recipec-", dir=parent)
    except OSError as exc:
        raise _unwritable(out_dir, exc) from None
    try:
        for name, text in files.items():
            path = os.path.join(tmp, name)
            with open(path, "w", encoding="utf-8", newline="") as f:
                f.write(text)
            if name.endswith(".sh"):
                os.chmod(path, 0o755)
        os.makedirs(out_dir, exist_ok=True)
        for name in files:
            os.replace(os.path.join(tmp, name), os.path.join(out_dir, name))
    except OSError as exc:
        raise _unwritable(out_dir, exc) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def differing(out_dir: str, files: dict[str, str]) -> list[str]:
    """Names of FILES whose content in OUT_DIR differs (or that are missing)."""
    out = []
    for name, text in files.items():
        try:
            with open(os.path.join(out_dir, name), encoding="utf-8", newline="") as f:
                if f.read() == text:
                    continue
        except (OSError, UnicodeDecodeError):
            pass
        out.append(name)
    return out
