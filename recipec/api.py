"""The library entry point: the pipeline as side-effect-free functions.

    lint_recipe     text -> parse -> validate -> model-free checks
    compile_recipe  ... -> resolve (+ model, + imatrix) -> rules (self-checked) -> Plan
    render_plan     Plan -> the kit's files (emit), from the plan alone

Each returns its value with every diagnostic it raised; none prints, writes or exits. The
commands (`compile`, `compile --check`, `explain`, `render`, `lint`) print the diagnostics and
map them to an exit code with recipec.exitcodes.exit_code.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Optional, Sequence

from recipec.diagnostics import Diagnostic, DiagnosticError
from recipec.files import file_sha256
from recipec.source import SourceFile

if TYPE_CHECKING:  # each function imports the stages it runs: `render` needs no reader, parser or solver
    from recipec.imatrix import ImatrixStats
    from recipec.modelinfo import ModelInfo
    from recipec.plan import Plan
    from recipec.recipe import Loaded
    from recipec.resolve import Resolution


@dataclass(frozen=True)
class Linted:
    """A recipe read and checked without a model."""

    loaded: Loaded
    diagnostics: tuple[Diagnostic, ...]

    @property
    def ok(self) -> bool:
        return self.loaded.recipe is not None and not any(d.is_error for d in self.diagnostics)


@dataclass(frozen=True)
class Compiled:
    """A recipe compiled against a model: the plan (with its rules) and the working behind it."""

    diagnostics: tuple[Diagnostic, ...]
    sources: dict[str, SourceFile] = field(default_factory=dict)
    resolution: Optional[Resolution] = None
    plan: Optional[Plan] = None  # None when an error stopped the pipeline


@dataclass(frozen=True)
class Rendered:
    """A plan's kit: file name -> exact content (empty when an error stopped the rendering)."""

    diagnostics: tuple[Diagnostic, ...]
    files: dict[str, str] = field(default_factory=dict)


def lint_recipe(path: str, *, expect_imatrix: bool | None = None) -> Linted:
    """Parse, validate and check the recipe at PATH (and the recipes it extends)."""
    from recipec.checks import lint
    from recipec.recipe import load

    loaded = load(path)
    return Linted(loaded, tuple(lint(loaded, expect_imatrix=expect_imatrix)))


def sha256_file(path: str) -> str:
    """The sha256 of the file at PATH; U002 when it cannot be read."""
    try:
        return file_sha256(path)
    except OSError as exc:
        raise DiagnosticError(Diagnostic("U002", f"cannot read {path}: {exc.strerror or exc}",
                                         hint="check the path")) from None


def load_inputs(model_path: str, imatrix_paths: Sequence[str]) -> tuple[ModelInfo, ImatrixStats | None]:
    """The model (GGUF, split or manifest) and the imatrix (merged when several); raises on bad files."""
    from recipec.imatrix import merge
    from recipec.loaders import load_imatrix, load_model

    model = load_model(model_path)
    stats = [load_imatrix(p, model) for p in imatrix_paths]
    return model, (stats[0] if len(stats) == 1 else merge(stats) if stats else None)


@dataclass
class Preloaded:
    """A model and imatrix read once, and the sha256 of each input file, computed once."""

    model: ModelInfo
    imatrix: Optional[ImatrixStats]
    hashes: dict[str, str] = field(default_factory=dict)

    def sha256(self, path: str) -> str:
        if path not in self.hashes:
            self.hashes[path] = sha256_file(path)
        return self.hashes[path]


def compile_recipe(recipe_path: str, model_path: str, imatrix_paths: Sequence[str] = (),
                   errors_path: str | None = None, *, allow_imatrix_mismatch: bool = False,
                   preloaded: Optional[Preloaded] = None) -> Compiled:
    """Lint, load the inputs, resolve, synthesise and self-check the rules: the Plan.

    ERRORS_PATH (else the recipe's `errors` statement) names a measured error file. An imatrix
    made for another model is an error (I107) unless ALLOW_IMATRIX_MISMATCH, which makes it a
    warning and drops the entries that do not fit the model. PRELOADED: the inputs already read
    (a release compiles several recipes against one model and imatrix)."""
    from recipec.errorfile import load_errors
    from recipec.imatrix import fitting
    from recipec.plan import FileRef, Inputs
    from recipec.resolve import resolve
    from recipec.rules import with_rules

    linted = lint_recipe(recipe_path, expect_imatrix=bool(imatrix_paths))
    sources = dict(linted.loaded.sources)
    if not linted.ok:
        return Compiled(linted.diagnostics, sources)
    recipe = linted.loaded.recipe
    try:
        pre = preloaded or Preloaded(*load_inputs(model_path, imatrix_paths))
        model, imatrix = pre.model, pre.imatrix
        digest = pre.sha256
        checked = _check_imatrix(imatrix, model, imatrix_paths, allow_imatrix_mismatch)
        if any(d.is_error for d in checked):
            return Compiled(linted.diagnostics + checked, sources)
        imatrix = fitting(imatrix, model) if checked else imatrix
        errors_path = errors_path or recipe.errors
        errors = load_errors(errors_path) if errors_path else None
        inputs = Inputs(recipe=FileRef(path=str(recipe_path), sha256=recipe.sha256),
                        model=FileRef(path=str(model_path), sha256=digest(model_path)),
                        imatrix=tuple(FileRef(path=str(p), sha256=digest(p)) for p in imatrix_paths),
                        errors=FileRef(path=str(errors_path), sha256=digest(errors_path)) if errors else None)
        res = resolve(recipe, model, imatrix, inputs=inputs, model_file=str(model_path),
                      imatrix_files=tuple(str(p) for p in imatrix_paths), errors=errors)
        res = _apply_ignores(res, sources)
        plan = with_rules(res.plan)
    except DiagnosticError as exc:
        return Compiled(linted.diagnostics + tuple(exc.diagnostics), sources)
    return Compiled(linted.diagnostics + checked + res.diagnostics, sources, res, plan)


def _apply_ignores(res: Resolution, sources: dict[str, SourceFile]) -> Resolution:
    """Drop the resolve warnings and notes silenced by `# recipec: ignore[CODE]` on their line
    (from the diagnostics and from the plan's notes); errors stop the compile and stay."""
    from recipec.recipe import ignored_codes

    silenced = {path: ignored_codes(src) for path, src in sources.items()}
    dropped = [d for d in res.diagnostics if not d.is_error and d.span
               and d.code in silenced.get(d.span.file, {}).get(d.span.line, ())]
    if not dropped:
        return res
    gone = {d.headline() for d in dropped}
    kept = tuple(d for d in res.diagnostics if d not in dropped)
    plan = res.plan.model_copy(update={"notes": tuple(n for n in res.plan.notes if n not in gone)})
    return replace(res, diagnostics=kept, plan=plan)


def _check_imatrix(imatrix: ImatrixStats | None, model: ModelInfo, paths: Sequence[str],
                   allow: bool) -> tuple[Diagnostic, ...]:
    """I107 when the imatrix does not match the model (a warning when ALLOW)."""
    from recipec.imatrix import mismatch

    if imatrix is None:
        return ()
    where = str(paths[0]) if len(paths) == 1 else f"{len(paths)} merged imatrices"
    return tuple(mismatch(imatrix, model, where, allow=allow))


def render_plan(plan: Plan) -> Rendered:
    """The kit for PLAN (plan.lock.json, tensor-types.txt, quantize.sh, serve.sh, measure.sh, card.md)."""
    from recipec.emit import render_kit

    try:
        return Rendered((), render_kit(plan))
    except DiagnosticError as exc:
        return Rendered(tuple(exc.diagnostics))


def load_plan(path: str) -> tuple[Optional[Plan], tuple[Diagnostic, ...]]:
    """The plan.lock.json at PATH, or the V402 diagnostic saying why it is not one."""
    from recipec.plan import Plan

    try:
        return Plan.load(path), ()
    except DiagnosticError as exc:
        return None, tuple(exc.diagnostics)
