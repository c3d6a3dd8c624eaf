"""The shared parser is safe for parses in several threads at once: comments stay with their recipe."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from recipec.diagnostics import DiagnosticError
from recipec.parser import parse
from recipec.source import SourceFile

THREADS = 8
ROUNDS = 40


def _recipe(k: int) -> SourceFile:
    """Recipe K: its own length, and comments (own-line and trailing) that end in its tag rK."""
    lines = [f'recipe "r{k}"  # head r{k}', f"# about r{k}", "arch llama", "base Q4_K_M"]
    for i in range(5 + 3 * k):
        lines.append(f"pin blk_{k}_{i}@{i} Q{4 + i % 3}_K  # pin r{k}.{i}")
        if i % 4 == 0:
            lines += ["", f"# block r{k}.{i}"]
    return SourceFile(f"r{k}.recipe", "\n".join(lines) + "\n")


def _bad(k: int) -> SourceFile:
    return SourceFile(f"bad{k}.recipe", f'recipe "b{k}"\n# before\nfloors attn_q Q{k}_K  # after\n')


def _summary(tree) -> tuple:
    return (len(tree.statements),
            tuple((c.text, c.line, c.trailing, c.span.file) for c in tree.comments),
            tree.blank_lines)


def test_concurrent_parses_keep_their_tokens_apart():
    sources = [_recipe(k) for k in range(THREADS)]
    expected = [_summary(parse(s)) for s in sources]  # one thread: the reference
    bad_expected = {}
    for k in range(THREADS):
        with pytest.raises(DiagnosticError) as exc:
            parse(_bad(k))
        bad_expected[k] = exc.value.diagnostics[0].headline()
    start = threading.Barrier(THREADS)

    def work(k: int) -> list[str]:
        start.wait()  # all threads parse at the same time
        wrong = []
        for r in range(ROUNDS):
            src = sources[(k + r) % THREADS]
            got = _summary(parse(src))
            if got != expected[(k + r) % THREADS]:
                wrong.append(f"{src.path} in thread {k}, round {r}")
            if r % 5 == 0:  # syntax errors read the token list too (glued words)
                try:
                    parse(_bad(k))
                    wrong.append(f"bad{k} parsed")
                except DiagnosticError as exc:
                    if exc.diagnostics[0].headline() != bad_expected[k]:
                        wrong.append(f"bad{k}: {exc.diagnostics[0].headline()}")
        return wrong

    with ThreadPoolExecutor(THREADS) as pool:
        wrong = [w for ws in pool.map(work, range(THREADS)) for w in ws]
    assert not wrong, wrong[:5]
    for k, (n, comments, _) in enumerate(expected):  # the reference itself is right
        assert n == 3 + 5 + 3 * k
        assert len(comments) == 2 + 5 + 3 * k + len(range(0, 5 + 3 * k, 4))
        assert {text.split()[-1].split(".")[0] for text, *_ in comments} == {f"r{k}"}
        assert {file for *_, file in comments} == {f"r{k}.recipe"}
