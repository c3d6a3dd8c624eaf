"""Hostile recipes (issue 15): `extends` abuse, huge and long numbers, special files, `fmt` on links,
and a generated corpus of mutated recipes run through lint and compile under time and memory limits.

Every case must end in success or a coded diagnostic (exit 0, 1 or 2): never an internal error
(X001), a traceback, a hang, a memory blow-up or a non-finite number in a plan.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import re
import resource
import signal
import subprocess
import sys
import traceback
from pathlib import Path

import pytest

from recipec import recipe as recipe_module
from recipec.cli import run
from recipec.recipe import MAX_EXTENDS_DEPTH, load
from recipec.source import MAX_RECIPE_BYTES

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "examples" / "qwen3.5-35b-a3b.manifest.json"
MEMORY = 1 << 30  # RLIMIT_AS of every subprocess here: 1 GiB
CODE = re.compile(r"\b[PLMIQSREVU]\d{3}\b")


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def recipec_cli(args: list[str], cwd: Path, timeout: float = 60, env: dict | None = None):
    """`python -m recipec ARGS` in CWD under 1 GiB of address space; a hang fails the test."""
    return subprocess.run([sys.executable, "-m", "recipec", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, preexec_fn=_limit_memory, env=env)


def lint_cli(capsys, path) -> tuple[int, str]:
    code = run(["lint", str(path)])
    out = capsys.readouterr()
    return code, out.out + out.err


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- extends


def _special(tmp_path: Path, kind: str) -> str:
    if kind == "fifo":
        os.mkfifo(tmp_path / "fifo")
        return "fifo"
    if kind == "directory":
        (tmp_path / "folder").mkdir()
        return "folder"
    if kind == "too-large":
        line = "# a comment line of a recipe that is far too long to be a recipe\n"
        write(tmp_path / "big.recipe", 'recipe "big"\n' + line * (MAX_RECIPE_BYTES // len(line) + 1))
        return "big.recipe"
    return kind  # a device


@pytest.mark.parametrize("kind, why", [
    ("/dev/zero", "a device"), ("/dev/urandom", "a device"), ("fifo", "a FIFO"),
    ("directory", "a directory"), ("too-large", "larger than 4,194,304 bytes"),
])
def test_extends_reads_only_regular_files_of_a_recipes_size(tmp_path, kind, why):
    target = _special(tmp_path, kind)
    if target.startswith("/dev/") and not os.path.exists(target):
        pytest.skip(f"no {target} here")
    write(tmp_path / "t.recipe", f'recipe "t"\nextends "{target}"\n')
    done = recipec_cli(["lint", "t.recipe"], tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"t.recipe:2:1: P008 cannot read recipe {target}: {why}" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_a_recipe_on_the_command_line_is_limited_too(tmp_path):
    write(tmp_path / "big.recipe", 'recipe "big"\n' + "# padding\n" * (MAX_RECIPE_BYTES // 10 + 1))
    done = recipec_cli(["lint", "big.recipe"], tmp_path)
    assert done.returncode == 2 and "P009 cannot read recipe big.recipe: larger than" in done.stdout
    done = recipec_cli(["lint", "/dev/zero"], tmp_path)
    assert done.returncode == 2 and "P009 cannot read recipe /dev/zero: a device" in done.stdout


def test_a_recipe_name_that_is_not_utf8_is_refused_by_every_command(tmp_path):
    example = Path(__file__).resolve().parents[1] / "examples"
    name = os.fsdecode(b"bad\xff.recipe")
    (tmp_path / name).write_text('recipe "r"\nbase Q4_K_M\n', encoding="utf-8")
    for args in (["lint", name], ["fmt", "--check", name],
                 ["compile", name, "--model", str(example / "qwen3.5-35b-a3b.manifest.json"), "-o", "out"]):
        done = recipec_cli(args, tmp_path)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert "P009" in done.stdout + done.stderr and "not valid UTF-8" in done.stdout + done.stderr
        assert "X001" not in done.stdout + done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_extends_never_echoes_another_files_contents(tmp_path):
    marker = "hostile-marker-7f3a9c"
    write(tmp_path / "secret.txt", f"TOKEN={marker}\nmore={marker}\n")
    write(tmp_path / "binary.bin", "").write_bytes(b"recipe \x00" + marker.encode())
    targets = ["secret.txt", "binary.bin"] + (["/proc/self/environ"] if os.path.exists("/proc/self/environ") else [])
    for target in targets:
        write(tmp_path / "t.recipe", f'recipe "t"\nextends "{target}"\n')
        env = dict(os.environ, RECIPEC_TEST_SECRET=marker)
        for fmt in ("text", "json", "github", "sarif"):
            done = recipec_cli(["lint", "--format", fmt, "t.recipe"], tmp_path, env=env)
            assert done.returncode == 1, (target, done.stdout + done.stderr)
            assert "P008" in done.stdout, (target, fmt, done.stdout)
            assert marker not in done.stdout + done.stderr, (target, fmt)


def test_a_parent_recipe_with_a_syntax_error_is_still_quoted_at_its_line(tmp_path, capsys):
    write(tmp_path / "parent.recipe", 'recipe "p"\nflor attn_q Q4_K\n')
    write(tmp_path / "t.recipe", 'recipe "t"\nextends "parent.recipe"\n')
    code, out = lint_cli(capsys, tmp_path / "t.recipe")
    assert code == 1
    assert "parent.recipe:2:1: P002 unknown keyword `flor`" in out and "    flor attn_q Q4_K" in out


def _doubling_chain(folder: Path, levels: int) -> Path:
    """LEVELS recipes, each extending the next one twice (2^LEVELS parses if nothing is memoised)."""
    for i in range(levels):
        write(folder / f"r{i}.recipe", f'recipe "r{i}"\nextends "r{i + 1}.recipe"\nextends "r{i + 1}.recipe"\n'
                                       f"tie attn_q attn_k\npin output@{i} Q6_K\n")
    write(folder / f"r{levels}.recipe", f'recipe "r{levels}"\nbudget 5 GiB\n')
    return folder / "r0.recipe"


def test_extends_parses_each_file_once(tmp_path, monkeypatch):
    calls = []
    real_parse = recipe_module.parse
    monkeypatch.setattr(recipe_module, "parse", lambda src: calls.append(src.path) or real_parse(src))
    loaded = load(str(_doubling_chain(tmp_path, 12)))
    assert not loaded.diagnostics
    assert len(calls) == 13  # each file once (2^13 - 1 parses if nothing were memoised)
    assert len(loaded.sources) == 13
    # each file's pin once (not 2^depth times); the same tie in every file is one tie, the root's
    ties = [s for s in loaded.statements if type(s).__name__ == "Tie"]
    assert [t.span.file for t in ties] == [str(tmp_path / "r0.recipe")]
    assert len(loaded.recipe.bounds) == 12 and loaded.recipe.budget.bytes == 5 << 30


def test_forty_files_extending_the_next_twice_finish(tmp_path):
    _doubling_chain(tmp_path, 40)
    done = recipec_cli(["lint", "r0.recipe"], tmp_path, timeout=60)
    assert done.returncode == 1  # 40 levels: past the depth limit, reported, not 2^40 parses
    assert f"r{MAX_EXTENDS_DEPTH}.recipe:2:1: P008 cannot read recipe r{MAX_EXTENDS_DEPTH + 1}.recipe: " \
           f"more than {MAX_EXTENDS_DEPTH} extends in a row" in done.stdout
    _doubling_chain(tmp_path / "ok", MAX_EXTENDS_DEPTH)
    done = recipec_cli(["lint", "ok/r0.recipe"], tmp_path, timeout=60)
    assert done.returncode == 0, done.stdout  # 32 levels of doubling: 2^32 parses if not memoised


def test_a_chain_of_a_thousand_files_is_a_depth_diagnostic(tmp_path):
    for i in range(1000):
        write(tmp_path / f"c{i}.recipe", f'recipe "c{i}"\nextends "c{i + 1}.recipe"\n')
    write(tmp_path / "c1000.recipe", 'recipe "end"\n')
    done = recipec_cli(["lint", "c0.recipe"], tmp_path)
    assert done.returncode == 1
    assert "c32.recipe:2:1: P008" in done.stdout and "more than 32 extends in a row" in done.stdout
    assert "Recursion" not in done.stdout + done.stderr and "Traceback" not in done.stderr


def test_cycles_are_still_p007(tmp_path, capsys):
    write(tmp_path / "a.recipe", 'recipe "a"\nextends "b.recipe"\n')
    write(tmp_path / "b.recipe", 'recipe "b"\nextends "a.recipe"\n')
    write(tmp_path / "self.recipe", 'recipe "s"\nextends "self.recipe"\n')
    code, out = lint_cli(capsys, tmp_path / "a.recipe")
    assert code == 1 and "b.recipe:2:1: P007" in out
    code, out = lint_cli(capsys, tmp_path / "self.recipe")
    assert code == 1 and "self.recipe:2:1: P007" in out


# ----------------------------------------------------------------------------- numbers

HUGE = "9" * 400


@pytest.mark.parametrize("line, col, words", [
    (f"budget {HUGE} GiB", 8, "is 400 characters long"),
    (f"budget 1{'0' * 100_000} GiB", 8, "is 100,001 characters long"),  # past int()'s digit limit
    (f"depth first 2 x{HUGE}", 15, "is 400 characters long"),
    (f"depth first 2 x0.{'0' * 400}1", 15, "characters long"),
    ("depth first 2 x99999", 1, "at most x1000"),
    ("depth first 2 x0", 1, "above 0"),
    ("budget 2000 TiB", 8, "past 1 PiB"),
    ("budget 33 bpw", 8, "not between 0 and 32"),
    (f"budget fit 24 GiB ctx {HUGE} kv q8_0", 23, "characters long"),
    ("budget fit 24 GiB ctx 99999999999999 kv q8_0", 23, "from 1 to 2,147,483,647"),
    ("budget fit 24 GiB ctx 4096 kv q8_0 parallel 0", 45, "from 1 to 4,096"),
    ("budget fit 24 GiB ctx 4096 kv q8_0 overhead 9999999 TiB", 45, "past 1 PiB"),
    ("serve ngl 1.5", 1, "whole number from 0 to 1,000,000, not 1.5"),
    ("serve ngl 99999999", 1, "from 0 to 1,000,000"),
    (f"serve ngl {HUGE}", 11, "characters long"),
    ("serve ctx 99999999999", 1, "from 1 to 2,147,483,647"),
    ("serve spec mtp 5000", 1, "from 1 to 1,024"),
])
def test_numbers_are_parsed_with_limits(tmp_path, capsys, line, col, words):
    path = write(tmp_path / "n.recipe", f'recipe "n"\n{line}\n')
    code, out = lint_cli(capsys, path)
    assert code == 1, out
    assert f"n.recipe:2:{col}: P005 " in out and words in out, out
    assert "X001" not in out and "Traceback" not in out


@pytest.mark.parametrize("line", ["serve ngl 999", "serve ngl all", "serve ngl 0", "depth first 2 x1000",
                                  "budget fit 24 GiB ctx 2147483647 kv q8_0 parallel 4096"])
def test_numbers_at_the_limits_are_accepted(tmp_path, capsys, line):
    path = write(tmp_path / "n.recipe", f'recipe "n"\n{line}\n')
    code, out = lint_cli(capsys, path)
    assert code == 0, out


def test_a_huge_depth_multiplier_never_reaches_a_plan(tmp_path, capsys):
    body = (ROOT / "recipes" / "qwen35moe-iq4xs-mtp-q6k.recipe").read_text()
    bad = write(tmp_path / "bad.recipe", body + f"depth   first 1 x{HUGE}\n")
    code = run(["compile", str(bad), "--model", str(MANIFEST), "-o", str(tmp_path / "out")])
    out = capsys.readouterr()
    assert code == 1 and "P005" in out.out + out.err
    assert not (tmp_path / "out" / "plan.lock.json").exists()
    good = write(tmp_path / "good.recipe", body + "depth   first 1 x1000\n")
    code = run(["compile", str(good), "--model", str(MANIFEST), "-o", str(tmp_path / "out")])
    capsys.readouterr()
    assert code == 0
    lock = (tmp_path / "out" / "plan.lock.json").read_text()
    json.loads(lock, parse_constant=lambda c: pytest.fail(f"{c} in plan.lock.json"))


# ----------------------------------------------------------------------------- fmt


def test_fmt_formats_the_target_of_a_link_and_keeps_the_link(tmp_path, capsys):
    target = write(tmp_path / "shared" / "real.recipe", 'recipe "a"\nfloor attn_q Q5_K   # keep\n')
    link = tmp_path / "work" / "link.recipe"
    link.parent.mkdir()
    link.symlink_to(os.path.relpath(target, link.parent))
    assert run(["fmt", str(link)]) == 0
    capsys.readouterr()
    assert link.is_symlink() and os.readlink(link) == os.path.relpath(target, link.parent)
    assert target.read_text() == 'recipe "a"\nfloor   attn_q Q5_K  # keep\n'
    assert run(["fmt", "--check", str(link)]) == 0


def test_fmt_check_on_a_syntax_error_exits_1_like_lint(tmp_path, capsys):
    path = write(tmp_path / "bad.recipe", 'recipe "a"\nflor attn_q Q5_K\n')
    assert run(["fmt", "--check", str(path)]) == 1
    err = capsys.readouterr().err
    assert "bad.recipe:2:1: P002" in err
    assert run(["lint", str(path)]) == 1
    assert run(["fmt", "--check", str(tmp_path / "missing.recipe")]) == 2  # unreadable: exit 2, as lint


# ----------------------------------------------------------------------------- the generated corpus

HEAVY = bool(os.environ.get("RECIPEC_HEAVY"))  # more cases, longer lines, more statements
HOSTILE_NUMBERS = ("9" * 25, "9" * 400, "1" + "0" * 5000, "0." + "0" * 400 + "1", "4294967295",
                   "18446744073709551616", "99999999999", "0", "00", "1.5", "0.0", "1" * 24, "1e400")
UNITS = ("GiB", "TiB", "B", "bpw", "KB", "PiB")


def _seeds() -> list[str]:
    paths = sorted((ROOT / "recipes").glob("*.recipe")) + sorted((ROOT / "examples").glob("*.recipe")) \
        + sorted((ROOT / "tests" / "cases" / "lint").glob("*.recipe"))
    return [p.read_text(encoding="utf-8") for p in paths if "extends" not in p.read_text(encoding="utf-8")]


def _swap_number(rng: random.Random, text: str) -> str:
    spots = [m for m in re.finditer(r"\d+(\.\d+)?", text)]
    if not spots:
        return text + f"budget {rng.choice(HOSTILE_NUMBERS)} GiB\n"
    m = rng.choice(spots)
    return text[:m.start()] + rng.choice(HOSTILE_NUMBERS) + text[m.end():]


def _add_statement(rng: random.Random, text: str) -> str:
    n, m = rng.choice(HOSTILE_NUMBERS), rng.choice(HOSTILE_NUMBERS)
    line = rng.choice([
        f"budget {n} {rng.choice(UNITS)}", f"depth first {rng.choice(['1', '2', n])} x{n}", f"depth last 2 x{m}",
        f"serve ngl {n}", f"serve ctx {n}", f"serve spec mtp {n}",
        f"budget fit {n} GiB ctx {m} kv q8_0", f"budget fit 24 GiB ctx 4096 kv q8_0 parallel {n} overhead {m} MiB",
        f"floor attn_*@0..{n} Q4_K", f"pin output@{n} Q6_K", f"pin attn_v@{n},{m} Q8_0",
    ])
    lines = text.split("\n")
    lines.insert(rng.randrange(1, len(lines) + 1), line)
    return "\n".join(lines)


def _random_bytes(rng: random.Random, text: str) -> bytes:
    raw = text.encode()
    at = rng.randrange(len(raw) + 1)
    noise = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))
    return raw[:at] + noise + raw[at:]


def _long_line(rng: random.Random, text: str) -> str:
    n = rng.choice([300, 3000, 30_000, 300_000] if HEAVY else [300, 3000, 3000, 30_000])
    line = rng.choice([f"# {'x' * n}", f"floor {'attn_' * (n // 5)}q Q4_K", f'recipe "{"n" * n}"',
                       f"ladder {' '.join(['Q4_K'] * (n // 5))}", f"tie {' '.join(['attn_q'] * (n // 7))}",
                       f"pin {'*' * n} Q4_K", f"pin attn_q@{','.join(str(i) for i in range(n // 6))} Q4_K"])
    return text + line + "\n"


def _many_statements(rng: random.Random, text: str) -> str:
    lines = [ln for ln in text.split("\n")[1:] if ln.strip() and not ln.startswith("#")] or ["pin output Q6_K"]
    n = rng.choice([200, 2000, 20_000] if HEAVY else [50, 200, 1000])
    extra = [rng.choice(lines) if rng.random() < 0.5 else
             f"pin {rng.choice(['attn_q', 'attn_k', 'ffn_down_exps', 'output'])}@{i % 40} "
             f"{rng.choice(['Q4_K', 'Q6_K', 'Q8_0'])}" for i in range(n)]
    return text + "\n".join(extra) + "\n"


def _cut(rng: random.Random, text: str) -> str:
    at = rng.randrange(len(text) + 1)
    return text[:at] if rng.random() < 0.5 else text[:at] + text[at + rng.randrange(1, 20):]


MUTATORS = (_swap_number, _swap_number, _add_statement, _add_statement, _random_bytes, _long_line,
            _many_statements, _cut)


def _extends_graph(rng: random.Random, folder: Path, root: Path, seed_text: str) -> str:
    """A recipe whose `extends` lead into a generated graph or to a hostile file."""
    shape = rng.choice(["chain", "doubling", "cycle", "self", "special", "special", "diamond"])
    body = seed_text.split("\n", 1)[1] if "\n" in seed_text else ""
    if shape == "special":
        target = rng.choice(["/dev/zero", "/dev/null", "/dev/urandom", "/proc/self/environ", "/etc/passwd",
                             str(root / "fifo"), str(root / "big.recipe"), str(root), "missing.recipe",
                             str(root / "binary.bin"), "", ".", "..", "\\", "a" * 5000])
        return f'recipe "x"\nextends "{target}"\n' + body
    n = rng.randrange(2, 60)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        nxt = {"cycle": (i + 1) % n, "self": i}.get(shape, i + 1)
        extra = f'extends "p{nxt}.recipe"\n' * (2 if shape in ("doubling", "diamond") else 1)
        if shape == "diamond" and i + 2 <= n:
            extra += f'extends "p{i + 2}.recipe"\n'
        stmt = rng.choice(["tie attn_q attn_k", f"pin output@{i} Q6_K", "budget 5 GiB", f"depth {i} x1.5",
                           "floor attn_* Q4_K", "ceiling ffn_*_exps Q6_K", ""])
        (folder / f"p{i}.recipe").write_text(f'recipe "p{i}"\n{extra}{stmt}\n', encoding="utf-8")
    (folder / f"p{n}.recipe").write_text(seed_text, encoding="utf-8")
    return f'recipe "x"\nextends "{folder.name}/p0.recipe"\n' + body


def generate_corpus(folder: Path, count: int, seed: int = 15) -> list[str]:
    """COUNT hostile recipes under FOLDER (deterministic for SEED); returns their paths."""
    rng = random.Random(seed)
    seeds = _seeds()
    os.mkfifo(folder / "fifo")
    (folder / "big.recipe").write_text('recipe "big"\n' + "# padding line\n" * (MAX_RECIPE_BYTES // 15 + 1))
    (folder / "binary.bin").write_bytes(bytes(range(256)) * 8)
    paths = []
    for k in range(count):
        text: str | bytes = rng.choice(seeds)
        path = folder / f"case{k:05d}.recipe"
        if rng.random() < 0.2:
            text = _extends_graph(rng, folder / f"case{k:05d}", folder, text)
        for mutate in rng.sample(MUTATORS, rng.choice([1, 1, 2, 3])):
            if isinstance(text, bytes):
                break
            text = mutate(rng, text)
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
        paths.append(str(path))
    return paths


class _Timeout(Exception):
    pass


def _on_alarm(signum, frame):
    raise _Timeout()


def _check_case(path: str, model: str, fmt: bool = True) -> str | None:
    """What is wrong with how recipec handled the recipe at PATH (None: nothing): lint, fmt --check
    (when FMT) and compile."""
    from recipec.api import compile_recipe

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = run(["lint", path])
    text = out.getvalue()
    if code not in (0, 1, 2) or "X001" in text or "Traceback" in text:
        return f"lint exit {code}: {text[-400:]}"
    if code != 0 and not CODE.search(text):
        return f"lint exit {code} without a diagnostic code: {text[-400:]}"
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        formatted = run(["fmt", "--check", path]) if fmt else 0
    if formatted not in (0, 1, 2) or "X001" in out.getvalue() or "Traceback" in out.getvalue():
        return f"fmt --check exit {formatted}: {out.getvalue()[-400:]}"
    compiled = compile_recipe(path, model)
    codes = [d.code for d in compiled.diagnostics]
    if any(c.startswith("X") for c in codes):
        return f"compile: internal error {codes}"
    if compiled.plan is None and not any(d.is_error for d in compiled.diagnostics):
        return "compile: no plan and no error"
    if compiled.plan is not None:
        json.dumps(compiled.plan.model_dump(mode="json"), allow_nan=False)  # ValueError on inf or NaN
    return None


def _child(paths_file: str, model: str, seconds: str) -> None:
    """Run every case listed in PATHS_FILE; print one JSON line per case that went wrong."""
    signal.signal(signal.SIGALRM, _on_alarm)
    sys.setrecursionlimit(10_000)
    for k, path in enumerate(Path(paths_file).read_text().split("\n")):
        if not path:
            continue
        signal.alarm(int(seconds))
        try:
            problem = _check_case(path, model, fmt=HEAVY or k % 4 == 0)  # fmt on a quarter in CI
        except _Timeout:
            problem = f"took more than {seconds} s"
        except BaseException:  # noqa: BLE001  (anything escaping is the finding)
            problem = "exception: " + traceback.format_exc()[-1200:]
        finally:
            signal.alarm(0)
        if problem:
            print(json.dumps({"case": path, "problem": problem}), flush=True)
    print(json.dumps({"done": True}), flush=True)


def test_generated_hostile_recipes(tmp_path):
    count = 10_000 if HEAVY else 2_000
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    paths = generate_corpus(corpus, count)
    assert len(paths) >= 2_000
    listing = tmp_path / "cases.txt"
    listing.write_text("\n".join(paths) + "\n")
    code = ("import sys; sys.path.insert(0, sys.argv[1]); "
            "from tests.test_hostile_recipes import _child; _child(*sys.argv[2:])")
    done = subprocess.run([sys.executable, "-c", code, str(ROOT), str(listing), str(MANIFEST), "20"],
                          capture_output=True, text=True, timeout=count * 0.5 + 120, preexec_fn=_limit_memory,
                          cwd=corpus)
    lines = [json.loads(ln) for ln in done.stdout.splitlines() if ln.startswith("{")]
    assert lines and lines[-1] == {"done": True}, (done.returncode, done.stdout[-2000:], done.stderr[-2000:])
    problems = lines[:-1]
    assert not problems, json.dumps(problems[:5], indent=1)


# ----------------------------------------------------------------------------- linear lint, same answers


def _brute_force(bounds, clash, conflict):
    """The pairwise reference: for each statement, the earliest earlier one it conflicts with."""
    from recipec.checks.common import bounds_overlap

    out = []
    for j, b in enumerate(bounds):
        for i in range(j):
            a = bounds[i]
            pair = bounds_overlap(a, b)
            if pair and clash((a.kind, a.type), (b.kind, b.type)) and conflict(a, b):
                out.append((i, j, pair))
                break
    return out


def _random_bounds(rng: random.Random, n: int):
    from recipec.recipe import BoundRule, LayerSpec, SelectorSpec
    from recipec.source import Span

    roles = ["attn_q", "attn_k", "attn_*", "*_v", "ffn_*_exps", "ffn_down_exps", "output", "zz_unknown",
             "zz_*", "*", "attn_?"]
    filters = [None, None, ("one", 3, None), ("one", 7, None), ("range", 2, 5), ("range", 6, 9), ("first", 2, None),
               ("last", 2, None), ("list", None, None), ("trunk", None, None), ("mtp", None, None),
               ("every", 2, 1), ("full-attention", None, None), ("recurrent", None, None)]
    out = []
    for k in range(n):
        sels = []
        for _ in range(rng.choice([1, 1, 2])):
            f = rng.choice(filters)
            layers = None if f is None else LayerSpec(kind=f[0], a=f[1], b=f[2],
                                                      items=(1, 4) if f[0] == "list" else ())
            role = rng.choice(roles)
            sels.append(SelectorSpec(role=role, layers=layers, text=role + (f"@{f}" if f else ""),
                                     span=Span("r.recipe", k + 2, 1)))
        kind = rng.choice(["floor", "ceiling", "pin"])
        out.append(BoundRule(kind=kind, selectors=tuple(sels), type=rng.choice(["Q4_K", "Q6_K", "Q8_0", "Q2_K"]),
                             span=Span("r.recipe", k + 2, 1), type_span=Span("r.recipe", k + 2, 20)))
    return out


def test_indexed_overlap_finds_what_comparing_every_pair_finds():
    from recipec.checks import conflicting_pins, floor_above_ceiling
    from recipec.checks.common import first_conflicts, rank
    from recipec.selectors import specificity

    rng = random.Random(15)
    for trial in range(300):
        bounds = _random_bounds(rng, rng.choice([2, 5, 20, 60]))
        pins = [b for b in bounds if b.kind == "pin"]
        got = first_conflicts(pins, conflicting_pins._clash, conflicting_pins._conflict,
                              lambda sel: specificity(sel)[0])
        assert got == _brute_force(pins, conflicting_pins._clash, conflicting_pins._conflict), trial
        fc = [b for b in bounds if b.kind != "pin"]
        got = first_conflicts(fc, floor_above_ceiling._clash, lambda a, b: True)
        assert got == _brute_force(fc, floor_above_ceiling._clash, lambda a, b: True), trial
        between = lambda x, y: x[0] != y[0] and rank(x[1]) != rank(y[1])  # noqa: E731  (any asymmetric test)
        assert first_conflicts(fc, between, lambda a, b: True) == _brute_force(fc, between, lambda a, b: True)
