"""A release's own files, from its plans alone: release.json, quantize-all.sh, eval.sh, bench-mtp.sh
and the prompts bench-mtp.sh sends (bench-prompts.txt).

Each variant's kit is the one `recipec compile` writes for its recipe; these files only name the
variants and drive their kits. Nothing here depends on the clock or the machine.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property

import jinja2

from recipec import jsonio
from recipec.diagnostics import Diagnostic, DiagnosticError
from recipec.emit import environment, kit_context, shown_path
from recipec.plan import Plan
from recipec.version import __version__

SCHEMA = "recipec.release/1"
RELEASE_FILES = ("release.json", "quantize-all.sh", "eval.sh", "bench-mtp.sh", "bench-prompts.txt")


@dataclass(frozen=True)
class Variant:
    """One recipe of the release: its name (the recipe file's name without .recipe) and its plan."""

    name: str
    plan: Plan
    plan_json: str
    stock: bool = False  # llama-quantize's own mix of an FTYPE, compiled as a reference point

    @property
    def plan_sha256(self) -> str:
        return hashlib.sha256(self.plan_json.encode("utf-8")).hexdigest()

    @property
    def keeps_mtp(self) -> bool:
        """Whether the variant's output keeps an MTP block (bench-mtp.sh measures only those)."""
        return any(t.mtp for t in self.plan.tensors)

    @cached_property
    def shards(self) -> int:
        """0 when the variant's kit writes one GGUF, else the number of shards it writes."""
        return output_shards(self.plan, self.plan_json)

    @property
    def files(self) -> list[str]:
        """The GGUF(s) the variant's kit writes, relative to the release's output directory."""
        return [f"{self.name}/{f}" for f in output_files(self.plan.llama_quantize.output, self.shards)]

    @property
    def file(self) -> str:
        """The GGUF a tool loads, relative to the release's output directory: the variant's one file,
        or the first shard of a split output (llama.cpp's tools find the others beside it)."""
        return self.files[0]


def release_record(variants: list[Variant]) -> dict:
    """release.json: the variants, their recipes and plan hashes, and the shared model and imatrix."""
    first = variants[0].plan.inputs
    return {
        "schema": SCHEMA,
        "recipec_version": __version__,
        "model": {"path": shown_path(first.model.path), "sha256": first.model.sha256},
        "imatrix": [{"path": shown_path(i.path), "sha256": i.sha256} for i in first.imatrix],
        "variants": [{
            "name": v.name,
            "recipe": {"path": shown_path(v.plan.inputs.recipe.path), "sha256": v.plan.inputs.recipe.sha256},
            "plan": f"{v.name}/plan.lock.json",
            "plan_sha256": v.plan_sha256,
            "file": v.file,
            **({"files": v.files} if v.shards else {}),
            "file_bytes": v.plan.totals.file_bytes,
            "ftype": v.plan.llama_quantize.ftype,
            "mtp": v.plan.mtp.policy,
            **({"stock": True} if v.stock else {}),
        } for v in variants],
    }


def output_shards(plan: Plan, plan_json: str) -> int:
    """0 when the kit's quantize.sh writes one GGUF, else the number of shards it writes (it keeps
    the split of a split model: one output shard per source shard)."""
    kit = kit_context(plan, plan_json)
    return len(kit["shards"]) if kit["keep_split"] else 0


def output_files(output: str, shards: int) -> list[str]:
    """The file names quantize.sh --out OUTPUT writes: OUTPUT itself (SHARDS 0), or its SHARDS shards
    OUTPUT-without-.gguf-0000I-of-0000N.gguf, as quantize.sh and llama-quantize name them."""
    if not shards:
        return [output]
    stem = output[: -len(".gguf")] if output.endswith(".gguf") else output
    return [f"{stem}-{i:05d}-of-{shards:05d}.gguf" for i in range(1, shards + 1)]


def _names(v: Variant) -> dict:
    """A variant's names for the scripts: its output (as quantize.sh is given it), the file a tool
    loads (the first shard of a split output) and its shard count (0: one file)."""
    return {"name": v.name, "output": v.plan.llama_quantize.output, "plan_sha256": v.plan_sha256,
            "loads": output_files(v.plan.llama_quantize.output, v.shards)[0], "output_shards": v.shards}


def _context(variants: list[Variant]) -> dict:
    kit = kit_context(variants[0].plan, variants[0].plan_json)
    # bench-mtp.sh starts llama-server with each variant's serve.sh settings (spec flags its own)
    serve = {v.name: kit_context(v.plan, v.plan_json)["serve"] for v in variants if v.keeps_mtp}
    return {
        "mtp_variants": [{**_names(v), "serve": {k: serve[v.name].get(k) or ""
                                                 for k in ("ctx", "flash_attn", "cache_type", "ngl")}}
                         for v in variants if v.keeps_mtp],
        "version": __version__,
        "variants": [_names(v) for v in variants],
        "model_name": kit["model_name"],
        "imatrix_name": kit["imatrix_name"],
        "imatrix_used": kit["imatrix_used"],
    }


def render_release(variants: list[Variant]) -> dict[str, str]:
    """The release-level files: name -> exact content (X002 when a template fails: a bug)."""
    env = environment()
    ctx = _context(variants)
    files = {"release.json": jsonio.dumps(release_record(variants))}
    for name in RELEASE_FILES[1:]:
        try:
            files[name] = env.get_template(f"release/{name}.jinja").render(ctx)
        except jinja2.TemplateError as exc:
            raise DiagnosticError(Diagnostic("X002", f"cannot render {name}: {exc}",
                                             hint="please report this with the plans")) from None
    return files
