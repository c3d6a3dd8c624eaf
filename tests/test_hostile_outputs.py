"""Hostile outputs (issue 15): writing a kit where the filesystem fights back, and names that would
reach a terminal or close an HTML comment.

The kit is written all or nothing across filesystems (a mount point, a symlink to another disk),
a failure at any step (a directory in a file's place, a read-only or full disk, a rename that
fails half way) leaves the old kit byte for byte and says what happened (E401, exit 2);
`--check` sees a lost execute bit; the scripts run from a directory whose name ends in a newline;
control characters in names reach neither the terminal (diagnostics, quantize.sh's messages) nor
card.md's HTML comment as they are.
"""

from __future__ import annotations

import builtins
import errno
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import recipec.output
from recipec.api import load_plan, render_plan
from recipec.emit import comment
from tests.kit_helpers import BASH, ROOT, compiled_kit, recipec_cli, script_env

PLAN = sorted((ROOT / "tests" / "cases" / "recipes").glob("*/plan.lock.json"))[0]
OLD = {name: f"old {name}\n" for name in ("plan.lock.json", "tensor-types.txt", "quantize.sh", "serve.sh",
                                           "measure.sh", "card.md")}
RECIPE = 'recipe "{name}"\narch llama\nbase Q4_K_M\nladder Q4_K Q6_K Q8_0\npin output Q8_0\n'


def _expected(plan: Path = PLAN) -> dict[str, str]:
    """The kit `render` writes for PLAN, straight from the library."""
    loaded, diags = load_plan(str(plan))
    assert loaded is not None and not diags
    return render_plan(loaded).files


def _render(out: Path | str, *extra: str, plan: Path = PLAN) -> tuple[int, str]:
    rc, _, err = recipec_cli("render", str(plan), "-o", str(out), *extra)
    return rc, err


def _old_kit(folder: Path) -> dict[str, bytes]:
    """FOLDER holding an old kit and a file of the user's; every file's bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in OLD.items():
        (folder / name).write_text(text)
    (folder / "model.gguf").write_bytes(b"GGUF the user's model")
    return _contents(folder)


def _contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def _assert_kit(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        assert (folder / name).read_text(encoding="utf-8") == text, name
    assert os.stat(folder / "quantize.sh").st_mode & 0o777 == 0o755


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".recipec-")]


# --- across filesystems ---------------------------------------------------------------------------

def _fake_mount(monkeypatch, mount: Path) -> None:
    """Renames between MOUNT and anywhere outside it fail with EXDEV, as between two filesystems."""
    real_rename, real_replace = os.rename, os.replace

    def device(path) -> bool:
        resolved = Path(os.path.realpath(os.fspath(path)))
        return resolved == mount or mount in resolved.parents

    def guard(real):
        def move(src, dst, *args, **kwargs):
            if device(src) != device(dst):
                raise OSError(errno.EXDEV, os.strerror(errno.EXDEV), os.fspath(src), None, os.fspath(dst))
            return real(src, dst, *args, **kwargs)
        return move

    monkeypatch.setattr(os, "rename", guard(real_rename))
    monkeypatch.setattr(os, "replace", guard(real_replace))


def test_a_mount_point_as_output_directory(monkeypatch, tmp_path):
    mount = tmp_path / "volume"
    before = _old_kit(mount)
    _fake_mount(monkeypatch, mount)
    (tmp_path / "probe").write_text("x")
    with pytest.raises(OSError) as exc:  # the simulation bites: staging beside the mount point fails
        os.replace(tmp_path / "probe", mount / "probe")
    assert exc.value.errno == errno.EXDEV
    rc, err = _render(mount)
    assert rc == 0, err
    _assert_kit(mount, _expected())
    assert (mount / "model.gguf").read_bytes() == before["model.gguf"]
    assert not _leftovers(mount) and not _leftovers(tmp_path)


@pytest.mark.parametrize("exists", [True, False])
def test_a_symlink_to_another_filesystem(monkeypatch, tmp_path, exists):
    mount = tmp_path / "disk2"
    mount.mkdir()
    if exists:
        _old_kit(mount / "kit")
    link = tmp_path / "kit"
    link.symlink_to(mount / "kit")
    _fake_mount(monkeypatch, mount)
    rc, err = _render(link)
    assert rc == 0, err
    assert link.is_symlink()
    _assert_kit(mount / "kit", _expected())
    assert not _leftovers(mount) and not _leftovers(tmp_path) and not _leftovers(mount / "kit")


def _other_filesystem(tmp_path: Path) -> Path | None:
    """A writable directory on another filesystem than TMP_PATH (/dev/shm is a tmpfs on Linux)."""
    shm = Path("/dev/shm")
    try:
        if not shm.is_dir() or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
            return None
        probe = shm / f"recipec-test-{os.getpid()}-{tmp_path.name}"
        probe.mkdir()
    except OSError:
        return None
    return probe


@pytest.mark.parametrize("exists", [True, False])
def test_a_symlink_to_a_real_other_filesystem(tmp_path, exists):
    other = _other_filesystem(tmp_path)
    if other is None:
        pytest.skip("no writable directory on another filesystem")
    try:
        if exists:
            _old_kit(other / "kit")
        (tmp_path / "kit").symlink_to(other / "kit")
        rc, err = _render(tmp_path / "kit")
        assert rc == 0, err
        _assert_kit(other / "kit", _expected())
        assert (other / "kit" / "model.gguf").exists() == exists
        assert not _leftovers(other) and not _leftovers(tmp_path)
    finally:
        shutil.rmtree(other)


# --- all or nothing -------------------------------------------------------------------------------

def test_a_directory_in_a_kit_files_place(tmp_path):
    kit = tmp_path / "kit"
    before = _old_kit(kit)
    (kit / "card.md").unlink()
    (kit / "card.md").mkdir()
    (kit / "card.md" / "notes.txt").write_text("mine\n")
    rc, err = _render(kit)
    assert rc == 2 and "E401" in err and "card.md is a directory" in err, err
    assert "Traceback" not in err
    del before["card.md"]
    assert _contents(kit) == before
    assert (kit / "card.md" / "notes.txt").read_text() == "mine\n"
    assert not _leftovers(kit)


def test_a_rename_failing_half_way_puts_the_old_kit_back(monkeypatch, tmp_path):
    """The fourth new file cannot be moved in: the three already in place go, the old ones come back."""
    kit = tmp_path / "kit"
    before = _old_kit(kit)
    real_rename = os.rename
    placed: list[str] = []

    def rename(src, dst):
        src, dst = os.fspath(src), os.fspath(dst)
        if os.path.dirname(dst) == str(kit) and ".recipec-" in src:
            if len(placed) == 3:
                raise OSError(errno.EIO, os.strerror(errno.EIO), src)
            placed.append(os.path.basename(dst))
        return real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    rc, err = _render(kit)
    assert rc == 2 and "E401" in err and os.strerror(errno.EIO) in err, err
    assert len(placed) == 3
    assert _contents(kit) == before
    assert not _leftovers(kit)


def test_old_files_that_cannot_be_put_back_are_kept_and_named(monkeypatch, tmp_path):
    """The swap fails, and so does putting the old files back: they stay in the staging folder,
    and the diagnostic says where (no traceback, nothing deleted)."""
    kit = tmp_path / "kit"
    _old_kit(kit)
    real_rename = os.rename

    def rename(src, dst):
        if os.fspath(dst) == str(kit / "serve.sh") and ".recipec-" in os.fspath(src):
            raise OSError(errno.EIO, os.strerror(errno.EIO), os.fspath(src))
        return real_rename(src, dst)

    def replace(src, dst):
        raise OSError(errno.EIO, os.strerror(errno.EIO), os.fspath(src))

    monkeypatch.setattr(os, "rename", rename)
    monkeypatch.setattr(os, "replace", replace)
    rc, err = _render(kit)
    assert rc == 2 and "E401" in err and "Traceback" not in err, err
    (stage,) = _leftovers(kit)
    backup = kit / stage / ".old"
    assert f"are in {backup}: move them back" in err, err
    assert {p.name: p.read_text() for p in backup.iterdir()} == {
        name: OLD[name] for name in ("plan.lock.json", "tensor-types.txt", "quantize.sh", "serve.sh")}


def _failing_mkdir(monkeypatch, under: Path, code: int) -> None:
    """os.mkdir (tempfile's too) fails with CODE for a new entry under UNDER."""
    real_mkdir = os.mkdir

    def mkdir(path, *args, **kwargs):
        if Path(os.fspath(path)).parent == under:
            raise OSError(code, os.strerror(code), os.fspath(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", mkdir)


@pytest.mark.parametrize("code, said, hint", [
    (errno.EROFS, "the filesystem is read-only", "writable place"),
    (errno.EACCES, "permission denied", "permissions"),
])
def test_read_only_and_forbidden_are_told_apart(monkeypatch, tmp_path, code, said, hint):
    kit = tmp_path / "kit"
    before = _old_kit(kit)
    _failing_mkdir(monkeypatch, kit, code)
    rc, err = _render(kit)
    assert rc == 2 and f"E401 cannot write {kit}: {said}" in err, err
    assert hint in err
    assert (code == errno.EACCES) == ("permissions" in err)
    assert _contents(kit) == before
    # a new kit directory in a read-only place: nothing is made
    _failing_mkdir(monkeypatch, tmp_path / "ro", code)
    (tmp_path / "ro").mkdir()
    rc, err = _render(tmp_path / "ro" / "deeper" / "kit")
    assert rc == 2 and said in err, err
    assert not list((tmp_path / "ro").iterdir())


@pytest.mark.skipif(os.name == "nt" or os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_really_read_only_directory(tmp_path):
    kit = tmp_path / "kit"
    before = _old_kit(kit)
    kit.chmod(0o555)
    try:
        rc, err = _render(kit)
    finally:
        kit.chmod(0o755)
    assert rc == 2 and "permission denied" in err, err
    assert _contents(kit) == before


def _full_disk(monkeypatch, after: int) -> None:
    """The kit writer's files: the first AFTER are written, then every write fails with ENOSPC."""
    opened = []

    class Full:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, text):
            self.f.write(text[: len(text) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def fake_open(path, mode="r", *args, **kwargs):
        f = builtins.open(path, mode, *args, **kwargs)
        if "w" not in mode:
            return f
        opened.append(path)
        return f if len(opened) <= after else Full(f)

    monkeypatch.setattr(recipec.output, "open", fake_open, raising=False)


@pytest.mark.parametrize("exists", [True, False])
def test_a_full_disk(monkeypatch, tmp_path, exists):
    kit = tmp_path / "kit"
    before = _old_kit(kit) if exists else None
    _full_disk(monkeypatch, after=3)
    rc, err = _render(kit)
    assert rc == 2 and f"E401 cannot write {kit}: no space left on the device" in err, err
    assert "hint: free space on that filesystem" in err and "permissions" not in err
    if exists:
        assert _contents(kit) == before and not _leftovers(kit)
    else:
        assert not kit.exists() and not _leftovers(tmp_path)


def test_an_output_path_that_is_a_file(tmp_path):
    (tmp_path / "kit").write_text("a file\n")
    rc, err = _render(tmp_path / "kit")
    assert rc == 2 and "E401" in err and "is not a directory" in err, err
    assert (tmp_path / "kit").read_text() == "a file\n"


def test_a_new_kit_gets_the_usual_modes(tmp_path):
    rc, err = _render(tmp_path / "a" / "b" / "kit")
    assert rc == 0, err
    mask = os.umask(0)
    os.umask(mask)
    kit = tmp_path / "a" / "b" / "kit"
    assert stat.S_IMODE(os.stat(kit).st_mode) == 0o777 & ~mask
    assert stat.S_IMODE(os.stat(kit / "card.md").st_mode) == 0o666 & ~mask
    _assert_kit(kit, _expected())


# --- --check and the execute bit ------------------------------------------------------------------

def test_check_sees_a_lost_execute_bit(tmp_path):
    kit = tmp_path / "kit"
    assert _render(kit)[0] == 0
    assert _render(kit, "--check")[0] == 0
    (kit / "quantize.sh").chmod(0o644)
    rc, err = _render(kit, "--check")
    assert rc == 1 and "E402" in err and "quantize.sh (mode 0644, not executable)" in err, err
    assert "serve.sh" not in err
    (kit / "quantize.sh").chmod(0o744)
    assert _render(kit, "--check")[0] == 0
    (kit / "quantize.sh").chmod(0o644)
    assert _render(kit)[0] == 0  # writing restores it
    assert os.stat(kit / "quantize.sh").st_mode & 0o777 == 0o755


# --- a kit directory whose name ends in a newline -------------------------------------------------

def _stub(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


@pytest.mark.parametrize("dirname", ["kit\n", "kit\n\n", "k\x01i\x1b[31mt"])
def test_scripts_run_from_a_directory_named_with_control_characters(fixture_model, tmp_path, dirname):
    model = fixture_model("llama")
    work = tmp_path / dirname
    work.mkdir()
    kit = compiled_kit(work, RECIPE.format(name="ctl"), model)
    kit.rename(work / dirname)
    kit = work / dirname
    (kit / model.name).symlink_to(model)
    plan = json.loads((kit / "plan.lock.json").read_text())
    n = len(plan["tensors"])
    (tmp_path / "dry-run.log").write_text("".join(
        f"[{i:4d}/{n:4d}] {t['name']:<36s} - [   64,    64,     1,     1], type =    f16, "
        f"size =     0.01 MiB ->     0.00 MiB ({t['type'].lower()})\n" for i, t in enumerate(plan["tensors"], 1)))
    bins = tmp_path / "bin"
    bins.mkdir()
    _stub(bins / "llama-quantize", 'for a in "$@"; do [ "$a" = --help ] && { echo "--tensor-type-file --dry-run"; '
                                   'exit 1; }; done\nprintf "%s\\0" "$@" >"$STUB_ARGV"\ncat "$STUB_LOG"\n')
    _stub(bins / "llama-server", 'printf "%s\\0" "$@" >"$STUB_ARGV"\n')
    env = script_env(bins, THREADS="2", STUB_ARGV=str(tmp_path / "argv"), STUB_LOG=str(tmp_path / "dry-run.log"))
    proc = subprocess.run([BASH, str(kit / "quantize.sh"), "--dry-run"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    argv = (tmp_path / "argv").read_bytes().decode().split("\0")[:-1]
    assert argv[argv.index("--tensor-type-file") + 1] == str(kit / "tensor-types.txt")
    assert argv[-4] == str(kit / model.name)
    output = plan["llama_quantize"]["output"]
    (kit / output).write_bytes(b"GGUF")
    proc = subprocess.run([BASH, str(kit / "serve.sh")], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    argv = (tmp_path / "argv").read_bytes().decode().split("\0")[:-1]
    assert argv[:2] == ["-m", str(kit / output)]
    _stub(bins / "recipec", 'printf "%s\\0" "$@" >"$STUB_ARGV"\n')
    proc = subprocess.run([BASH, str(kit / "measure.sh")], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    argv = (tmp_path / "argv").read_bytes().decode().split("\0")[:-1]
    assert argv[:4] == ["measure", str(kit / model.name), "-o", str(kit / "errors.json")]


# --- card.md's HTML comment -----------------------------------------------------------------------

_CLOSERS = ("-->", "--!>")


@settings(max_examples=400)
@given(st.text(alphabet="-<>! a\n\x1b", max_size=40))
def test_no_text_closes_the_comment(text):
    inner = comment(text)
    assert "--" not in inner and "\n" not in inner
    wrapped = f"<!-- recipe: {inner}\n     plan -->"
    assert min(wrapped.find(c) for c in _CLOSERS if c in wrapped) == len(wrapped) - 3
    assert comment(text.replace("-", "").replace("\n", "").replace("\x1b", "")) == \
        text.replace("-", "").replace("\n", "").replace("\x1b", "")  # nothing else changes


@pytest.mark.parametrize("path", ["a--->b.recipe", "x--!>y", "-->", "<!-- -- --->", "r\n-->.recipe"])
def test_card_comment_holds_against_a_hostile_recipe_path(tmp_path, path):
    plan = json.loads(PLAN.read_text())
    plan["inputs"]["recipe"]["path"] = path
    edited = tmp_path / "plan.lock.json"
    edited.write_text(json.dumps(plan))
    rc, err = _render(tmp_path / "kit", plan=edited)
    assert rc == 0, err
    card = (tmp_path / "kit" / "card.md").read_text()
    header = card[:card.index("\n## ")]  # the comment is the card's header, before the title
    assert header.startswith("<!-- card.md: ") and header.endswith(" -->")
    assert header.count("-->") == 1 and "--!>" not in header  # closed where it ends, nowhere before
    assert header.count("\n") == 3  # four lines, as for any path


# --- terminal escapes -----------------------------------------------------------------------------

def test_diagnostics_escape_terminal_controls(tmp_path):
    recipe = tmp_path / "r\x1b]0;title\x07.recipe"
    recipe.write_text('recipe "x"\nbase Q4_K_M\nfloor \x1b[2Jattn_q\x9b31m Q4_K\n')
    for fmt in ("text", "github"):
        rc, out, err = recipec_cli("lint", str(recipe), "--format", fmt)
        shown = out + err
        assert rc == 1, shown
        assert not any(c in shown for c in "\x1b\x07\x9b"), repr(shown)
        assert "\\x1b" in shown and "\\x9b" in shown, shown
    rc, out, err = recipec_cli("lint", str(recipe), "--format", "text")
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("    floor"))
    assert lines[at] == "    floor \\x1b[2Jattn_q\\x9b31m Q4_K"
    caret = lines[at + 1]
    assert caret.strip("^ ") == "" and caret.index("^") == lines[at].index("\\x1b[2J")


def test_quantize_sh_messages_escape_terminal_controls(fixture_model, tmp_path):
    model = fixture_model("llama")
    kit = compiled_kit(tmp_path, RECIPE.format(name="evil\x1b[31m\x9b2J"), model)
    bins = tmp_path / "bin"
    bins.mkdir()
    _stub(bins / "llama-quantize", 'for a in "$@"; do [ "$a" = --help ] && { echo "--tensor-type-file --dry-run"; '
                                   'exit 1; }; done\nprintf "bad tensor blk.0\\033[2J.weight\\n"; exit 3\n')
    env = script_env(bins, THREADS="2", LANG="C.UTF-8")
    proc = subprocess.run([BASH, str(kit / "quantize.sh"), "--dry-run", "--no-verify-inputs", "--model", str(model)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1  # the stand-in's dry run fails after the banner
    assert "quantize.sh: recipe evil\\x1b[31m\\x9b2J, plan " in proc.stderr, proc.stderr
    assert "bad tensor blk.0?[2J.weight" in proc.stderr  # the dry run's output, shown after its failure
    assert "\x1b" not in proc.stderr and "\x9b" not in proc.stderr
    proc = subprocess.run([BASH, str(kit / "quantize.sh"), "--model", str(tmp_path / "no\x1b[2Jmodel.gguf")],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "model not found: " in proc.stderr, proc.stderr
    assert "\x1b" not in proc.stderr and "no?[2Jmodel.gguf" in proc.stderr


def test_tensor_names_from_a_model_reach_the_terminal_escaped(tmp_path):
    """A manifest (as from a GGUF) whose tensor names hold terminal escapes: compile names them in
    Q204, escaped, and writes nothing."""
    manifest = json.loads((ROOT / "examples" / "qwen3.5-35b-a3b.manifest.json").read_text())
    renamed = {"blk.0.attn_qkv.weight": "blk.0.attn_qkv\x1b[2J.weight",
               "blk.1.attn_gate.weight": "blk.1.attn_gate\x9b31m.weight"}
    for t in manifest["tensors"]:
        t["name"] = renamed.get(t["name"], t["name"])
    (tmp_path / "evil.manifest.json").write_text(json.dumps(manifest))
    rc, out, err = recipec_cli("compile", str(ROOT / "examples" / "qwen35moe-iq4xs-mtp.recipe"),
                               "--model", str(tmp_path / "evil.manifest.json"), "-o", str(tmp_path / "kit"))
    assert rc == 1 and "Q204" in err, err
    assert "\x1b" not in out + err and "\x9b" not in out + err
    assert "note: blk.0.attn_qkv\\x1b[2J.weight" in err and "note: blk.1.attn_gate\\x9b31m.weight" in err
    assert not (tmp_path / "kit").exists()


def test_tables_that_list_tensor_names_escape_them(tmp_path):
    """roles and simulate print tensor and role names from the model as text tables: a terminal
    escape in a name reaches the terminal escaped, never raw (compile and explain refuse such a
    model with Q204, tested above)."""
    manifest = json.loads((ROOT / "examples" / "qwen3.5-35b-a3b.manifest.json").read_text())
    for t in manifest["tensors"]:
        if t["name"] == "blk.0.attn_gate.weight":
            t["name"] = "blk.0.attn_gate\x1b[2J.weight"
    model = tmp_path / "evil.manifest.json"
    model.write_text(json.dumps(manifest))
    rules = tmp_path / "rules.txt"
    rules.write_text("attn_gate=q8_0\n")
    for args in (("roles", "--model", str(model)),
                 ("simulate", str(rules), "--model", str(model), "--tensors")):
        rc, out, err = recipec_cli(*args)
        assert rc in (0, 1), (args, rc, err)
        assert "\x1b" not in out + err, args
        assert "attn_gate\\x1b[2J" in out, (args, out[:2000])
