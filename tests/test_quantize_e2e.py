"""End to end on the real llama-quantize: emitted rules give exactly the planned file."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import gguf
import pytest

from recipec import ggml
from recipec.llamacpp import predict_file_size
from recipec.loaders import output_kv_bytes
from recipec.loaders import load_model
from recipec.modelinfo import ModelInfo
from recipec.rules import format_rules
from tests.rule_helpers import quantized_names, self_check, synthesize

pytestmark = pytest.mark.llama

# `[  84/  96] blk.4.ffn_down_exps.weight - [ 256, 512, 16, 1], type =    f16, size = 4.00 MiB -> 1.64 MiB (q6_K)`
DRY_RUN_LINE = re.compile(r"^\[\s*\d+/\s*\d+\]\s+(\S+)\s+- \[[^\]]*\], type =\s*(\S+), size =.*?(?:\((\S+)\))?\s*$")
# Types that fit rows of 256 (no imatrix needed); rows of 800 take 32-blocks; others stay F16.
WIDE = ("Q4_K", "Q5_K", "Q6_K", "IQ4_XS", "Q3_K", "Q8_0", "Q4_0", "IQ4_NL", "Q5_1", "MXFP4")
NARROW = ("Q5_0", "Q8_0", "IQ4_NL", "Q4_1", "Q4_0")
KINDS = ("llama", "qwen3moe", "qwen35moe", "llama_tied", "deepseek2", "glm4moe", "gptoss")


def mixed_plan(info: ModelInfo) -> dict[str, str]:
    """A plan varying the type by role and layer, always writable for the tensor's rows."""
    plan = {}
    roles = sorted(info.roles)
    for name in quantized_names(info):
        t = info.tensor(name)
        k = roles.index(t.role) + 3 * (t.layer or 0)
        if t.shape[0] % 256 == 0:
            plan[name] = WIDE[k % len(WIDE)]
        elif t.shape[0] % 32 == 0:
            plan[name] = NARROW[k % len(NARROW)]
        else:
            plan[name] = "F16"
    return plan


def run_quantize(exe: Path, model: Path, out: Path, rules_file: Path, *, dry_run: bool,
                 ftype: str = "Q4_K_M", extra: tuple[str, ...] = ()) -> str:
    cmd = [str(exe), *(["--dry-run"] if dry_run else []), *extra]
    if rules_file is not None:
        cmd += ["--tensor-type-file", str(rules_file)]
    cmd += [str(model), str(out), ftype, "2"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout + proc.stderr


def dry_run_types(log: str) -> dict[str, str]:
    """Final type per tensor from llama-quantize's per-tensor log lines."""
    types = {}
    for line in log.splitlines():
        m = DRY_RUN_LINE.match(line.strip())
        if m:
            types[m.group(1)] = ggml.canonical_type(m.group(3) or m.group(2))
    return types


def planned(info: ModelInfo, plan: dict[str, str]) -> dict[str, str]:
    return {t.name: plan.get(t.name, t.type) for t in info.tensors}


@pytest.mark.parametrize("kind", KINDS)
def test_dry_run_matches_plan(kind, fixture_model, llama_quantize, tmp_path):
    path = fixture_model(kind)
    info = load_model(path)
    plan = mixed_plan(info)
    rules = synthesize(info, plan)
    self_check(rules, info, plan, "Q4_K_M")
    rules_file = tmp_path / "tensor-types.txt"
    rules_file.write_text(format_rules(rules))
    log = run_quantize(llama_quantize, path, tmp_path / "out.gguf", rules_file, dry_run=True)
    assert dry_run_types(log) == planned(info, plan)
    assert not (tmp_path / "out.gguf").exists()


@pytest.mark.parametrize("kind", ["llama", "qwen35moe", "llama_tied", "llama_split", "glm4moe", "gptoss"])
def test_quantized_file_matches_plan_and_predicted_size(kind, fixture_model, llama_quantize, tmp_path):
    path = fixture_model(kind)
    info = load_model(path)
    plan = mixed_plan(info)
    rules = synthesize(info, plan)
    rules_file = tmp_path / "tensor-types.txt"
    rules_file.write_text(format_rules(rules))
    out = tmp_path / "out.gguf"
    run_quantize(llama_quantize, path, out, rules_file, dry_run=False)
    want = planned(info, plan)
    reader = gguf.GGUFReader(str(out))
    got = {t.name: (t.tensor_type.name, int(t.n_bytes)) for t in reader.tensors}
    assert got == {t.name: (want[t.name], ggml.tensor_bytes(want[t.name], t.shape)) for t in info.tensors}
    exact = predict_file_size(info, want, kv_bytes=output_kv_bytes(path))
    assert exact.slack == 0 and out.stat().st_size == exact.bytes
    # From the source header alone (a manifest): within the stated slack. Single file: the
    # header only grows by the keys llama-quantize adds (general.quantization_version: 44 B,
    # here one alignment step); split: the other shards' headers are not known.
    approx = predict_file_size(info, want)
    assert approx.bytes <= out.stat().st_size <= approx.bytes + approx.slack
    assert reader.fields["general.file_type"].parts[-1][0] == 15  # always the FTYPE (Q4_K_M)


def test_dry_run_real_fallbacks_agree_with_the_model(fixture_model, llama_quantize, tmp_path):
    """Rows of 800 and 1000: what the fallback table predicts is what the binary writes."""
    from recipec.llamacpp import Rule, simulate

    for kind in ("llama", "llama_ff1000"):
        path = fixture_model(kind)
        info = load_model(path)
        for typ in ("Q4_K", "Q5_K", "Q6_K", "IQ4_XS", "Q3_K", "Q8_0"):
            rules_file = tmp_path / f"{kind}-{typ}.txt"
            rules_file.write_text(f"ffn_down={typ}\n")
            log = run_quantize(llama_quantize, path, tmp_path / "o.gguf", rules_file, dry_run=True,
                               ftype="Q8_0")
            real = dry_run_types(log)
            sim = simulate([Rule("ffn_down", typ)], info, "Q8_0")
            for o in sim:
                if o.exact:
                    assert real[o.name] == o.type, (kind, typ, o)


@pytest.mark.parametrize("kind", ["llama", "llama_tied"])
@pytest.mark.parametrize("flags,rules", [
    (("--token-embedding-type", "q8_0"), ""),
    (("--output-tensor-type", "q5_0"), ""),
    (("--output-tensor-type", "q5_0"), "^token_embd\\.weight$=q6_K\n"),
    (("--token-embedding-type", "q4_0", "--output-tensor-type", "q5_1"), "output=q8_0 token_embd=q6_K\n"),
    (("--leave-output-tensor",), "weight=q8_0\n"),
    (("--pure", "--output-tensor-type", "q5_0"), "attn=q6_K\n"),
])
def test_embedding_and_output_precedence(kind, flags, rules, fixture_model, llama_quantize, tmp_path):
    from recipec.commands.simulate import parse_rules
    from recipec.llamacpp import simulate
    from recipec.source import SourceFile

    path = fixture_model(kind)
    info = load_model(path)
    rules_file = tmp_path / "r.txt"
    rules_file.write_text(rules or "nomatch=q8_0\n")
    real = dry_run_types(run_quantize(llama_quantize, path, tmp_path / "o.gguf", rules_file, dry_run=True,
                                      extra=flags))
    opts = {f: flags[i + 1] for i, f in enumerate(flags) if f.endswith("-type")}
    parsed, _, _ = parse_rules(SourceFile("r", rules or "nomatch=q8_0\n"))
    sim = simulate(parsed, info, "Q4_K_M",
                   token_embedding_type=ggml.canonical_type(opts.get("--token-embedding-type", "")),
                   output_tensor_type=ggml.canonical_type(opts.get("--output-tensor-type", "")),
                   leave_output="--leave-output-tensor" in flags, pure="--pure" in flags)
    for o in sim:
        if o.exact:
            assert real[o.name] == o.type, (o, flags, rules)
    assert any(o.name.startswith(("token_embd", "output.")) and o.exact for o in sim)


@pytest.fixture(scope="module")
def llama_rows_288(tmp_path_factory) -> Path:
    """The llama fixture with n_embd 288: token_embd/output rows no 256-block divides."""
    from recipec import fixtures

    arch, kv, tensors = fixtures.model_spec("llama")
    wider = {256: 288, 128: 144}
    spec = (arch, dict(kv, embedding_length=288, **{"rope.dimension_count": 72}),
            [(n, tuple(wider.get(d, d) for d in s)) for n, s in tensors])
    mp = pytest.MonkeyPatch()
    mp.setitem(fixtures._SPECS, "llama_e288", lambda: spec)
    try:
        return fixtures.write_model("llama_e288", tmp_path_factory.mktemp("e288"))
    finally:
        mp.undo()


@pytest.mark.parametrize("flags,fails", [(("--token-embedding-type", "q4_K"), True),
                                         (("--output-tensor-type", "q6_K"), True),
                                         (("--tensor-type", "token_embd=q4_K"), False)])
def test_embedding_overrides_skip_the_shape_fallback(flags, fails, llama_rows_288, llama_quantize, tmp_path):
    """--token-embedding-type / --output-tensor-type bypass the fallback: the run fails; a rule falls back."""
    from recipec.commands.simulate import parse_rules
    from recipec.llamacpp import simulate
    from recipec.source import SourceFile

    info = load_model(llama_rows_288)
    rules = parse_rules(SourceFile("r", " ".join(flags)))[0] if flags[0] == "--tensor-type" else []
    opts = {f: ggml.canonical_type(v) for f, v in zip(flags[::2], flags[1::2]) if f.endswith("-type") and f != "--tensor-type"}
    sim = {o.name: o for o in simulate(rules, info, "Q8_0", token_embedding_type=opts.get("--token-embedding-type"),
                                       output_tensor_type=opts.get("--output-tensor-type"))}
    target = "output.weight" if "--output-tensor-type" in flags else "token_embd.weight"
    proc = subprocess.run([str(llama_quantize), *flags, str(llama_rows_288), str(tmp_path / "o.gguf"), "Q8_0"],
                          capture_output=True, text=True, timeout=600)
    assert (proc.returncode != 0) == fails == (sim[target].error is not None)
    if not fails:
        assert sim[target].type == "Q5_0"
