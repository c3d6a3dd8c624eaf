"""Compile a recipe against a model into a plan and the quantization kit.

Runs parse -> validate -> resolve -> rules (self-checked) and writes DIR/plan.lock.json,
DIR/tensor-types.txt and the rest of the kit atomically: nothing is written on any error.
`--check` writes nothing and exits 1 when the files in DIR are not what compile would write.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile

from recipec.diagnostics import Diagnostic, DiagnosticError

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def add_arguments(parser) -> None:
    """The command's options."""
    parser.add_argument("recipe", metavar="RECIPE")
    parser.add_argument("--model", required=True, metavar="M", help="GGUF (first shard) or manifest JSON")
    parser.add_argument("--imatrix", action="append", default=[], metavar="I",
                        help="imatrix (GGUF, .dat or summary JSON); repeat to merge several")
    parser.add_argument("-o", "--output", required=True, metavar="DIR", help="where the kit is written")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 when DIR differs from what would be written")


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except OSError as exc:
        raise DiagnosticError(Diagnostic("U002", f"cannot read {path}: {exc.strerror or exc}",
                                         hint="check the path")) from None
    return h.hexdigest()


class Findings(Exception):
    """The recipe has errors (exit 1); the diagnostics were printed."""


def build(recipe_path: str, model_path: str, imatrix_paths: list[str], stream=None):
    """parse -> validate -> resolve -> rules self-check; returns the Resolution.

    Lint errors and resolve errors are printed and raise Findings; unreadable inputs raise
    DiagnosticError (exit 2).
    """
    from recipec import plan as P
    from recipec.checks import lint
    from recipec.imatrix import load_imatrix, merge
    from recipec.modelinfo import load_model
    from recipec.recipe import load
    from recipec.report import print_text
    from recipec.resolve import resolve
    from recipec.rules import self_check

    stream = stream or sys.stderr
    loaded = load(recipe_path)
    found = lint(loaded, expect_imatrix=bool(imatrix_paths))
    errors = [d for d in found if d.is_error]
    if errors or loaded.recipe is None:
        print_text(found, stream, loaded.sources)
        raise Findings()
    model = load_model(model_path)
    stats = [load_imatrix(p, model) for p in imatrix_paths]
    imatrix = stats[0] if len(stats) == 1 else merge(stats) if stats else None
    inputs = P.Inputs(recipe=P.FileRef(path=str(recipe_path), sha256=loaded.recipe.sha256),
                      model=P.FileRef(path=str(model_path), sha256=sha256_file(model_path)),
                      imatrix=tuple(P.FileRef(path=str(p), sha256=sha256_file(p)) for p in imatrix_paths))
    try:
        res = resolve(loaded.recipe, model, imatrix, inputs=inputs, model_file=str(model_path),
                      imatrix_files=tuple(str(p) for p in imatrix_paths))
    except DiagnosticError as exc:
        if any(d.code.startswith(("R", "Q")) for d in exc.diagnostics):
            print_text(found + exc.diagnostics, stream, loaded.sources)
            raise Findings() from None
        raise
    self_check(list(res.rules), res.model, res.assignment, res.plan.llama_quantize.ftype)
    if found or res.diagnostics:
        print_text(list(found) + list(res.diagnostics), stream, loaded.sources)
    return res


def render(res) -> dict[str, str]:
    """File name -> content of the kit."""
    try:
        from recipec.emit import render_kit
    except ImportError:
        render_kit = None
    if render_kit is not None:
        return render_kit(res.plan, model=res.model, source_model=res.source_model)
    from recipec.llamacpp import Rule
    from recipec.rules import format_rules

    return {"plan.lock.json": res.plan.to_json(),
            "tensor-types.txt": format_rules(Rule(r.pattern, r.type) for r in res.plan.llama_quantize.rules)}


def write_atomically(out_dir: str, files: dict[str, str]) -> None:
    """Write FILES into OUT_DIR: all into a temporary directory beside it, then moved in."""
    parent = os.path.dirname(os.path.abspath(out_dir)) or "."
    try:
        os.makedirs(parent, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=".recipec-", dir=parent)
    except OSError as exc:
        raise DiagnosticError(Diagnostic("E401", f"cannot write {out_dir}: {exc.strerror or exc}",
                                         hint="check the directory's permissions")) from None
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
        raise DiagnosticError(Diagnostic("E401", f"cannot write {out_dir}: {exc.strerror or exc}",
                                         hint="check the directory's permissions")) from None
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


def run(args) -> int:
    from recipec.report import print_text

    try:
        res = build(args.recipe, args.model, args.imatrix)
    except Findings:
        return EXIT_FINDINGS
    files = render(res)
    if args.check:
        diff = differing(args.output, files)
        if diff:
            print_text([Diagnostic("E402", f"{args.output}: {', '.join(diff)} would change",
                                   hint=f"run `recipec compile {args.recipe} ... -o {args.output}`")],
                       sys.stderr)
            return EXIT_FINDINGS
        print(f"{args.output}: up to date", file=sys.stderr)
        return EXIT_OK
    write_atomically(args.output, files)
    t = res.plan.totals
    print(f"wrote {args.output} ({len(files)} files): {t.file_bytes} bytes, {t.bpw:.3f} bpw, "
          f"solver {t.solver}, gap {100 * t.gap:.3f} %", file=sys.stderr)
    return EXIT_OK
