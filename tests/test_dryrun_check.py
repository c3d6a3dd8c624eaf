"""The dry-run gate's awk program (templates/partials/dryrun_check.awk), run by every awk installed.

quantize.sh runs it as `awk -v planfile=PLAN -f dryrun_check.awk DRY_RUN_LOG`; here it runs the
same way on hand-written llama-quantize --dry-run logs, under awk and, when installed, mawk, gawk,
the one true awk (macOS's) and busybox awk.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.kit_helpers import ROOT

PROGRAM = ROOT / "templates" / "partials" / "dryrun_check.awk"
AWKS = {"awk": ["awk"], "mawk": ["mawk"], "gawk": ["gawk", "--posix"], "original-awk": ["original-awk"],
        "nawk": ["nawk"], "busybox": ["busybox", "awk"]}

PLAN = "blk.0.attn_q.weight Q4_K\nblk.0.attn_norm.weight F32\noutput.weight Q8_0\n"
NOISE = ("main: build = 1 (abc)\nmain: quantizing 'in.gguf' to 'out.gguf' as Q4_K_M\n"
         "llama_model_loader: - kv   0:                       general.architecture str              = llama\n"
         "llama_model_loader: - type  f32:    1 tensors\n")
TAIL = "llama_model_quantize_impl: model size  =     0.05 MiB\nllama_model_quantize_impl: quant size  =     0.02 MiB\n"


def _line(i: int, name: str, source: str, new: str | None = None, n: int = 3) -> str:
    """One tensor line as llama-quantize --dry-run prints it (llama-quant.cpp)."""
    head = f"[{i:4d}/{n:4d}] {name:<36s} - [   64,    64,     1,     1], type = {source:>6s}, "
    if new is None:  # kept in its source type: no arrow, no type in parentheses
        return head + "size =    0.016 MiB\n"
    return head + f"size =     0.01 MiB ->     0.00 MiB ({new})\n"


MATCH = NOISE + _line(1, "blk.0.attn_q.weight", "f16", "q4_K") + _line(2, "blk.0.attn_norm.weight", "f32") \
    + _line(3, "output.weight", "f16", "q8_0") + TAIL


def _awk(name: str) -> list[str]:
    argv = AWKS[name]
    if shutil.which(argv[0]) is None:
        if name == "awk":
            pytest.fail("no awk on PATH")
        pytest.skip(f"{argv[0]} is not installed")
    return argv


@pytest.fixture(params=list(AWKS))
def awk(request) -> list[str]:
    return _awk(request.param)


def _run(awk: list[str], tmp_path: Path, log: str, plan: str = PLAN) -> tuple[int, list[str]]:
    (tmp_path / "plan.txt").write_text(plan)
    (tmp_path / "dry-run.log").write_bytes(log.encode())
    proc = subprocess.run([*awk, "-v", f"planfile={tmp_path / 'plan.txt'}", "-f", str(PROGRAM),
                           str(tmp_path / "dry-run.log")], capture_output=True, text=True, timeout=30)
    assert proc.stderr == "", proc.stderr
    return proc.returncode, sorted(proc.stdout.splitlines())


def test_match_exits_0_silently(awk, tmp_path):
    assert _run(awk, tmp_path, MATCH) == (0, [])


def test_crlf_log_still_matches(awk, tmp_path):
    assert _run(awk, tmp_path, MATCH.replace("\n", "\r\n")) == (0, [])


def test_type_differs(awk, tmp_path):
    log = MATCH.replace("(q8_0)", "(q6_K)").replace("(q4_K)", "(iq4_xs)")
    assert _run(awk, tmp_path, log) == (1, ["  blk.0.attn_q.weight: planned Q4_K, llama-quantize would write IQ4_XS",
                                            "  output.weight: planned Q8_0, llama-quantize would write Q6_K"])


def test_kept_type_differs(awk, tmp_path):
    log = MATCH.replace(_line(3, "output.weight", "f16", "q8_0"), _line(3, "output.weight", "f16"))
    assert _run(awk, tmp_path, log) == (1, ["  output.weight: planned Q8_0, llama-quantize would write F16"])


def test_missing_tensor(awk, tmp_path):
    log = MATCH.replace(_line(1, "blk.0.attn_q.weight", "f16", "q4_K"), "")
    assert _run(awk, tmp_path, log) == (1, ["  blk.0.attn_q.weight: planned Q4_K, missing from the dry run"])


def test_extra_tensor(awk, tmp_path):
    log = MATCH.replace(TAIL, _line(4, "token_embd.weight", "f16", "q4_K", n=4) + TAIL)
    assert _run(awk, tmp_path, log) == (1, ["  token_embd.weight: not in the plan, llama-quantize would write Q4_K"])


def test_empty_log(awk, tmp_path):
    assert _run(awk, tmp_path, "") == (1, [
        "  blk.0.attn_norm.weight: planned F32, missing from the dry run",
        "  blk.0.attn_q.weight: planned Q4_K, missing from the dry run",
        "  no tensors compared (empty plan or unreadable dry-run output)",
        "  output.weight: planned Q8_0, missing from the dry run"])


def test_log_without_tensor_lines(awk, tmp_path):
    rc, lines = _run(awk, tmp_path, NOISE + "llama_model_quantize_impl: failed to quantize\n")
    assert rc == 1 and "  no tensors compared (empty plan or unreadable dry-run output)" in lines


def test_empty_plan(awk, tmp_path):
    rc, lines = _run(awk, tmp_path, MATCH, plan="")
    assert rc == 1 and "  no tensors compared (empty plan or unreadable dry-run output)" in lines
    assert "  output.weight: not in the plan, llama-quantize would write Q8_0" in lines
    assert _run(awk, tmp_path, "", plan="") == (1, ["  no tensors compared (empty plan or unreadable dry-run output)"])


def test_missing_plan_file(awk, tmp_path):
    proc = subprocess.run([*awk, "-v", f"planfile={tmp_path / 'absent.txt'}", "-f", str(PROGRAM), "/dev/null"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1 and "no tensors compared" in proc.stdout


# Extensions some awks lack (macOS awk, mawk 1.3.3, busybox): the program uses none.
_NOT_POSIX = re.compile(r"\b(gensub|asorti?|strftime|systime|mktime|patsplit|isarray|typeof|and|or|xor|compl|"
                        r"lshift|rshift|fflush)\s*\(|\b(nextfile|BEGINFILE|ENDFILE|IGNORECASE|RT|FPAT|FIELDWIDTHS|"
                        r"PROCINFO)\b|\bdelete\s+\w+\s*$|@\w+|\*\*|\\[yBs<>]|/[^/\n]*\{[0-9,]+\}[^/\n]*/", re.M)


def test_program_is_posix_awk():
    code = "\n".join(line for line in PROGRAM.read_text().splitlines() if not line.lstrip().startswith("#"))
    assert not _NOT_POSIX.findall(code)
    assert all(_NOT_POSIX.search(bad) for bad in ('x = gensub(/a/, "b", "g")', "/^a{2}$/", "delete seen", "x ** 2"))
    assert "RECIPEC_DRYRUN_CHECK" not in PROGRAM.read_text()  # the heredoc tag that carries it
