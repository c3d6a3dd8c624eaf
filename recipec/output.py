"""Writing a kit: all files or none, and comparing a kit on disk with what would be written.

The new files are written into a hidden directory beside their final place (inside the kit's
directory when it exists, beside it when it does not), so every rename stays on one filesystem,
whether the directory is a mount point, a volume or a symlink to another disk. Only the kit's
own files are replaced; anything else in the directory (the model, the imatrix) is left alone.
When any step fails, the files already moved are put back: the old kit stays byte for byte.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile

from recipec.diagnostics import Diagnostic, DiagnosticError

# errno -> (what happened, what to do); anything else is reported by its strerror.
_ELSEWHERE = "or write the kit elsewhere with -o"
_WHY = {
    errno.ENOSPC: ("no space left on the device", f"free space on that filesystem, {_ELSEWHERE}"),
    getattr(errno, "EDQUOT", -1): ("the disk quota is exceeded", f"free space within the quota, {_ELSEWHERE}"),
    errno.EROFS: ("the filesystem is read-only", "write the kit to a writable place with -o"),
    errno.EACCES: ("permission denied", "check the directory's permissions"),
    errno.EPERM: ("operation not permitted", "check the directory's permissions"),
}


def _unwritable(out_dir: str, exc: OSError) -> DiagnosticError:
    why, hint = _WHY.get(exc.errno, (exc.strerror or str(exc), "fix the cause and run again"))
    return DiagnosticError(Diagnostic("E401", f"cannot write {out_dir}: {why}", hint=f"{hint} (nothing was written)"))


def _refuse(out_dir: str, message: str, hint: str) -> DiagnosticError:
    return DiagnosticError(Diagnostic("E401", f"cannot write {out_dir}: {message}",
                                      hint=f"{hint} (nothing was written)"))


def write_atomically(out_dir: str, files: dict[str, str]) -> None:
    """Write FILES into OUT_DIR, all or none: raises DiagnosticError (E401) with OUT_DIR as it was."""
    if not out_dir:
        raise _refuse("''", "an empty path names no directory", "give the kit's directory with -o")
    target = os.path.realpath(out_dir)  # a symlinked directory: write where it points
    if os.path.isdir(target):
        _replace_in(out_dir, target, files)
    elif os.path.lexists(target):
        raise _refuse(out_dir, "it exists and is not a directory", "give another -o, or move the file away")
    else:
        _create(out_dir, target, files)


def _fill(stage: str, files: dict[str, str]) -> None:
    """The new files, in STAGE; scripts executable."""
    for name, text in files.items():
        path = os.path.join(stage, name)
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        if name.endswith(".sh"):
            os.chmod(path, 0o755)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _create(out_dir: str, target: str, files: dict[str, str]) -> None:
    """A new kit directory: filled beside where it goes, then renamed into place in one step."""
    parent = os.path.dirname(target)
    made = _make_parents(out_dir, parent)
    stage = None
    done = False
    try:
        stage = tempfile.mkdtemp(prefix=".recipec-", dir=parent)
        _fill(stage, files)
        os.chmod(stage, 0o777 & ~_umask())  # as os.mkdir would have made it
        os.rename(stage, target)
        done = True
    except OSError as exc:
        raise _unwritable(out_dir, exc) from None
    finally:
        if not done:
            if stage is not None:
                shutil.rmtree(stage, ignore_errors=True)
            for folder in reversed(made):
                _try(os.rmdir, folder)


def _make_parents(out_dir: str, parent: str) -> list[str]:
    """Create PARENT and its missing ancestors; the directories made, outermost first."""
    missing = []
    folder = parent
    while folder and not os.path.exists(folder) and os.path.dirname(folder) != folder:
        missing.append(folder)
        folder = os.path.dirname(folder)
    made: list[str] = []
    for folder in reversed(missing):
        try:
            os.mkdir(folder)
        except FileExistsError:
            continue
        except OSError as exc:
            for done in reversed(made):
                _try(os.rmdir, done)
            raise _unwritable(out_dir, exc) from None
        made.append(folder)
    return made


def _replace_in(out_dir: str, target: str, files: dict[str, str]) -> None:
    """An existing kit directory: the new files staged inside it, checked, then swapped in."""
    for name in files:
        path = os.path.join(target, name)
        if os.path.isdir(path) and not os.path.islink(path):
            raise _refuse(out_dir, f"{name} is a directory there", f"move {name} out of the way")
    try:
        stage = tempfile.mkdtemp(prefix=".recipec-", dir=target)
    except OSError as exc:
        raise _unwritable(out_dir, exc) from None
    try:
        _fill(stage, files)
        _swap(target, stage, list(files))
    except _Stranded as exc:
        stage = None  # it holds the old files that could not be put back
        raise DiagnosticError(Diagnostic("E401", f"cannot write {out_dir}: {exc.strerror}",
                                         hint=f"the old {exc.names} are in {exc.filename}: move them back")) from None
    except OSError as exc:
        raise _unwritable(out_dir, exc) from None
    finally:
        if stage is not None:
            shutil.rmtree(stage, ignore_errors=True)


class _Stranded(OSError):
    """A swap failed and some old files could not be put back (they are in the backup folder)."""

    def __init__(self, exc: OSError, names: list[str], backup: str):
        super().__init__(exc.errno, exc.strerror or str(exc), backup)
        self.names = ", ".join(names)


def _swap(target: str, stage: str, names: list[str]) -> None:
    """Move each old file of NAMES into STAGE/.old and the new one into TARGET; on an error put the
    old files back and raise it (_Stranded when some could not be put back)."""
    backup = os.path.join(stage, ".old")
    os.mkdir(backup)
    moved: list[str] = []
    placed: list[str] = []
    try:
        for name in names:
            dest = os.path.join(target, name)
            if os.path.lexists(dest):
                os.rename(dest, os.path.join(backup, name))
                moved.append(name)
            os.rename(os.path.join(stage, name), dest)
            placed.append(name)
    except OSError as exc:
        for name in placed:
            if name not in moved:
                _try(os.unlink, os.path.join(target, name))
        lost = [n for n in moved if not _try(os.replace, os.path.join(backup, n), os.path.join(target, n))]
        if lost:
            raise _Stranded(exc, lost, backup) from None
        raise


def _try(action, *args) -> bool:
    """ACTION(*ARGS); False when it raised OSError."""
    try:
        action(*args)
    except OSError:
        return False
    return True


def differing(out_dir: str, files: dict[str, str]) -> list[str]:
    """Names of FILES whose content in OUT_DIR differs (or that are missing), and scripts that are
    not executable (as `name (not executable)`): the owner's execute bit, the one git records."""
    out = []
    for name, text in files.items():
        path = os.path.join(out_dir, name)
        try:
            with open(path, encoding="utf-8", newline="") as f:
                same = f.read() == text
            mode = os.stat(path).st_mode
        except (OSError, UnicodeDecodeError):
            out.append(name)
            continue
        if not same:
            out.append(name)
        elif name.endswith(".sh") and os.name != "nt" and not mode & stat.S_IXUSR:
            out.append(f"{name} (mode {stat.S_IMODE(mode):04o}, not executable)")
    return out


def report_check(out_dir: str, changed: list[str], redo: str) -> int:
    """`--check`'s verdict on OUT_DIR: E402 naming the files that would change (exit 1), or "up to
    date" (exit 0); printed on stderr."""
    import sys

    from recipec.exitcodes import EXIT_OK, exit_code
    from recipec.report import print_text, shown

    if changed:
        print_text([Diagnostic("E402", f"{out_dir}: {', '.join(changed)} would change", hint=f"run `{redo}`")],
                   sys.stderr)
        return exit_code((), changed=True)
    print(f"{shown(out_dir, newlines=False)}: up to date", file=sys.stderr)
    return EXIT_OK
