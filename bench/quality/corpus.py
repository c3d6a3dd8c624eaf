"""A deterministic text corpus from the Python standard library's own .py files.

Files are ordered by the sha256 of their path relative to the standard library, then dealt out:
evaluation first, calibration next (disjoint from evaluation), then, when the configuration asks for
it, a probe text for `recipec measure --kld` (disjoint from both), training the rest. Test suites and
site-packages are left out. The corpus depends on the Python version, so its hash is recorded.
"""

from __future__ import annotations

import hashlib
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from .config import Corpus

SEPARATOR = "\n\n"


@dataclass(frozen=True)
class Split:
    """The texts and the files each came from (the probe text is empty unless configured)."""

    eval_text: str
    calib_text: str
    train_text: str
    eval_files: tuple[str, ...]
    calib_files: tuple[str, ...]
    probe_text: str = ""
    probe_files: tuple[str, ...] = ()

    def digest(self) -> str:
        h = hashlib.sha256()
        for t in (self.eval_text, self.calib_text, self.train_text):
            h.update(hashlib.sha256(t.encode()).digest())
        if self.probe_text:  # without a probe split the digest is what it always was
            h.update(hashlib.sha256(self.probe_text.encode()).digest())
        return h.hexdigest()


def stdlib_root() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def source_files(root: Path) -> list[str]:
    """Relative paths of the standard library's .py files, without tests and site-packages."""
    out = []
    for p in root.rglob("*.py"):
        rel = p.relative_to(root).as_posix()
        parts = rel.split("/")
        if parts[0] in ("site-packages", "dist-packages") or any(
            x in ("test", "tests", "idle_test") for x in parts[:-1]
        ):
            continue
        out.append(rel)
    return sorted(out, key=lambda r: hashlib.sha256(r.encode()).hexdigest())


def build(cfg: Corpus, root: Path | None = None) -> Split:
    """Deal the files into evaluation, calibration, probe and training text."""
    root = root or stdlib_root()
    ev, ca, pr, tr = [], [], [], []
    ev_n = ca_n = pr_n = tr_n = 0
    ev_files, ca_files, pr_files = [], [], []
    for rel in source_files(root):
        text = (root / rel).read_bytes().decode("utf-8", errors="replace").replace("\r\n", "\n")
        if not text.strip():
            continue
        n = len(text.encode())
        # A file goes to evaluation or calibration only if it fits: their sizes stay near the target.
        if ev_n + n <= cfg.eval_bytes:
            ev.append(text), ev_files.append(rel)
            ev_n += n
        elif ca_n + n <= cfg.calib_bytes:
            ca.append(text), ca_files.append(rel)
            ca_n += n
        elif pr_n + n <= cfg.probe_bytes:
            pr.append(text), pr_files.append(rel)
            pr_n += n
        elif not cfg.train_bytes or tr_n < cfg.train_bytes:
            tr.append(text)
            tr_n += n
    return Split(SEPARATOR.join(ev), SEPARATOR.join(ca), SEPARATOR.join(tr), tuple(ev_files), tuple(ca_files),
                 SEPARATOR.join(pr), tuple(pr_files))
